"""The run filter language: ``flag:lr < 0.01 and scalar:loss <= 0.3``.

The language is Guild AI 0.9's ``--filter`` expressions, with conventional
precedence (``not`` binds tighter than ``and``, ``and`` tighter than ``or``):

* comparisons ``ref OP value`` with ``=`` ``==`` ``!=`` ``<>`` ``<`` ``<=`` ``>`` ``>=``;
* ``ref in [v1, v2, ...]`` and ``ref not in [...]``;
* ``ref is undefined`` and ``ref is not undefined``;
* ``ref contains "text"`` and ``ref not contains "text"`` (case-insensitive substring);
* ``not expr``, ``expr and expr``, ``expr or expr`` and parentheses.

Keywords are case-insensitive. A reference is a name, optionally prefixed with
``attr:``, ``flag:`` or ``scalar:``; without a prefix the caller resolves it as a
run attribute, then a flag, then a scalar (last value). Values are quoted
strings, numbers (``3``, ``-0.5``, ``1e-3``), ``true``/``false``, or bare words,
which are strings (``label = baseline``).

Comparison rules (they never raise):

* A reference the run lacks (``UNDEFINED``, or a ``None`` value) makes every
  test False except ``is undefined``; that includes ``!=``, ``not in`` and
  ``not contains``. So ``not x = 1`` is True for a run without ``x`` while
  ``x != 1`` is False: write ``x != 1 or x is undefined`` to include such runs.
* Numbers compare numerically (ints and floats mix freely).
* Otherwise the literal is converted to the value's type: ``"0.1"`` compares
  as a number with a numeric value, ``true`` as a boolean with a boolean value;
  a string value that reads as a number compares numerically with a number
  literal; any other string comparison is case-sensitive on the text as typed.
* When the types can't be reconciled, ``=`` is False, ``!=`` is True and the
  ordering operators are False.
* ``contains`` searches the value's text (each item of a list value).
* A datetime value (``started``, ``stopped``) compares with a time range as
  written for ``started`` (``2026-01-02``, ``today``, ``"3 days ago"``, quoted
  when it has spaces): ``=`` means inside the range, ``<`` before its start,
  ``>`` at or after its end, ``<=``/``>=`` the same including the range.

Evaluation is compiled once into nested closures, so testing a filter against
many runs costs a few function calls per clause.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..errors import SelectError
from .syntax import quote

__all__ = ["UNDEFINED", "Filter", "parse_filter", "mapping_lookup"]


class _Undefined:
    """The value of a reference a run lacks."""

    _instance: "_Undefined | None" = None

    def __new__(cls) -> "_Undefined":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return (_Undefined, ())


UNDEFINED: Any = _Undefined()

Lookup = Callable[[str | None, str], Any]

_PREFIXES = ("attr", "flag", "scalar")

# Characters that end a name (Guild's ID token stops at the same ones).
_STOP = r"\s,<>!=()\[\]"
_END = rf"(?![^{_STOP}])"
# Reserved words can't be bare names or bare values (quote them, or use a prefix).
_RESERVED = rf"(?!(?i:and|or|not|in|is|contains|undefined){_END})"

_GRAMMAR = rf"""
start: or_expr

?or_expr: and_expr (OR and_expr)*
?and_expr: not_expr (AND not_expr)*
?not_expr: NOT not_expr
         | atom
?atom: "(" or_expr ")"
     | test

test: ref OP value             -> cmp
    | ref IN list              -> in_list
    | ref NOT IN list          -> not_in_list
    | ref IS UNDEFINED         -> is_undefined
    | ref IS NOT UNDEFINED     -> is_defined
    | ref CONTAINS value       -> contains
    | ref NOT CONTAINS value   -> not_contains

ref: ID
list: "[" [value ("," value)*] "]"
value: STRING | NUMBER | TRUE | FALSE | WORD

OP: /==|!=|<>|<=|>=|=|<|>/
AND.3: /and{_END}/i
OR.3: /or{_END}/i
NOT.3: /not{_END}/i
IN.3: /in{_END}/i
IS.3: /is{_END}/i
UNDEFINED.3: /undefined{_END}/i
CONTAINS.3: /contains{_END}/i
TRUE.3: /true{_END}/i
FALSE.3: /false{_END}/i
NUMBER.2: /[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?{_END}/
STRING: /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/
ID: /{_RESERVED}[a-zA-Z_][^{_STOP}]*/
WORD: /{_RESERVED}[^{_STOP}"']+/

%ignore /\s+/
"""


@functools.lru_cache(maxsize=1)
def _parser():
    """lark's parser of the grammar: for the expressions :func:`_fast_parse` does not take
    (its error messages) — building it (and importing lark) costs ~100 ms."""
    import lark

    return lark.Lark(_GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=True)


# ---------------------------------------------------------------------------
# The fast parser: the same grammar by recursive descent, with the grammar's own terminals
# (read from _GRAMMAR), tried in the order lark's contextual lexer tries them in each place.
# It builds the tree lark builds (checked by tests/test_filter.py over a corpus) in well under a
# millisecond, with nothing to import; anything it does not expect goes to lark, which parses it
# or says precisely what is wrong.


class _Tok(str):
    """A token, as the compiler reads lark's: its text, ``type`` and 1-based ``column``."""

    __slots__ = ("type", "column")


class _Node:
    """A tree node, as the compiler reads lark's: ``data`` and ``children``."""

    __slots__ = ("data", "children")

    def __init__(self, data: str, children: list):
        self.data = data
        self.children = children


_TERMINALS = {
    m.group(1): re.compile(m.group(2), re.IGNORECASE if m.group(3) else 0)
    for m in re.finditer(r"^(\w+)(?:\.\d+)?: /(.*)/(i?)$", _GRAMMAR, re.MULTILINE)
}
_SPACE = re.compile(r"\s*")


class _Unexpected(Exception):
    pass


class _FastParser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def take(self, *names: str) -> _Tok | None:
        """The next token if it is one of ``names`` (terminal names, or "(" ")" "[" "]" ",")."""
        text = self.text
        pos = _SPACE.match(text, self.pos).end()
        for name in names:
            if len(name) == 1:
                if text.startswith(name, pos):
                    self.pos = pos + 1
                    return self._tok(name, name, pos)
                continue
            m = _TERMINALS[name].match(text, pos)
            if m is not None and m.end() > pos:
                self.pos = m.end()
                return self._tok(name, m.group(0), pos)
        return None

    def need(self, *names: str) -> _Tok:
        tok = self.take(*names)
        if tok is None:
            raise _Unexpected
        return tok

    def _tok(self, name: str, value: str, pos: int) -> _Tok:
        tok = _Tok(value)
        tok.type = name
        tok.column = pos - self.text.rfind("\n", 0, pos)
        return tok

    def parse(self) -> _Node:
        tree = self.or_expr()
        if _SPACE.match(self.text, self.pos).end() != len(self.text):
            raise _Unexpected
        return _Node("start", [tree])

    def or_expr(self) -> Any:
        return self._chain("or_expr", "OR", self.and_expr)

    def and_expr(self) -> Any:
        return self._chain("and_expr", "AND", self.not_expr)

    def _chain(self, data: str, op: str, item: Callable[[], Any]) -> Any:
        kids = [item()]
        while (tok := self.take(op)) is not None:
            kids += [tok, item()]
        return kids[0] if len(kids) == 1 else _Node(data, kids)

    def not_expr(self) -> Any:
        tok = self.take("NOT", "(")
        if tok is None:
            return self.test()
        if tok.type == "NOT":
            return _Node("not_expr", [tok, self.not_expr()])
        inner = self.or_expr()
        self.need(")")
        return inner

    def test(self) -> _Node:
        ref = _Node("ref", [self.need("ID")])
        tok = self.need("OP", "IN", "NOT", "IS", "CONTAINS")
        if tok.type == "OP":
            return _Node("cmp", [ref, tok, self.value()])
        if tok.type == "IN":
            return _Node("in_list", [ref, tok, self.list()])
        if tok.type == "CONTAINS":
            return _Node("contains", [ref, tok, self.value()])
        if tok.type == "NOT":
            nxt = self.need("IN", "CONTAINS")
            if nxt.type == "IN":
                return _Node("not_in_list", [ref, tok, nxt, self.list()])
            return _Node("not_contains", [ref, tok, nxt, self.value()])
        nxt = self.need("NOT", "UNDEFINED")
        if nxt.type == "UNDEFINED":
            return _Node("is_undefined", [ref, tok, nxt])
        return _Node("is_defined", [ref, tok, nxt, self.need("UNDEFINED")])

    def value(self) -> _Node:
        return _Node("value", [self.need("TRUE", "FALSE", "NUMBER", "STRING", "WORD")])

    def list(self) -> _Node:
        self.need("[")
        if self.take("]") is not None:
            return _Node("list", [None])
        values = [self.value()]
        while self.take(",") is not None:
            values.append(self.value())
        self.need("]")
        return _Node("list", values)


def _parse(text: str) -> Any:
    """The parse tree of ``text``: by the fast parser, else by lark (which raises lark's
    errors for text that is no filter)."""
    try:
        return _FastParser(text).parse()
    except (_Unexpected, RecursionError):
        return _parser().parse(text)


# ---------------------------------------------------------------------------
# Literals and comparison


_INT_RE = re.compile(r"^\s*[+-]?\d+\s*$")
_NUM_RE = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$|^\s*[+-]?(?:inf|infinity|nan)\s*$", re.I)


def _to_number(text: str) -> int | float | None:
    """The number ``text`` spells, or None."""
    try:
        if _INT_RE.match(text):
            return int(text)
        if _NUM_RE.match(text):
            return float(text)
    except ValueError:  # e.g. more digits than int() accepts
        return None
    return None


class _Lit:
    """A literal from the expression, pre-converted to each type it may be compared as."""

    __slots__ = ("kind", "value", "text", "num", "bool", "_span")

    def __init__(self, kind: str, value: Any, text: str):
        self.kind = kind  # "str", "num" or "bool"
        self.value = value
        self.text = text  # for strings: the string itself; otherwise the source text
        if kind == "num":
            self.num = value
        elif kind == "str":
            self.num = _to_number(value)
        else:
            self.num = None
        if kind == "bool":
            self.bool = value
        elif kind == "str" and value.lower() in ("true", "false"):
            self.bool = value.lower() == "true"
        else:
            self.bool = None
        self._span: Any = None

    def span(self) -> tuple[datetime | None, datetime | None] | None:
        """The literal read as a time range (``2026-01-02``, ``today``), or None."""
        if self._span is None:
            self._span = False
            if self.kind == "str":
                from .timerange import parse_started

                try:
                    self._span = parse_started(self.text)
                except SelectError:
                    pass
        return self._span or None

    def __repr__(self) -> str:
        return f"_Lit({self.kind}, {self.value!r})"


def _plain(v: Any) -> Any:
    """Unwrap numpy scalars and the like into Python values."""
    item = getattr(v, "item", None)
    if item is not None and not isinstance(v, (str, bytes, list, tuple, dict)):
        try:
            return item()
        except (TypeError, ValueError):
            return v
    return v


def _pair(v: Any, lit: _Lit) -> tuple[Any, Any] | None:
    """Return ``(value, literal)`` converted to one comparable type, or None."""
    t = type(v)
    if t is bool:
        return None if lit.bool is None else (v, lit.bool)
    if t is int or t is float:
        return None if lit.num is None else (v, lit.num)
    if isinstance(v, str):
        if lit.kind == "num":
            n = _to_number(v)
            return None if n is None else (n, lit.num)
        return (v, lit.text)
    v2 = _plain(v)
    if v2 is not v:
        return _pair(v2, lit)
    if isinstance(v, bool):
        return None if lit.bool is None else (bool(v), lit.bool)
    if isinstance(v, (int, float)):
        return None if lit.num is None else (v, lit.num)
    return None


def _compare_time(v: datetime, op: str, lit: _Lit) -> bool:
    """Compare a datetime with a literal naming a time range: ``=`` means inside it."""
    span = lit.span()
    if span is None:
        return op == "ne"
    if v.tzinfo is not None:
        v = v.astimezone().replace(tzinfo=None)
    start, end = span
    after_start = start is None or v >= start
    before_end = end is None or v < end
    if op == "eq":
        return after_start and before_end
    if op == "ne":
        return not (after_start and before_end)
    if op == "lt":
        return start is not None and v < start
    if op == "le":
        return before_end
    if op == "gt":
        return end is not None and v >= end
    return after_start  # ge


def _compare(v: Any, op: str, lit: _Lit) -> bool:
    """Compare a defined value with a literal following the module's rules."""
    if isinstance(v, datetime):
        return _compare_time(v, op, lit)
    p = _pair(v, lit)
    if p is None:
        return op == "ne"
    try:
        return _OPS[op](p[0], p[1])
    except TypeError:
        return op == "ne"


def _equals(v: Any, lit: _Lit) -> bool:
    if isinstance(v, datetime):
        return _compare_time(v, "eq", lit)
    p = _pair(v, lit)
    return p is not None and p[0] == p[1]


def _contains(v: Any, needle: str) -> bool:
    if isinstance(v, str):
        return needle in v.lower()
    if isinstance(v, (list, tuple, set, frozenset)):
        return any(_contains(x, needle) for x in v if x is not None)
    return needle in str(_plain(v)).lower()


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}

_OP_NAMES = {
    "=": "eq", "==": "eq", "!=": "ne", "<>": "ne",
    "<": "lt", "<=": "le", ">": "gt", ">=": "ge",
}


# ---------------------------------------------------------------------------
# Compilation of the parse tree into closures

Test = Callable[[Lookup], bool]


def _compile_cmp(kind: str | None, name: str, op: str, lit: _Lit) -> Test:
    pyop = _OPS[op]
    undefined = UNDEFINED
    n = lit.num
    if lit.kind == "num" or (n is not None and op not in ("eq", "ne")):
        # Fast path: numeric values against a numeric literal.
        def test(lookup: Lookup) -> bool:
            v = lookup(kind, name)
            t = type(v)
            if t is float or t is int:
                return pyop(v, n)
            if v is undefined or v is None:
                return False
            return _compare(v, op, lit)

    elif lit.kind == "str" and n is None and lit.bool is None:
        s = lit.text

        def test(lookup: Lookup) -> bool:
            v = lookup(kind, name)
            if type(v) is str:
                return pyop(v, s)
            if v is undefined or v is None:
                return False
            return _compare(v, op, lit)

    else:

        def test(lookup: Lookup) -> bool:
            v = lookup(kind, name)
            if v is undefined or v is None:
                return False
            return _compare(v, op, lit)

    return test


def _compile_in(kind: str | None, name: str, lits: list[_Lit], negate: bool) -> Test:
    undefined = UNDEFINED

    def test(lookup: Lookup) -> bool:
        v = lookup(kind, name)
        if v is undefined or v is None:
            return False
        found = False
        for lit in lits:
            if _equals(v, lit):
                found = True
                break
        return found is not negate

    return test


def _compile_contains(kind: str | None, name: str, lit: _Lit, negate: bool) -> Test:
    undefined = UNDEFINED
    needle = lit.text.lower()

    def test(lookup: Lookup) -> bool:
        v = lookup(kind, name)
        if v is undefined or v is None:
            return False
        return _contains(v, needle) is not negate

    return test


def _compile_defined(kind: str | None, name: str, want_defined: bool) -> Test:
    undefined = UNDEFINED

    def test(lookup: Lookup) -> bool:
        v = lookup(kind, name)
        return (v is not undefined and v is not None) is want_defined

    return test


def _all(tests: list[Test]) -> Test:
    if len(tests) == 2:
        a, b = tests
        return lambda lookup: a(lookup) and b(lookup)
    if len(tests) == 3:
        a, b, c = tests
        return lambda lookup: a(lookup) and b(lookup) and c(lookup)
    return lambda lookup: all(t(lookup) for t in tests)


def _any(tests: list[Test]) -> Test:
    if len(tests) == 2:
        a, b = tests
        return lambda lookup: a(lookup) or b(lookup)
    if len(tests) == 3:
        a, b, c = tests
        return lambda lookup: a(lookup) or b(lookup) or c(lookup)
    return lambda lookup: any(t(lookup) for t in tests)


def _unquote(s: str) -> str:
    return re.sub(r"\\([\"'\\])", r"\1", s[1:-1])


class _Compiler:
    """Walks the parse tree once, collecting refs and building closures."""

    def __init__(self, text: str):
        self.text = text
        self.refs: list[tuple[str | None, str]] = []

    def compile(self, tree) -> Test:
        return self._node(tree.children[0])

    def _node(self, node) -> Test:
        data = node.data
        kids = [c for c in node.children if not _is_token(c)]
        if data == "or_expr":
            return _any([self._node(k) for k in kids])
        if data == "and_expr":
            return _all([self._node(k) for k in kids])
        if data == "not_expr":
            inner = self._node(kids[0])
            return lambda lookup: not inner(lookup)
        kind, name = self._ref(kids[0])
        if data == "cmp":
            op = _OP_NAMES[str(node.children[1])]
            return _compile_cmp(kind, name, op, self._value(kids[1]))
        if data in ("in_list", "not_in_list"):
            lits = [self._value(v) for v in kids[1].children if v is not None]
            return _compile_in(kind, name, lits, data == "not_in_list")
        if data in ("contains", "not_contains"):
            return _compile_contains(kind, name, self._value(kids[1]), data == "not_contains")
        if data in ("is_undefined", "is_defined"):
            return _compile_defined(kind, name, data == "is_defined")
        raise AssertionError(f"unexpected node {data}")  # pragma: no cover

    def _ref(self, node) -> tuple[str | None, str]:
        tok = node.children[0]
        raw = str(tok)
        kind: str | None = None
        name = raw
        prefix, sep, rest = raw.partition(":")
        if sep and prefix.lower() in _PREFIXES:
            kind = prefix.lower()
            name = rest
            if not name:
                raise SelectError(
                    f"invalid filter {quote(self.text)}: missing a name after "
                    f"'{prefix}:' at column {tok.column}"
                )
        ref = (kind, name)
        if ref not in self.refs:
            self.refs.append(ref)
        return ref

    def _value(self, node) -> _Lit:
        tok = node.children[0]
        t, s = tok.type, str(tok)
        if t == "STRING":
            return _Lit("str", _unquote(s), _unquote(s))
        if t == "NUMBER":
            n = _to_number(s)
            return _Lit("str", s, s) if n is None else _Lit("num", n, s)
        if t == "TRUE":
            return _Lit("bool", True, s)
        if t == "FALSE":
            return _Lit("bool", False, s)
        return _Lit("str", s, s)


def _is_token(x) -> bool:
    return x is None or isinstance(x, str)  # lark.Token subclasses str


# ---------------------------------------------------------------------------
# Error messages

_EXPECTED = [
    ({"ID"}, "a name (attribute, flag or scalar)"),
    ({"STRING", "NUMBER", "TRUE", "FALSE", "WORD"}, "a value"),
    ({"OP"}, "an operator (=, !=, <, <=, >, >=)"),
    ({"IN"}, "'in'"),
    ({"IS"}, "'is'"),
    ({"CONTAINS"}, "'contains'"),
    ({"UNDEFINED"}, "'undefined'"),
    ({"NOT"}, "'not'"),
    ({"AND"}, "'and'"),
    ({"OR"}, "'or'"),
    ({"LPAR"}, "'('"),
    ({"RPAR"}, "')'"),
    ({"LSQB"}, "'['"),
    ({"RSQB"}, "']'"),
    ({"COMMA"}, "','"),
    ({"$END"}, "the end"),
]


def _syntax_error(text: str, exc) -> SelectError:
    from .syntax import syntax_error

    return syntax_error("filter", text, exc, _EXPECTED)


# ---------------------------------------------------------------------------
# Public API


class Filter:
    """A compiled filter expression.

    ``refs`` lists the ``(kind, name)`` references in the order they appear,
    each once; ``kind`` is ``"attr"``, ``"flag"``, ``"scalar"`` or None.
    """

    __slots__ = ("text", "refs", "_test")

    def __init__(self, text: str, refs: list[tuple[str | None, str]], test: Test):
        self.text = text
        self.refs = refs
        self._test = test

    def matches(self, lookup: Lookup) -> bool:
        """True if the run seen through ``lookup(kind, name)`` passes the filter.

        ``lookup`` returns the value or ``UNDEFINED`` (None counts as undefined
        too). For ``kind`` None it resolves an attribute, then a flag, then a
        scalar's last value.
        """
        try:
            return bool(self._test(lookup))
        except RecursionError:  # pragma: no cover - only absurdly nested filters
            raise SelectError(f"invalid filter {quote(self.text)}: it is nested too deeply") from None

    __call__ = matches

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"


def parse_filter(text: str) -> Filter:
    """Parse and compile a filter expression.

    Raises :class:`~runyard.errors.SelectError` with one line saying where and
    what is wrong when ``text`` is not a valid expression.
    """
    if not isinstance(text, str):
        raise SelectError(f"invalid filter {text!r}: expected text")
    if not text.strip():
        raise SelectError("invalid filter '': the expression is empty")
    try:
        tree = _parse(text)
    except Exception as exc:
        import lark

        if isinstance(exc, lark.exceptions.UnexpectedInput):
            raise _syntax_error(text, exc) from None
        raise
    compiler = _Compiler(text)
    try:
        test = compiler.compile(tree)
    except RecursionError:
        raise SelectError(f"invalid filter {quote(text)}: it is nested too deeply") from None
    return Filter(text, compiler.refs, test)


def mapping_lookup(
    attrs: Mapping[str, Any] | None = None,
    flags: Mapping[str, Any] | None = None,
    scalars: Mapping[str, Any] | None = None,
) -> Lookup:
    """A ``lookup`` over plain mappings, resolving unprefixed names as Guild does.

    ``scalars`` maps a tag to its last value. An unprefixed name is looked up
    in ``attrs``, then ``flags``, then ``scalars``.
    """
    a = attrs or {}
    f = flags or {}
    s = scalars or {}
    by_kind = {"attr": a, "flag": f, "scalar": s}
    undefined = UNDEFINED

    def lookup(kind: str | None, name: str) -> Any:
        if kind is None:
            for m in (a, f, s):
                v = m.get(name)
                if v is not None:
                    return v
            return undefined
        return by_kind[kind].get(name, undefined)

    return lookup


# ---------------------------------------------------------------------------
# Search boxes: an expression, or plain words

_EXPRESSION_HINT = re.compile(r"[<>=!~\[\](),]|\b(?:attr|flag|scalar):", re.I)


class WordSearch:
    """Plain words: each must match a run's id prefix, label, operation or a tag (ignoring case)."""

    __slots__ = ("text", "words")

    def __init__(self, text: str):
        self.text = text
        self.words = [w.lower() for w in text.split()]

    def matches(self, rec: Mapping) -> bool:
        """True when every word is found in the record (a run dict as the index gives it)."""
        rid = str(rec.get("id") or "").lower()
        hay = " ".join([str(rec.get("label") or ""), str(rec.get("operation") or ""),
                        *[str(t) for t in rec.get("tags") or ()]]).lower()
        return all(rid.startswith(w) or w in hay for w in self.words)

    __call__ = matches


def parse_search(text: str) -> "Filter | WordSearch":
    """What a search box means: a filter expression when ``text`` parses as one, else plain words
    (see :class:`WordSearch`). Text that looks like an expression (an operator, brackets, a
    ``flag:`` prefix) but doesn't parse raises the expression's syntax error."""
    try:
        return parse_filter(text)
    except SelectError:
        if not isinstance(text, str) or not text.strip() or _EXPRESSION_HINT.search(text):
            raise
        return WordSearch(text)
