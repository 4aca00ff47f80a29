"""R scripts: flags from top-level literal assignments, rewritten in the run's copy.

A flag is a top-level ``name <- literal`` or ``name = literal`` whose literal is
a number (``.75``, ``1e5``, ``0x10``), an integer (``10L``), a string
(``"a"``, ``'a'``, ``r"(a)"``), ``TRUE``/``FALSE`` or a complex number
(``1+2i``), optionally signed. The first such assignment of a name wins.

Scripts are read by a small tokenizer of R's lexical grammar written in Python,
so inspecting a script (``--help-op``, validation) never starts R. The run
itself is ``Rscript r_driver.R SCRIPT ECHO`` in the run directory (see
``r_driver.R`` and ``docs/r.md``).
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FlagError, UsageError
from ..flags import FlagDef, type_of
from ..flags.annotations import annotation_above, front_matter
from ..flags import dest as flags_dest
from . import Script

SUFFIXES = (".R",)  # the language registry (runyard.lang) finds this module by this line
DRIVER = Path(__file__).with_name("r_driver.R")

R_MISSING = (
    "R is not installed: Rscript was not found on PATH. Install R (Debian/Ubuntu: "
    "apt-get install r-base-core; other systems: https://www.r-project.org/) and try again."
)

INT_MAX = 2**31 - 1  # R's .Machine$integer.max

# R type of a literal -> flag type (complex numbers travel as strings, "1+2i").
FLAG_TYPE = {"double": "number", "integer": "int", "logical": "boolean",
             "character": "string", "complex": "string"}


# ---------------------------------------------------------------------------
# Tokenizer


@dataclass
class Token:
    """One lexical token of R source: its kind, text and offsets in the text."""

    kind: str  # num, str, name, kw, op, open, close, comma, semi, newline, comment, other
    text: str
    start: int
    end: int


KEYWORDS = frozenset(
    "if else repeat while function for in next break TRUE FALSE NULL Inf NaN NA "
    "NA_integer_ NA_real_ NA_character_".split()
)
# Operators, longest first within each leading character.
_OPS = sorted(
    "<<- ->> <- -> <= >= == != && || |> ::: :: ** + - * / ^ < > ! & | ~ ? : = $ @ \\".split(),
    key=len,
    reverse=True,
)
_HEX = r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
_DEC = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUM_RE = re.compile(rf"(?:{_HEX}|{_DEC})[Li]?")
_WS = " \t\f\r\v\u00a0\ufeff"
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


class RSyntaxError(UsageError):
    """The R script cannot be read (an unterminated string, unbalanced brackets)."""


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset)


def tokenize(text: str, source: str = "<script>") -> list[Token]:
    """Split R source into tokens (whitespace dropped; comments and newlines kept)."""
    toks: list[Token] = []
    i, n = 0, len(text)

    def fail(msg: str, at: int) -> RSyntaxError:
        return RSyntaxError(f"{source}:{_line_of(text, at) + 1}: cannot read R script: {msg}")

    while i < n:
        c = text[i]
        if c in _WS:
            i += 1
            continue
        if c == "\n":
            toks.append(Token("newline", c, i, i + 1))
            i += 1
            continue
        if c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            toks.append(Token("comment", text[i:j], i, j))
            i = j
            continue
        # raw strings: r"(...)", R'[...]', r"---{...}---"
        if c in "rR" and i + 1 < n and text[i + 1] in "\"'" and not _ident_before(toks, i):
            m = re.compile(r"(-*)([(\[{])").match(text, i + 2)
            if not m:
                raise fail("malformed raw string (expected r\"(...)\")", i)
            close = _CLOSERS[m.group(2)] + m.group(1) + text[i + 1]
            j = text.find(close, m.end())
            if j < 0:
                raise fail("unterminated raw string", i)
            toks.append(Token("str", text[i : j + len(close)], i, j + len(close)))
            i = j + len(close)
            continue
        if c in "\"'`":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise fail("unterminated " + ("backtick name" if c == "`" else "string"), i)
            toks.append(Token("name" if c == "`" else "str", text[i : j + 1], i, j + 1))
            i = j + 1
            continue
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            m = _NUM_RE.match(text, i)
            j = m.end() if m else i + 1
            toks.append(Token("num", text[i:j], i, j))
            i = j
            continue
        if c.isalpha() or c in "._":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "._"):
                j += 1
            word = text[i:j]
            toks.append(Token("kw" if word in KEYWORDS else "name", word, i, j))
            i = j
            continue
        if c in "([{":
            toks.append(Token("open", c, i, i + 1))
            i += 1
            continue
        if c in ")]}":
            toks.append(Token("close", c, i, i + 1))
            i += 1
            continue
        if c == ",":
            toks.append(Token("comma", c, i, i + 1))
            i += 1
            continue
        if c == ";":
            toks.append(Token("semi", c, i, i + 1))
            i += 1
            continue
        if c == "%":
            j = i + 1
            while j < n and text[j] not in "%\n":
                j += 1
            if j >= n or text[j] != "%":
                raise fail("unterminated %...% operator", i)
            toks.append(Token("op", text[i : j + 1], i, j + 1))
            i = j + 1
            continue
        for op in _OPS:
            if text.startswith(op, i):
                toks.append(Token("op", op, i, i + len(op)))
                i += len(op)
                break
        else:  # R would reject it; keep going so inspection stays lenient
            toks.append(Token("other", c, i, i + 1))
            i += 1
    return toks


def _ident_before(toks: list[Token], i: int) -> bool:
    """True if the character at ``i`` continues a name (``xr"..."`` is not a raw string)."""
    return bool(toks) and toks[-1].end == i and toks[-1].kind in ("name", "kw", "num")


_HEADER_KW = ("if", "for", "while", "function")


def statements(toks: list[Token], text: str = "", source: str = "<script>") -> list[list[Token]]:
    """Group tokens into top-level expressions (comments and newlines dropped).

    An expression ends at ``;`` or at a newline outside brackets once it is
    complete: not after a binary or unary operator, ``else``/``repeat``, or the
    ``(...)`` header of ``if``/``for``/``while``/``function`` awaiting a body.
    """
    out: list[list[Token]] = []
    cur: list[Token] = []
    stack: list[tuple[Token, bool]] = []  # open bracket, is an if/for/while/function header
    pending = False  # the current expression needs more tokens
    prev: Token | None = None

    def fail(msg: str, tok: Token) -> RSyntaxError:
        return RSyntaxError(f"{source}:{_line_of(text, tok.start) + 1}: cannot read R script: {msg}")

    for t in toks:
        if t.kind == "comment":
            continue
        if t.kind == "newline":
            if not stack and cur and not pending:
                out.append(cur)
                cur = []
            continue
        if t.kind == "semi" and not stack:
            if cur:
                out.append(cur)
            cur, pending, prev = [], False, None
            continue
        cur.append(t)
        if t.kind == "open":
            header = t.text == "(" and prev is not None and (
                (prev.kind == "kw" and prev.text in _HEADER_KW) or (prev.kind == "op" and prev.text == "\\")
            )
            stack.append((t, header))
        elif t.kind == "close":
            if not stack or _CLOSERS[stack[-1][0].text] != t.text:
                raise fail(f"unexpected '{t.text}'", t)
            _, header = stack.pop()
            if not stack:
                pending = header
        if not stack and t.kind not in ("open", "close"):
            pending = t.kind == "op" or (t.kind == "kw" and t.text in _HEADER_KW + ("else", "repeat"))
        prev = t
    if stack:
        raise fail(f"'{stack[-1][0].text}' is never closed", stack[-1][0])
    if cur:
        out.append(cur)
    return out


# ---------------------------------------------------------------------------
# Literals


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "a": "\a", "b": "\b", "f": "\f",
            "v": "\v", "\\": "\\", '"': '"', "'": "'", "`": "`", " ": " ", "\n": "\n"}


def string_value(tok_text: str) -> str:
    """The value of an R string literal (quoted with escapes, or raw)."""
    if tok_text[0] in "rR":
        m = re.match(r"[rR](['\"])(-*)[(\[{]", tok_text)
        assert m
        return tok_text[m.end() : len(tok_text) - len(m.group(2)) - 2]
    body, out, i = tok_text[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1] if i + 1 < len(body) else ""
        if e in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1 :])
            out.append(chr(int(m.group(0), 8)))
            i += 1 + len(m.group(0))
        elif e == "x":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2 :])
            out.append(chr(int(m.group(0), 16)) if m else "x")
            i += 2 + (len(m.group(0)) if m else 0)
        elif e in "uU":
            m = re.match(r"\{([0-9a-fA-F]{1,8})\}|([0-9a-fA-F]{1,%d})" % (4 if e == "u" else 8),
                         body[i + 2 :])
            out.append(chr(int(m.group(1) or m.group(2), 16)) if m else e)
            i += 2 + (len(m.group(0)) if m else 0)
        else:
            out.append(_ESCAPES.get(e, e))
            i += 2
    return "".join(out)


def number_value(text: str) -> tuple[Any, str]:
    """The value and R type (double, integer, complex) of a numeric literal.

    Doubles written without a decimal point or exponent (``10``) are returned as
    Python ints so they read as written; their type stays ``double``.
    """
    if text == "Inf":
        return math.inf, "double"
    if text == "NaN":
        return math.nan, "double"
    suffix = text[-1] if text[-1] in "Li" else ""
    body = text[:-1] if suffix else text
    if body[:2].lower() == "0x":
        if any(ch in body for ch in ".pP"):
            v: Any = float.fromhex(body)
        else:
            v = int(body, 16)
    elif any(ch in body for ch in ".eE"):
        v = float(body)
        if suffix == "L" and v.is_integer() and abs(v) <= INT_MAX:
            v = int(v)
    else:
        v = int(body)
    if suffix == "i":
        return complex(0, v), "complex"
    if suffix == "L" and isinstance(v, int) and abs(v) <= INT_MAX:
        return v, "integer"
    return v, "double"  # 1.5L and too-large integers are doubles in R too


@dataclass
class Literal:
    """The right-hand side of a flag assignment: ``[signs] value`` or a complex sum."""

    name: str
    name_tok: Token
    rtype: str  # double, integer, complex, logical, character
    value: Any  # Python value (complex for rtype complex)
    tokens: list[Token]  # every right-hand-side token
    signs: list[Token]  # sign tokens before the (real) number
    number: Token  # the (real part's, or only) literal token
    imag_op: Token | None = None  # complex: the + or - between real and imaginary part
    imag_signs: list[Token] | None = None
    imag: Token | None = None

    @property
    def flag_default(self) -> Any:
        """The default as a flag value (complex numbers as ``"1+2i"`` strings)."""
        return format_complex(self.value) if self.rtype == "complex" else self.value


def _sign(signs: list[Token]) -> int:
    return -1 if sum(t.text == "-" for t in signs) % 2 else 1


def _take_signs(rhs: list[Token], i: int) -> int:
    while i < len(rhs) and rhs[i].kind == "op" and rhs[i].text in "+-":
        i += 1
    return i


def _number(tok: Token) -> tuple[Any, str] | None:
    if tok.kind == "num":
        return number_value(tok.text)
    if tok.kind == "kw" and tok.text == "Inf":
        return math.inf, "double"
    return None


def literal_of(stmt: list[Token]) -> Literal | None:
    """The flag literal of a top-level statement ``NAME <- literal``, if it is one."""
    if len(stmt) < 3 or stmt[0].kind != "name" or stmt[1].kind != "op" or stmt[1].text not in ("<-", "="):
        return None
    name = stmt[0].text
    if name.startswith("`"):
        name = string_value('"' + name[1:-1] + '"') if "\\" in name else name[1:-1]
    rhs = stmt[2:]
    i = _take_signs(rhs, 0)
    signs = rhs[:i]
    if i >= len(rhs):
        return None
    tok = rhs[i]
    rest = rhs[i + 1 :]
    if not signs and not rest:
        if tok.kind == "str":
            return Literal(name, stmt[0], "character", string_value(tok.text), rhs, [], tok)
        if tok.kind == "kw" and tok.text in ("TRUE", "FALSE"):
            return Literal(name, stmt[0], "logical", tok.text == "TRUE", rhs, [], tok)
    num = _number(tok)
    if num is None:
        return None
    val, rtype = num
    if not rest:
        if isinstance(val, float) and math.isnan(val):
            return None
        return Literal(name, stmt[0], rtype, _sign(signs) * val, rhs, signs, tok)
    # complex: [signs] REAL (+|-) [signs] IMAG
    if rtype == "complex" or rest[0].kind != "op" or rest[0].text not in "+-":
        return None
    j = _take_signs(rest, 1)
    if j != len(rest) - 1 or rest[j].kind != "num":
        return None
    ival, itype = number_value(rest[j].text)
    if itype != "complex":
        return None
    value = complex(_sign(signs) * val, 0) + _sign(rest[: j]) * ival
    return Literal(name, stmt[0], "complex", value, rhs, signs, tok, rest[0], rest[1:j], rest[j])


def find_literals(text: str, source: str = "<script>") -> tuple[list[Literal], list[list[Token]]]:
    """First literal assignment of each name at top level, in order, and all statements."""
    stmts = statements(tokenize(text, source), text, source)
    seen: dict[str, Literal] = {}
    for stmt in stmts:
        lit = literal_of(stmt)
        if lit and lit.name not in seen:
            seen[lit.name] = lit
    return list(seen.values()), stmts


# ---------------------------------------------------------------------------
# Formatting values as R literals


def format_double(v: float | int) -> str:
    """A non-negative or negative number as an R double literal (``2``, ``0.1``, ``1e-05``)."""
    if isinstance(v, int):
        return str(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def format_complex(z: complex) -> str:
    """R's form of a complex number: ``1+2i``, ``0-1.5i``."""
    im = z.imag
    return f"{format_double(z.real)}{'-' if im < 0 else '+'}{format_double(abs(im))}i"


_CPLX_NUM = r"(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|NaN)"


def parse_complex(value: Any) -> complex | None:
    """A complex number from a flag value (``"1+2i"``, ``"-3i"``, ``2``), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, complex)):
        return complex(value)
    if not isinstance(value, str):
        return None
    s = re.sub(r"\s+", "", value).replace("j", "i")
    m = re.fullmatch(rf"([+-]?{_CPLX_NUM})(?:([+-])({_CPLX_NUM})?i)?", s)
    if m:
        re_part = float(m.group(1))
        if m.group(2) is None:
            return complex(re_part, 0)
        im = float(m.group(3)) if m.group(3) else 1.0
        return complex(re_part, -im if m.group(2) == "-" else im)
    m = re.fullmatch(rf"([+-]?)({_CPLX_NUM})?i", s)
    if m:
        im = float(m.group(2)) if m.group(2) else 1.0
        return complex(0, -im if m.group(1) == "-" else im)
    return None


def format_string(s: str) -> str:
    """An R double-quoted string literal for ``s`` (as R's ``deparse`` writes it)."""
    if "\0" in s:
        raise FlagError("an R string cannot hold a NUL character")
    out = []
    named = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\a": "\\a",
             "\b": "\\b", "\f": "\\f", "\v": "\\v"}
    for ch in s:
        if ch in named:
            out.append(named[ch])
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append("\\%03o" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def format_value(value: Any, rtype: str = "double") -> str:
    """An R literal for a flag value; ``rtype`` is the type of the literal it replaces.

    Whole numbers replacing an integer literal keep the ``L``; other numbers are
    doubles (an integer outside R's integer range too).
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if rtype == "integer" and (isinstance(value, int) or value.is_integer()) and abs(value) <= INT_MAX:
            return f"{int(value)}L"
        return format_double(value)
    if isinstance(value, complex):
        return format_complex(value)
    return format_string(str(value))


def _same(lit: Literal, value: Any) -> bool:
    """Whether ``value`` equals the literal's value (then the copy is left alone)."""
    old = lit.value
    if lit.rtype == "complex":
        new = parse_complex(value)
        return new is not None and new == old
    if isinstance(old, bool) or isinstance(value, bool):
        return isinstance(old, bool) and isinstance(value, bool) and old == value
    if isinstance(old, (int, float)):
        if not isinstance(value, (int, float)):
            return False
        if isinstance(old, float) and isinstance(value, float) and math.isnan(old) and math.isnan(value):
            return True
        return old == value
    return type(old) is type(value) and old == value


# ---------------------------------------------------------------------------
# Rewriting


Edit = tuple[int, int, str]  # (start offset, end offset, replacement)


def _signed_edits(signs: list[Token], number: Token, v: float | int, text_of_abs: str) -> list[Edit]:
    """Write number ``v`` over ``[signs] number``: the first sign carries v's sign, others become ``+``."""
    negative = v < 0
    if not signs:
        return [(number.start, number.end, ("-" if negative else "") + text_of_abs)]
    edits = [(signs[0].start, signs[0].end, "-" if negative else "+")]
    edits += [(s.start, s.end, "+") for s in signs[1:]]
    edits.append((number.start, number.end, text_of_abs))
    return edits


def _edits_for(lit: Literal, value: Any, text: str) -> list[Edit]:
    first, last = lit.tokens[0], lit.tokens[-1]
    if lit.rtype == "complex":
        z = parse_complex(value)
        if z is None:
            raise FlagError(f"invalid value for flag '{lit.name}': {value!r} is not a complex number (e.g. 1+2i)")
        if "\n" not in text[first.start : last.end]:
            return [(first.start, last.end, format_complex(z))]
        if lit.imag is None:  # a pure imaginary literal with its signs on other lines
            return [(s.start, s.end, "") for s in lit.signs] + [
                (lit.number.start, lit.number.end, format_complex(z))]
        assert lit.imag_op is not None and lit.imag_signs is not None
        return _signed_edits(lit.signs, lit.number, z.real, format_double(abs(z.real))) + _signed_edits(
            [lit.imag_op] + lit.imag_signs, lit.imag, z.imag, format_double(abs(z.imag)) + "i")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not (
        isinstance(value, float) and math.isnan(value)
    ):
        return _signed_edits(lit.signs, lit.number, value, format_value(abs(value), lit.rtype))
    return [(s.start, s.end, "") for s in lit.signs] + [
        (lit.number.start, lit.number.end, format_value(value, lit.rtype))]


def _apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply edits right to left, keeping the number of lines.

    A replaced token that spans lines (a multi-line string) becomes one line:
    the rest of its last line moves up after it and the lines it covered stay
    as empty lines (R's own rewrite does the same).
    """
    for start, end, new in sorted(edits, key=lambda e: e[0], reverse=True):
        span = text[start:end]
        if "\n" not in span:
            text = text[:start] + new + text[end:]
            continue
        eol = text.find("\n", end)
        eol = len(text) if eol < 0 else eol
        rest = text[end:eol]
        cr = "\r" if rest.endswith("\r") else ""
        newlines = "".join(re.findall(r"\r?\n", span))
        text = text[:start] + new + rest[: len(rest) - len(cr)] + newlines + cr + text[eol:]
    return text


def rewrite(text: str, values: dict[str, Any], source: str = "<script>") -> str:
    """``text`` with the literals of the named flags replaced by ``values``.

    Only the literal tokens (and their signs) change; values equal to the
    current literal and names with no literal assignment are left alone; the
    number of lines never changes.
    """
    lits, _ = find_literals(text, source)
    edits: list[Edit] = []
    for lit in lits:
        if lit.name in values and not _same(lit, values[lit.name]):
            edits += _edits_for(lit, values[lit.name], text)
    return _apply_edits(text, edits) if edits else text


# ---------------------------------------------------------------------------
# `!expr` in `#|` annotations: R code, evaluated in R


_EXPR_LINE = re.compile(r"^(?P<head>\s*#\|.*?(?::|-)\s+)!expr\s+(?P<code>\S.*?)\s*$")
_EXPR_MARK = "@@runyard-expr@@"
_expr_cache: dict[tuple[str, ...], list[tuple[bool, str]]] = {}

# Evaluates each code (given as R string literals) and prints its value as YAML flow text.
_EXPR_PROGRAM = r"""
num <- function(x) {
  if (is.nan(x)) return(".nan")
  if (!is.finite(x)) return(if (x > 0) ".inf" else "-.inf")
  if (x == round(x) && abs(x) < 1e15) return(sprintf("%.0f", x))
  for (d in 15:17) { s <- sprintf(paste0("%.", d, "g"), x); if (as.numeric(s) == x) break }
  if (!grepl(".", s, fixed = TRUE)) s <- sub("e", ".0e", s, fixed = TRUE)
  s
}
str1 <- function(x) encodeString(enc2utf8(x), quote = '"')
one <- function(x) {
  if (is.na(x)) "null" else if (is.logical(x)) (if (x) "true" else "false")
  else if (is.integer(x)) as.character(x) else if (is.numeric(x)) num(x) else str1(as.character(x))
}
enc <- function(v) {
  if (is.null(v)) return("null")
  if (is.factor(v)) v <- as.character(v)
  if (is.list(v)) items <- vapply(v, enc, "")
  else if (is.atomic(v) && !is.complex(v) && !is.raw(v)) items <- vapply(seq_along(v), function(i) one(v[[i]]), "")
  else stop("its value (", class(v)[1L], ") cannot be written as YAML")
  nm <- names(v)
  if (!is.null(nm) && all(nzchar(nm))) return(paste0("{", paste0(vapply(nm, str1, ""), ": ", items, collapse = ", "), "}"))
  if (length(v) == 1L && !is.list(v)) return(items)
  paste0("[", paste(items, collapse = ", "), "]")
}
for (code in CODES) {
  res <- tryCatch(paste0("ok ", enc(eval(parse(text = code), envir = new.env()))),
                  error = function(e) paste0("error ", gsub("[\r\n]+", " ", conditionMessage(e))))
  cat("@@runyard-expr@@", res, "\n", sep = "")
}
"""


def _eval_r(codes: tuple[str, ...], source: str) -> list[tuple[bool, str]]:
    """``(ok, YAML text or error message)`` for each R code, from one R process."""
    if codes in _expr_cache:
        return _expr_cache[codes]
    import subprocess
    import tempfile

    program = "CODES <- c(" + ", ".join(format_string(c) for c in codes) + ")\n" + _EXPR_PROGRAM
    with tempfile.NamedTemporaryFile("w", suffix=".R", encoding="utf-8", delete=False) as f:
        f.write(program)
    try:
        p = subprocess.run([require_r(), "--vanilla", f.name], capture_output=True, text=True,
                           encoding="utf-8", errors="replace", timeout=120, stdin=subprocess.DEVNULL)
    finally:
        Path(f.name).unlink(missing_ok=True)
    out = [line[len(_EXPR_MARK):] for line in p.stdout.splitlines() if line.startswith(_EXPR_MARK)]
    if p.returncode != 0 or len(out) != len(codes):
        last = (p.stderr.strip().splitlines() or ["R failed"])[-1]
        raise UsageError(f"{source}: cannot evaluate '!expr' annotations in R: {last}")
    res = [(line.startswith("ok "), line.split(" ", 1)[1] if " " in line else "") for line in out]
    _expr_cache[codes] = res
    return res


def with_exprs(lines: list[str], source: str = "<script>") -> list[str]:
    """``lines`` with each ``#| key: !expr R-CODE`` replaced by the value of R-CODE (as YAML).

    The code is the rest of the line (a quoted YAML string is unquoted first). R starts only
    when some ``#|`` line uses ``!expr``, once for all of them.
    """
    found = [(i, m) for i, line in enumerate(lines) if "!expr" in line and (m := _EXPR_LINE.match(line))]
    if not found:
        return lines
    codes = []
    for i, m in found:
        code = m.group("code")
        if code[0] in "'\"":
            import yaml

            try:
                code = str(yaml.safe_load(code))
            except yaml.YAMLError:
                pass
        codes.append(code)
    results = _eval_r(tuple(codes), source)
    out = list(lines)
    for (i, m), code, (ok, text) in zip(found, codes, results):
        if not ok:
            raise UsageError(f"{source}:{i + 1}: '!expr {code}' failed in R: {text}")
        out[i] = m.group("head") + text
    return out


# ---------------------------------------------------------------------------
# The language contract


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="surrogateescape")
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None


def _write(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))


def _flags_from_r(text: str, source: str, lines: list[str] | None = None) -> dict[str, FlagDef]:
    lits, _ = find_literals(text, source)
    if lines is None:
        lines = with_exprs(text.split("\n"), source)
    flags: dict[str, FlagDef] = {}
    for lit in lits:
        lineno = _line_of(text, lit.name_tok.start)
        ann = annotation_above(lines, lineno, source)
        fd = FlagDef(name=lit.name, default=lit.flag_default, type=FLAG_TYPE[lit.rtype])
        if ann:
            fd.annotate(ann)
        flags[lit.name] = fd
    return flags


def _explicit_flags(spec: Any, source: str) -> dict[str, FlagDef]:
    if not isinstance(spec, dict):
        raise UsageError(f"{source}: front matter 'flags' must be a mapping of flag names")
    flags: dict[str, FlagDef] = {}
    for name, d in spec.items():
        if isinstance(d, dict):
            fd = FlagDef.from_value(str(name), d.get("default"))
            fd.annotate(d)
            if fd.type is None:
                fd.type = type_of(fd.default)
        else:
            fd = FlagDef.from_value(str(name), d)
        flags[str(name)] = fd
    return flags


def _dest(script_path: Path, project_dir: Path, options: dict, source: str) -> str:
    """Normalised flags-dest: ``globals`` or a project-relative file."""
    raw = options.get("flags-dest", options.get("flags_dest"))
    if raw in (None, "", "globals"):
        return "globals"
    if not isinstance(raw, str):
        raise UsageError(f"{source}: flags-dest must be a file path such as ./flags.yml")
    rel = flags_dest.clean(raw)
    target = (project_dir / rel).resolve()
    if not target.is_relative_to(project_dir.resolve()):
        raise UsageError(f"{source}: flags-dest '{raw}' is outside the project directory")
    if target == script_path.resolve():
        return "globals"
    suffix = target.suffix.lower()
    if suffix != ".r" and not flags_dest.is_config(rel):
        raise UsageError(
            f"{source}: unsupported flags-dest '{raw}' for an R script (use the script, an .R file, "
            ".yml, .yaml or .json)")
    if not target.is_file():
        raise UsageError(f"{source}: flags-dest file not found: {rel}")
    return target.relative_to(project_dir.resolve()).as_posix()


def inspect(path: Path) -> Script:
    """Flags and front matter of the R script at ``path`` (absolute). Never starts R."""
    path = Path(path)
    text = _read(path)
    script = Script(path=path, language="r")
    source = path.name
    lines = with_exprs(text.split("\n"), source)
    options = front_matter(lines, source)
    script.options = options
    script.flags_dest = _dest(path, script.project_dir, options, source)
    if "flags" in options:
        script.flags = _explicit_flags(options["flags"], source)
    elif script.flags_dest == "globals":
        script.flags = _flags_from_r(text, source, lines)
    else:
        dest_path = script.project_dir / script.flags_dest
        if dest_path.suffix.lower() == ".r":
            script.flags = _flags_from_r(_read(dest_path), script.flags_dest)
        else:
            script.flags = {k: FlagDef.from_value(k, v) for k, v in flags_dest.read_flags(dest_path).items()}
    return script


def check_values(script: Script, values: dict[str, Any]) -> None:
    """Raise :class:`FlagError` for values the script's literals cannot take.

    Complex flags need complex numbers (``1+2i``). The launcher may call this
    before making a run directory; :func:`apply_flags` checks again.
    """
    dest = _dest_file(script, script.project_dir)
    if dest is None or dest.suffix.lower() != ".r" or not dest.is_file():
        return
    lits, _ = find_literals(_read(dest), dest.name)
    for lit in lits:
        if lit.name in values and lit.rtype == "complex" and parse_complex(values[lit.name]) is None:
            raise FlagError(
                f"invalid value for flag '{lit.name}': {values[lit.name]!r} is not a complex number (e.g. 1+2i)")
        if lit.name in values and isinstance(values[lit.name], str) and "\0" in values[lit.name]:
            raise FlagError(f"invalid value for flag '{lit.name}': an R string cannot hold a NUL character")


def _dest_file(script: Script, base: Path) -> Path | None:
    if script.flags_dest == "globals":
        return base / script.relpath
    if script.flags_dest in ("args",):
        return None
    return base / flags_dest.clean(script.flags_dest)


def apply_flags(script: Script, run_dir: Path, values: dict[str, Any]) -> None:
    """Write ``values`` into the run directory's copy of the script or flags-dest file."""
    dest = _dest_file(script, Path(run_dir))
    if dest is None:
        return
    if dest.suffix.lower() == ".r":
        if not dest.is_file():
            raise UsageError(f"cannot write flags: {dest} is not in the run directory")
        text = _read(dest)
        new = rewrite(text, values, dest.name)
        if new != text:
            _write(dest, new)
        return
    current = flags_dest.read_flags(dest) if dest.exists() else {}
    if dest.exists() and all(k in current and current[k] == v and type(current[k]) is type(v)
                             for k, v in values.items()):
        return
    flags_dest.write_flags(dest, values)


def random_seed() -> int:
    """A run's random seed in R's integer range, so ``set.seed(random_seed)`` reproduces the run."""
    import secrets

    return secrets.randbelow(INT_MAX + 1)


def require_r() -> str:
    """The path of ``Rscript``, or :class:`UsageError` saying how to install R."""
    found = shutil.which("Rscript")
    if not found:
        raise UsageError(R_MISSING)
    return found


ready = require_r  # the language contract's readiness check (runyard.lang.Language)


def _echo(options: dict) -> bool:
    echo = options.get("echo", True)
    if isinstance(echo, str):
        return echo.strip().lower() not in ("false", "no", "off", "0", "")
    return bool(echo)


def command(script: Script, run_dir: Path, values: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """``Rscript r_driver.R SCRIPT ECHO``, run with cwd = ``run_dir`` (``Rscript`` from PATH, or
    ``--rscript`` / ``#| rscript:``: see :mod:`runyard.lang.runtime`)."""
    from .runtime import rscript as _rscript

    found = _rscript(script)
    rscript = found.path if found else require_r()
    echo = "TRUE" if _echo(script.options) else "FALSE"
    return [rscript, "--no-save", "--no-restore", str(DRIVER), script.relpath, echo], {}
