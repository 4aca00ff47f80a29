"""Scalars from a run's printed output, by Guild AI 0.9's rules.

Each output line, right-stripped (and without the control characters below TAB, which Guild
drops), is matched against a list of regular expressions. In a pattern, ``\\key``, ``\\value``
and ``\\step`` stand for a key (``[^ \\t]+``), a number (``1``, ``-0.5``, ``1e-3``, ``nan``,
``inf``) and a step (``[0-9]+``). What a match gives:

- named groups ``_key`` and ``_val``: one scalar; other named groups: one scalar per group,
  named after the group;
- one unnamed group: the value, keyed by the pattern's map key (``loss: 'loss=(\\value)'``);
- two unnamed groups: ``(key, value)``.

All the matches of one line are gathered first (a key seen twice keeps its last value); the key
``step`` then sets the step of that line's scalars and of later ones, and is not itself a scalar.
Until a ``step`` is seen, a whole, non-negative ``epoch`` value sets the step the same way (and
is recorded as a scalar too): a script that prints ``epoch: N`` gets its scalars at step N.
Once a ``step`` has been seen, ``epoch`` is only a scalar. Before either the step is 0. With
the default patterns, keys that are flag names (``ignore_keys``) are not scalars.

The default patterns match ``loss: 0.1`` (scalar ``loss``), ``step: 5`` (step 5) and
``loss: 0.1 (step 5)`` (both). With them, runyard also reads log lines holding two or more
``key: value`` / ``key=value`` pairs (Keras's ``- loss: 0.5467 - accuracy: 0.8094``,
``epoch: 3 loss: 0.25``; see :data:`_PAIRS` and docs/scalars.md), which Guild does not.

Differences from Guild: ``\\value`` also reads ``nan``, ``inf``, ``1E+5`` and ``+1`` (Guild's is
``[0-9.e-]+``); an invalid pattern is an error rather than a warning; a ``step`` that is not a
finite number is ignored; ``epoch`` sets the step until a ``step`` is seen (Guild records
those scalars at step 0); the pairs above.

Speed: :meth:`OutputScalars.feed` takes big chunks of complete lines. A chunk (bytes, from the
supervisor) whose lines are all ``KEY: VALUE`` with keys in a short cycle — a print-heavy loop —
is split into columns with bytes methods and written a column at a time, with no Python code
per line (:meth:`OutputScalars._feed_columns`). Otherwise, with the default patterns, the lines
between those ending with ")" or holding pairs are matched by one ``findall`` (at most one
scalar per line), and those lines one by one. Custom patterns each ``finditer`` over the whole
chunk; the matches are grouped by line, and a line some match ran into from another line is
redone exactly (Guild matches line by line).
"""

from __future__ import annotations

import math
import re
import time
from typing import Any, Iterable

from ..errors import UsageError
from ..safedata import nested_repeat

__all__ = ["DEFAULT_PATTERNS", "OutputScalars", "test_patterns"]

# Guild's two default patterns, in Guild's own notation.
DEFAULT_PATTERNS: list = [
    r"\key: +\value\s+\((?:step\s+)?(?P<step>\step)\)$",
    r"^(\key):\s+(\value)(?:\s+\(.*\))?$",
]

# Alias expansions. Guild's \value is [0-9.e-]+; this one also reads nan, inf, 1E+5 and +1.
# \key excludes "\n" so that chunk-wide matching never runs across lines (a line has no "\n").
_ALIASES = {
    "key": r"[^ \t\n]+",
    "value": r"(?:[-+]?(?:[0-9.][0-9.eE\-]*(?:[eE][-+]?[0-9]+)?|[nN][aA][nN]|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?))",
    "step": r"[0-9]+",
}
_ALIAS_RE = re.compile(r"(?<!\\)((?:\\\\)*)\\(key|value|step)")

_WS = r"[^\S\n]"  # whitespace but not "\n": within one line, the same as "\s"
# When no line of a chunk ends with ")", only this form of the second default can match (and
# the first cannot): at most one (key, value) per line, found for the whole chunk by findall.
# Anchored at both ends, a plain class of the characters of numbers, nan and inf(inity) selects,
# once float() has had its say, exactly the values \value does, and the regex runs faster.
_FAST_DEFAULT = re.compile(
    r"^(" + _ALIASES["key"] + r"):" + _WS + r"+([-+0-9.eEnNaAiIfFtTyY]+)$", re.MULTILINE
)

# The usual line ending with ")": "loss: 0.1 (step 5)" or "loss: 0.1 (5)". When this matches a
# line, the first default gives the step and the second the same key and value (proof: the key
# is the first word less its colon and the value the second word, for both patterns).
_FAST_PAREN = re.compile(
    r"^([^ \t\n]+): +(" + _ALIASES["value"] + r")" + _WS + r"+\((?:step" + _WS + r"+)?([0-9]+)\)$",
    re.MULTILINE,
)

_STEP_TAIL = re.compile(r"\((?:step" + _WS + r"+)?[0-9]+\)$", re.MULTILINE)

_TRAILING_WS = re.compile(r"[^\S\n]+$", re.MULTILINE)
_LOW_CONTROL = re.compile(r"[\x00-\x08]+")
# Characters that need the slow clean-up: the control characters Guild drops, and the
# whitespace str.rstrip() strips besides space, tab and CR (which plain `in` tests catch).
_UNUSUAL = re.compile(
    "[\x00-\x08\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
# Log lines with several "key: value" / "key=value" pairs (an addition to Guild's defaults,
# used with them): "epoch: 3 loss: 0.25 acc: 0.9", Keras's "1500/1500 - 4s - loss: 0.5467 -
# accuracy: 0.8094", PyTorch's "Train Epoch: 1 [0/60000 (0%)]\tLoss: 2.30", "epoch=3 loss=0.25".
# A pair's key starts with a letter (after a space or one of ,;|([{ or the line's start) and
# is followed by ":" and a space or tab, or by "=" ("cuda:0", "a==1" are no pairs); its value
# is a number that ends the line or is followed by a separator (, ; | ) ] }, " - ") or by the
# next pair — never by a word ("Warning: 3 files were skipped" is prose), a unit ("1.2s",
# "50%") or more of a number ("1/10", "12:30", "2.1.0"). A line gives pairs only if it holds
# two or more, and does not start with "#", ">" or "{" (comments, echoed code, configuration);
# "Epoch N/M" (Keras), "-- Epoch N" (scikit-learn) and "Epoch N:" (Lightning) starting a line
# count as an epoch pair on their own. "Step"/"Epoch" in any case are "step"/"epoch" (they set the step).
_PAIR_KEY = r"[A-Za-z_][\w.\-/]*"
_EPOCH = r"(?:Epoch|epoch|EPOCH)"
_PAIR_VALUE = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?(?i:nan|inf)"
_PAIRS = re.compile(
    r"(?:^[ \t]*(?=--|" + _EPOCH + r"[ \t]+[0-9]+[/:])(?:--[ \t]*)?" + _EPOCH  # 1: epoch marker
    + r"[ \t]+([0-9]+)(?:/[0-9]+)?(?=[ \t]*$|:)"
    r"|(?<![^\s,;|(\[{])(" + _PAIR_KEY + r")(?::[ \t]+|[ \t]*=(?!=)[ \t]*)"  # 2: key
    r"(" + _PAIR_VALUE + r")"  # 3: value
    r"(?=[ \t]*$|[,;|)\]}]|[ \t]+(?:-[ \t]|[|,;(\[]|" + _PAIR_KEY + r"(?::[ \t]|[ \t]*=(?!=)))))",
    re.MULTILINE,
)
_SPECIAL_KEYS = {"step": "step", "epoch": "epoch"}
# Lines starting with these give no pairs: comments and echoed code ("#| {min: .3, max: 3}",
# R's "> x <- 1"), configuration ("{lr: 0.1, epochs: 3}").
_NOT_LOG = ("#", ">", "{")


# The lines that may hold pairs: two or more ":" / "=", or an epoch marker (the cheap pre-check).
_PAIR_LINE = re.compile(r"^(?:[^\n:=]*[:=]){2}[^\n]*|^[ \t]*(?:--[ \t]*)?" + _EPOCH + r"[ \t]+[0-9][^\n]*", re.MULTILINE)


def _may_hold_pairs(text: str | bytes) -> bool:
    """The cheap pre-check (memchr-fast tests first): a pair needs ":" or "=", an epoch marker
    "/" or "-" or ":" and "poch" / "POCH"."""
    if isinstance(text, bytes):
        return (b":" in text or b"=" in text
                or ((b"/" in text or b"-" in text) and (b"poch" in text or b"POCH" in text)))
    return ":" in text or "=" in text or (("/" in text or "-" in text) and ("poch" in text or "POCH" in text))


def _line_pairs(text: str) -> dict[int, list[tuple[str, str]]]:
    """The lines of ``text`` that hold two or more pairs (or an epoch marker): line start ->
    [(key, value text)], in order."""
    found: dict[int, list[tuple[str, str]]] = {}
    for line in _PAIR_LINE.finditer(text):
        ls, le = line.span()
        if text[ls:le].lstrip(" \t")[:1] in _NOT_LOG:
            continue
        pairs = []
        marked = False
        for m in _PAIRS.finditer(text, ls, le):
            epoch, key, value = m.groups()
            if epoch is not None:
                marked = True
                pairs.append(("epoch", epoch))
            else:
                pairs.append((_SPECIAL_KEYS.get(key.lower(), key), value))
        if len(pairs) > 1 or marked:
            found[ls] = pairs
    return found


# The column path (OutputScalars._feed_columns): line ends read as spaces, the bytes a number
# can hold (as _FAST_DEFAULT's class), and a key it takes as it is ("loss:", with its colon).
_NEWLINE_AS_SPACE = bytes.maketrans(b"\n", b" ")
_NUMBER_BYTES = b"-+0123456789.eEnNaAiIfFtTyY"
_PLAIN_KEY = re.compile(rb"[\x21-\x7e]+:")
_DIGIT = re.compile("[0-9]")
_DIGIT_B = re.compile(b"[0-9]")
_DISABLED = ("no", "false", "off", "none")
_ENABLED = ("yes", "true", "on")


def _expand(pattern: str) -> str:
    """``pattern`` with the ``\\key``, ``\\value`` and ``\\step`` aliases expanded."""
    return _ALIAS_RE.sub(lambda m: m.group(1) + _ALIASES[m.group(2)], pattern)


# The defaults as matched over a chunk of many lines, where "\s" must not run into the next line.
# The first may start its key only where a word starts: the leftmost match always does (a key
# starting inside a word could take in the rest of the word), and it saves trying every position.
_DEFAULT_CHUNK = [_expand(p).replace(r"\s", _WS) for p in DEFAULT_PATTERNS]
_DEFAULT_CHUNK[0] = r"(?<![^ \t\n])" + _DEFAULT_CHUNK[0]


def _spec(patterns: Any) -> list[tuple[str | None, str]]:
    """The ``(map key or None, pattern)`` list of a front-matter ``output-scalars`` value."""
    if isinstance(patterns, str):
        items: list = [patterns]
    elif isinstance(patterns, dict):
        items = [patterns]
    elif isinstance(patterns, (list, tuple)):
        items = list(patterns)
    else:
        raise UsageError(
            f"invalid output-scalars value {patterns!r}: expected a list of patterns, a map of "
            "key: pattern, or no"
        )
    spec: list[tuple[str | None, str]] = []
    for item in items:
        if isinstance(item, str):
            spec.append((None, item))
        elif isinstance(item, dict):
            # Guild applies a map's patterns in key order.
            for key in sorted(item, key=str):
                val = item[key]
                if not isinstance(val, str):
                    raise UsageError(
                        f"invalid output-scalars pattern for {key}: {val!r} is not a regular expression"
                    )
                spec.append((str(key), val))
        else:
            raise UsageError(
                f"invalid output-scalars pattern {item!r}: expected a regular expression or a map "
                "of key: pattern"
            )
    return spec


def _compile(pattern: str, source: str | None = None) -> re.Pattern:
    """``pattern`` compiled, its aliases expanded. A user's pattern (``source`` None) that could
    backtrack without bound on an output line is refused (:func:`runyard.safedata.nested_repeat`):
    every line of the run's output goes through it."""
    expanded = _expand(pattern)
    try:
        compiled = re.compile(expanded, re.MULTILINE)
    except re.error as e:
        raise UsageError(f"invalid output-scalars pattern {source or pattern!r}: {e}") from None
    if source is None and nested_repeat(expanded):
        raise UsageError(f"invalid output-scalars pattern {pattern!r}: it repeats a repeated group (it could "
                         "take forever to match a line); write it without the nested repeat")
    return compiled


class _Pattern:
    __slots__ = ("key", "source", "rx", "named", "ngroups", "simple")

    def __init__(self, key: str | None, source: str, rx: re.Pattern):
        self.key = key
        self.source = source
        self.rx = rx
        self.named = bool(rx.groupindex)
        self.ngroups = rx.groups
        # No named groups and a key for the value: (key, value) groups, or one value group.
        self.simple = not self.named and (self.ngroups == 2 or (self.ngroups == 1 and key is not None))


def _put(vals: dict, key: Any, s: Any) -> None:
    if key is None or s is None:
        return
    try:
        vals[key] = float(s)
    except ValueError:
        pass


def _apply(m: re.Match, p: _Pattern, vals: dict) -> None:
    """Add the scalars of match ``m`` of pattern ``p`` to ``vals`` (Guild's rules)."""
    if p.named:
        gd = m.groupdict()
        if "_key" in gd and "_val" in gd:
            _put(vals, gd["_key"], gd["_val"])
        else:
            for k, s in gd.items():
                _put(vals, k, s)
    elif p.ngroups == 1:
        _put(vals, p.key, m.group(1))
    elif p.ngroups == 2:
        _put(vals, m.group(1), m.group(2))


class OutputScalars:
    """Turn printed output into scalars written to an :class:`~runyard.store.tfevents.EventWriter`.

    ``patterns`` is the front-matter ``output-scalars`` value: None (or True) for Guild's
    defaults; False or ``'no'`` to disable; a list of regex strings and/or ``{key: regex}`` maps;
    or one ``{key: regex}`` map. ``ignore_keys`` (the flag names) are ignored with the default
    patterns only. An invalid pattern raises :class:`~runyard.errors.UsageError` naming it.

    ``writer`` needs only ``add_scalars(items, wall_time)`` and ``flush()``.
    """

    def __init__(self, writer: Any, patterns: list | dict | str | bool | None = None,
                 ignore_keys: Iterable[str] = ()):
        self._writer = writer
        self._step = 0
        self._stepped = False  # a "step" key was seen: "epoch" no longer sets the step
        self._defaults = False
        if isinstance(patterns, str) and patterns.strip().lower() in _DISABLED + _ENABLED:
            patterns = patterns.strip().lower() in _ENABLED
        if patterns is None or patterns is True:
            self._defaults = True
            self._patterns = [
                _Pattern(None, src, _compile(chunk_src, src))
                for src, chunk_src in zip(DEFAULT_PATTERNS, _DEFAULT_CHUNK)
            ]
        elif patterns is False:
            self._patterns = []
        else:
            self._patterns = [_Pattern(key, src, _compile(src)) for key, src in _spec(patterns)]
        self._ignore = frozenset(ignore_keys) if self._defaults else frozenset()
        self.recorded = 0  # scalars written so far
        self.saw_numbers = False  # the output held a digit (for no_scalars_hint)

    @property
    def enabled(self) -> bool:
        """False when output scalars are disabled (``output-scalars: no`` or an empty list)."""
        return bool(self._patterns)

    @property
    def patterns(self) -> list[tuple[str | None, str]]:
        """The ``(map key, pattern)`` pairs in the order they are applied (aliases unexpanded)."""
        return [(p.key, p.source) for p in self._patterns]

    @property
    def step(self) -> int:
        """The current step: the last ``step`` value seen (0 before any)."""
        return self._step

    def feed(self, text: str | bytes) -> None:
        """Record the scalars of ``text``: one or more complete lines (a last line may lack "\\n").

        Bytes (what the supervisor reads) are first tried as columns (:meth:`_feed_columns`),
        then decoded as UTF-8 for the general path."""
        if not self._patterns or not text:
            return
        if not self.saw_numbers:
            self.saw_numbers = (_DIGIT_B if isinstance(text, bytes) else _DIGIT).search(text) is not None
        if isinstance(text, bytes):
            if self._defaults and self._feed_columns(text):
                return
            text = text.decode("utf-8", "replace")
        # Guild drops the bytes below TAB from a line, then right-strips it.
        if _UNUSUAL.search(text) is not None:
            text = _TRAILING_WS.sub("", _LOW_CONTROL.sub("", text))
        elif "\r" in text or " \n" in text or "\t\n" in text or text[-1] in " \t":
            text = _TRAILING_WS.sub("", text)
        wall_time = time.time()
        if self._defaults:
            items = self._feed_defaults(text)
        else:
            items = self._feed_lines(text)
        if items:
            self._writer.add_scalars(items, wall_time)
            self._writer.flush()
            self.recorded += len(items)

    def _feed_columns(self, data: bytes) -> bool:
        """The default patterns over ``data`` when its lines are all ``KEY: VALUE`` and their
        keys repeat in a short cycle (``step: N`` / ``loss: X`` ...), the shape of a print-heavy
        loop: with no Python code per line — split into columns by bytes methods, each column
        converted by one ``map`` and written by :meth:`EventWriter.add_column`. True when done
        (or when ``data`` cannot hold a scalar: no ":"); False leaves ``data`` to the general path,
        which gives the same scalars line by line.
        """
        if b":" not in data:  # the cheap pre-check: every default pattern needs a ":", pairs ":" or "="
            return not _may_hold_pairs(data)
        if not data.endswith(b"\n"):
            return False
        # Each line "KEY: VALUE" is two words: split at spaces and line ends, the words must be
        # keys (ending with ":") and values (number characters only) by turns, as many as lines.
        parts = data.translate(_NEWLINE_AS_SPACE).split(b" ")
        lines = len(parts) // 2
        keys, vals = parts[0:-1:2], parts[1::2]
        if len(parts) != 2 * lines + 1 or (b"\n".join(keys) + b"\n").count(b":\n") != lines:
            return False  # some line is not KEY ": " VALUE
        if b"".join(vals).translate(None, _NUMBER_BYTES):
            return False  # a value with characters no number has (or another word)
        for period in range(1, min(8, lines) + 1):
            if keys[period:] == keys[:-period]:
                break
        else:
            return False
        unit = keys[:period]
        if not all(_PLAIN_KEY.fullmatch(k) for k in unit):
            return False
        names = [k[:-1].decode("ascii") for k in unit]
        setter = None  # the position whose value sets the step: "step", or "epoch" until a step
        if "step" in names:
            if names.count("step") > 1 or ("epoch" in names and not self._stepped and "epoch" not in self._ignore):
                return False
            setter = names.index("step")
        elif "epoch" in names and "epoch" not in self._ignore and not self._stepped:
            if names.count("epoch") > 1:
                return False
            setter = names.index("epoch")
        try:
            new_steps = list(map(int, vals[setter::period])) if setter is not None else []
            columns = [(j, name, list(map(float, vals[j::period]))) for j, name in enumerate(names)
                       if name != "step" and name not in self._ignore]
        except ValueError:
            return False  # "1.0" as a step, "." as a value ...: the general path's rules
        if setter is not None and names[setter] == "epoch" and new_steps and min(new_steps) < 0:
            return False
        wall_time = time.time()
        prev = self._step
        for j, name, values in columns:
            if setter is None:
                steps = [prev] * len(values)
            elif j >= setter:
                steps = new_steps[:len(values)]
            else:
                steps = ([prev] + new_steps)[:len(values)]
            self._add_column(name, values, steps, wall_time)
        if new_steps:
            self._step = new_steps[-1]
            self._stepped = self._stepped or names[setter] == "step"
        if columns:
            self._writer.flush()
        return True

    def _add_column(self, tag: str, values: list[float], steps: list[int], wall_time: float) -> None:
        self.recorded += len(values)
        add = getattr(self._writer, "add_column", None)
        if add is not None:
            add(tag, values, steps, wall_time)
        else:
            self._writer.add_scalars(list(zip([tag] * len(values), values, steps)), wall_time)

    def _feed_defaults(self, text: str) -> list[tuple[str, float, int]]:
        """The default patterns (and the pairs of :data:`_PAIRS`) over a chunk.

        Only a line ending with ")" can match the first default or the "(...)" form of the
        second, and only lines with "=" or ":" hold pairs; those lines are taken one by one, and
        the runs of lines between them in one ``findall`` each.
        """
        items: list[tuple[str, float, int]] = []
        pairs = _line_pairs(text) if _may_hold_pairs(text) else {}
        special = dict.fromkeys(pairs)
        find = text.find
        i = find(")\n")
        while i >= 0:
            special[text.rfind("\n", 0, i) + 1] = None
            i = find(")\n", i + 2)
        if text.endswith(")"):
            special[text.rfind("\n") + 1] = None
        pos = 0
        n = len(text)
        for ls in sorted(special):
            if ls > pos:
                self._plain_lines(text, pos, ls, items)
            le = find("\n", ls)
            le = n if le < 0 else le
            if ls in pairs:
                self._pair_line(text, ls, le, pairs[ls], items)
            else:
                self._paren_line(text, ls, le, items)
            pos = le + 1
        if pos < n:
            self._plain_lines(text, pos, n, items)
        return items

    def _plain_lines(self, text: str, start: int, end: int, items: list) -> None:
        """Default patterns over ``text[start:end]``, whole lines none of which ends with ")"."""
        append = items.append
        step = self._step
        ignore = self._ignore
        for key, sval in _FAST_DEFAULT.findall(text, start, end):
            if key == "step":
                self._stepped = True
                try:
                    step = int(sval)
                except ValueError:
                    try:
                        f = float(sval)
                    except ValueError:
                        continue
                    if math.isfinite(f):
                        step = int(f)
                continue
            if key in ignore:
                continue
            try:
                v = float(sval)
            except ValueError:
                continue
            if key == "epoch" and not self._stepped and v.is_integer() and v >= 0:
                step = int(v)
            append((key, v, step))
        self._step = step

    def _pair_line(self, text: str, ls: int, le: int, pairs: list[tuple[str, str]], items: list) -> None:
        """The line ``text[ls:le]``, which holds pairs: Guild's defaults first, then each pair
        whose key they did not give."""
        vals: dict = {}
        first, second = self._patterns
        k = text.rfind("(", ls, le)
        if k >= 0 and _STEP_TAIL.match(text, k, le) is not None:
            for m in first.rx.finditer(text, ls, le):
                _apply(m, first, vals)
        m = second.rx.match(text, ls, le)
        if m is not None:
            _apply(m, second, vals)
        for key, sval in pairs:
            if key not in vals:
                _put(vals, key, sval)
        self._record_line(vals, items)

    def _paren_line(self, text: str, ls: int, le: int, items: list) -> None:
        """Default patterns over the line ``text[ls:le]``, which ends with ")"."""
        m = _FAST_PAREN.match(text, ls, le)
        if m is not None:
            key, sval, sstep = m.groups()
            try:
                v = float(sval)
            except ValueError:
                v = None
            if key == "step":  # the second pattern's value wins over the first's step
                self._stepped = True
                if v is None:
                    self._step = int(sstep)
                elif math.isfinite(v):
                    self._step = int(v)
                return
            self._step = int(sstep)
            self._stepped = True
            if v is not None and key not in self._ignore:
                items.append((key, v, self._step))
            return
        vals: dict = {}
        first, second = self._patterns
        # The first default can only match if the line ends with "(N)" or "(step N)", at its
        # last "("; the second is anchored at the line start.
        k = text.rfind("(", ls, le)
        if k >= 0 and _STEP_TAIL.match(text, k, le) is not None:
            for m in first.rx.finditer(text, ls, le):
                _apply(m, first, vals)
        m = second.rx.match(text, ls, le)
        if m is not None:
            _apply(m, second, vals)
        self._record_line(vals, items)

    def _record_line(self, vals: dict, items: list) -> None:
        """A line's scalars ``vals``: its ``step`` (or ``epoch``) sets the step, the rest are items."""
        s = vals.pop("step", None)
        if s is not None:
            self._stepped = True
            if math.isfinite(s):
                self._step = int(s)
        else:
            self._step = self._epoch_step(vals, self._step)
        for key in sorted(vals, key=str):
            if key not in self._ignore:
                items.append((key, vals[key], self._step))

    def _feed_lines(self, text: str) -> list[tuple[str, float, int]]:
        """Any patterns over a chunk, line by line (only lines with a match are visited)."""
        patterns = self._patterns
        rfind = text.rfind
        find = text.find
        found: dict[int, list] = {}  # line start -> [(pattern, match)], matches within the line
        dirty: set[int] = set()  # lines some match ran into from another line: redo exactly
        for p in patterns:
            for m in p.rx.finditer(text):
                s, e = m.span()
                ls = rfind("\n", 0, s) + 1
                if find("\n", s, e) < 0:
                    lst = found.get(ls)
                    if lst is None:
                        found[ls] = [(p, m)]
                    else:
                        lst.append((p, m))
                    continue
                j = ls
                while True:
                    dirty.add(j)
                    nl = find("\n", j, e)
                    if nl < 0:
                        break
                    j = nl + 1
        if not found and not dirty:
            return []
        items: list[tuple[str, float, int]] = []
        append = items.append
        step = self._step
        ignore = self._ignore
        n = len(text)
        for ls in sorted(found.keys() | dirty) if dirty else sorted(found):
            if ls not in dirty:
                lst = found[ls]
                if len(lst) == 1 and lst[0][0].simple:
                    # The common case: one match of a one- or two-group pattern.
                    p, m = lst[0]
                    if p.ngroups == 1:
                        k = p.key
                        sv = m.group(1)
                    else:
                        k, sv = m.group(1, 2)
                    if k is None or sv is None:
                        continue
                    try:
                        v = float(sv)
                    except ValueError:
                        continue
                    if k == "step":
                        self._stepped = True
                        if math.isfinite(v):
                            step = int(v)
                    elif k not in ignore:
                        if k == "epoch" and not self._stepped and v.is_integer() and v >= 0:
                            step = int(v)
                        append((k, v, step))
                    continue
            vals: dict = {}
            if ls in dirty:
                le = find("\n", ls)
                if le < 0:
                    le = n
                for p in patterns:
                    for m in p.rx.finditer(text, ls, le):
                        _apply(m, p, vals)
            else:
                # In pattern order, each pattern's matches left to right, as Guild applies them.
                for p, m in found[ls]:
                    _apply(m, p, vals)
            s = vals.pop("step", None)
            if s is not None:
                self._stepped = True
                if math.isfinite(s):
                    step = int(s)
            else:
                step = self._epoch_step(vals, step)
            for k in sorted(vals, key=str):
                if k not in ignore:
                    append((k, vals[k], step))
        self._step = step
        return items

    def _epoch_step(self, vals: dict, step: int) -> int:
        """The step after a line whose scalars are ``vals`` (no ``step`` among them): its
        ``epoch`` while no ``step`` has been seen, else ``step``."""
        v = vals.get("epoch")
        if v is None or self._stepped or "epoch" in self._ignore:
            return step
        try:
            ok = float(v).is_integer() and v >= 0
        except (TypeError, ValueError):
            return step
        return int(v) if ok else step

    def close(self) -> None:
        """Flush the writer (closing it is the caller's business)."""
        self._writer.flush()


NO_SCALARS_HINT = """\
Note: the run printed numbers but runyard recorded no scalars. To record them, say how its lines
show them in the script's front matter (each pattern a regular expression; \\key and \\value
stand for a name and a number), for example:
  #| output-scalars:
  #|   - loss: 'loss=(\\value)'
  #|   - '(\\key)=(\\value)'
Try patterns on saved output with: runyard run SCRIPT --test-output-scalars FILE (docs/scalars.md)
"""


def no_scalars_hint(scalars: OutputScalars) -> str | None:
    """What to tell a user whose run printed numbers but recorded no scalars (None otherwise)."""
    if scalars.enabled and scalars.saw_numbers and not scalars.recorded:
        return NO_SCALARS_HINT
    return None


class _Collector:
    """A stand-in writer that keeps the scalars in a list."""

    def __init__(self) -> None:
        self.items: list[tuple[str, float, int]] = []

    def add_scalars(self, items: Iterable[tuple[str, float, int]], wall_time: float | None = None) -> None:
        self.items.extend(items)

    def add_scalar(self, tag: str, value: float, step: int = 0, wall_time: float | None = None) -> None:
        self.items.append((tag, value, step))

    def flush(self) -> None:
        pass


def test_patterns(patterns: list | dict | str | bool | None, text: str,
                  ignore_keys: Iterable[str] = ()) -> list[tuple[str, float, int]]:
    """The ``(key, value, step)`` scalars ``patterns`` would record from ``text`` (a preview)."""
    sink = _Collector()
    out = OutputScalars(sink, patterns, ignore_keys)
    out.feed(text)
    out.close()
    return sink.items


test_patterns.__test__ = False  # not a pytest test, despite the name
