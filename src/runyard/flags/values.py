"""Flag values as typed on a command line: ``x=1``, ``x=[1,2]``, ``x=uniform[0:1]``.

``decode`` turns text into a Python value; lists mean "one run per item"
(a grid); :class:`Function` values (``uniform[a:b]``, ``loguniform[a:b]``,
``[a:b]``) mean a search; sequence functions (``range``, ``linspace``,
``logspace``) expand at once to lists.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import FlagError

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_FUNC = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)?\[(.*)\]$", re.S)

SEARCH_FUNCTIONS = ("uniform", "loguniform")
SEQUENCE_FUNCTIONS = ("range", "linspace", "logspace")


@dataclass(frozen=True)
class Function:
    """A search-space function: ``uniform[a:b]`` or ``loguniform[a:b]``."""

    name: str
    args: tuple

    def __str__(self) -> str:
        return f"{self.name}[{':'.join(str(a) for a in self.args)}]"


def parse_assign(arg: str) -> tuple[str, Any]:
    """``"name=value"`` -> ``(name, decoded value)``."""
    name, sep, text = arg.partition("=")
    name = name.strip()
    if not sep or not name:
        raise FlagError(f"invalid flag argument '{arg}': expected NAME=VALUE")
    return name, decode(text, name=name)


def decode_scalar(text: str) -> Any:
    """A single value: int, float, bool, null or string (Guild's rules)."""
    s = text.strip()
    if s == "":
        return ""
    if _INT.match(s):
        return int(s)
    if _FLOAT.match(s):
        return float(s)
    low = s.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "none", "~"):
        return None
    if low in ("inf", "+inf", ".inf"):
        return math.inf
    if low in ("-inf", "-.inf"):
        return -math.inf
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    return text


def decode(text: str, name: str = "") -> Any:
    """Decode a command-line flag value (lists, functions, sequences, scalars)."""
    s = text.strip()
    m = _FUNC.match(s)
    if m and not (len(s) >= 2 and s[0] in "'\""):
        fname, inner = m.group(1), m.group(2)
        if fname is None:
            if ":" in inner and "," not in inner:
                return _function("uniform", inner, name)
            return [decode_scalar(p) for p in _split_list(inner)]
        if fname in SEARCH_FUNCTIONS:
            return _function(fname, inner, name)
        if fname in SEQUENCE_FUNCTIONS:
            return expand_sequence(fname, [decode_scalar(p) for p in inner.split(":")], name)
    return decode_scalar(text)


def _split_list(inner: str) -> list[str]:
    if not inner.strip():
        return []
    out, cur, quote = [], "", None
    for ch in inner:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            cur += ch
        elif ch == ",":
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p.strip() for p in out]


def _function(fname: str, inner: str, name: str) -> Function:
    args = [decode_scalar(p) for p in inner.split(":")]
    if len(args) not in (2, 3) or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        raise FlagError(f"invalid value for flag '{name}': {fname}[{inner}] needs numbers LOW:HIGH")
    if args[0] >= args[1]:
        raise FlagError(f"invalid value for flag '{name}': {fname}[{inner}] needs LOW < HIGH")
    if fname == "loguniform" and args[0] <= 0:
        raise FlagError(f"invalid value for flag '{name}': loguniform needs LOW > 0")
    return Function(fname, tuple(args))


def _num(v: Any, what: str, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise FlagError(f"invalid value for flag '{name}': {what} must be a number")
    return v


def expand_sequence(fname: str, args: list, name: str = "") -> list:
    """Expand ``range[a:b:step]``, ``linspace[a:b:n]``, ``logspace[a:b:n(:base)]``.

    Ends are inclusive and float steps never overshoot the end.
    """
    if fname == "range":
        if len(args) not in (2, 3):
            raise FlagError(f"invalid value for flag '{name}': range[START:END(:STEP)]")
        start, end = _num(args[0], "start", name), _num(args[1], "end", name)
        step = _num(args[2], "step", name) if len(args) == 3 else 1
        if step == 0 or (end - start) * step < 0:
            raise FlagError(f"invalid value for flag '{name}': range step does not reach the end")
        n = int(math.floor((end - start) / step + 1e-9)) + 1
        all_int = all(isinstance(a, int) for a in (start, end, step))
        vals = [start + i * step for i in range(n)]
        return vals if all_int else [_tidy(v) for v in vals]
    if fname in ("linspace", "logspace"):
        if len(args) < 2 or len(args) > (3 if fname == "linspace" else 4):
            raise FlagError(f"invalid value for flag '{name}': {fname}[START:END(:COUNT)]")
        start, end = _num(args[0], "start", name), _num(args[1], "end", name)
        count = int(args[2]) if len(args) > 2 else 5
        if count < 1:
            raise FlagError(f"invalid value for flag '{name}': {fname} count must be >= 1")
        if count == 1:
            pts = [float(start)]
        else:
            pts = [start + (end - start) * i / (count - 1) for i in range(count)]
        if fname == "logspace":
            base = _num(args[3], "base", name) if len(args) > 3 else 10
            return [_tidy(base**p) for p in pts]
        return [_tidy(p) for p in pts]
    raise FlagError(f"unknown sequence function '{fname}'")


def _tidy(v: float) -> float | int:
    """Round away floating-point noise (0.30000000000000004 -> 0.3)."""
    r = float(f"{v:.12g}")
    return r
