"""Flag values as typed on a command line: ``x=1``, ``x=[1,2]``, ``x=uniform[0:1]``.

``decode`` turns text into a Python value; lists mean "one run per item"
(a grid); :class:`Function` values (``uniform[a:b]``, ``loguniform[a:b]``,
``[a:b]``) mean a search; sequence functions (``range``, ``linspace``,
``logspace``, ``geomspace``) expand at once to lists, ends inclusive and free of
floating-point overshoot; ``[1,2]*3`` repeats a list; ``@trials.csv`` (a batch
file: CSV, JSON or YAML) reads one trial per row.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FlagError

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_FUNC = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)?\[(.*)\]$", re.S)
_REPEAT = re.compile(r"^(\[.*\])\s*\*\s*(\d+)$", re.S)

SEARCH_FUNCTIONS = ("uniform", "loguniform")
SEQUENCE_FUNCTIONS = ("range", "linspace", "logspace", "geomspace")
MAX_SEQUENCE = 100_000  # a sequence longer than this is surely a typo
MAX_INT_DIGITS = 4300  # (Python's own limit for converting text to int)


@dataclass(frozen=True)
class Function:
    """A search-space function: ``uniform[a:b]`` or ``loguniform[a:b]`` (optional third arg: initial value)."""

    name: str
    args: tuple

    def __str__(self) -> str:
        return f"{self.name}[{':'.join(str(a) for a in self.args)}]"

    @property
    def low(self) -> float:
        return self.args[0]

    @property
    def high(self) -> float:
        return self.args[1]

    @property
    def initial(self) -> Any:
        """The third argument (a first value to try), or None."""
        return self.args[2] if len(self.args) > 2 else None

    @property
    def is_int(self) -> bool:
        """Both bounds are integers: sample integers."""
        return all(isinstance(a, int) and not isinstance(a, bool) for a in self.args[:2])


class BatchFile(list):
    """The rows of a batch file (``@trials.csv``): a list of flag dicts, one trial each."""

    def __init__(self, path: str | Path, rows: list[dict]):
        super().__init__(rows)
        self.path = str(path)

    def __repr__(self) -> str:
        return f"BatchFile({self.path!r}, {len(self)} rows)"


def is_batch(flags: Any) -> bool:
    """True when ``flags`` make several runs: a table (DataFrame, list of dicts) or a dict with
    a list (a grid) or a search function among its values."""
    if flags is None:
        return False
    if not isinstance(flags, dict):
        return True  # a DataFrame or a list of dicts
    return any(isinstance(v, (list, tuple, Function)) or hasattr(v, "tolist") for v in flags.values())


def parse_assign(arg: str) -> tuple[str, Any]:
    """``"name=value"`` -> ``(name, decoded value)``; ``"@file"`` -> ``("@file", BatchFile)``."""
    if arg.startswith("@") and "=" not in arg:
        return arg, load_batch_file(arg[1:])
    name, sep, text = arg.partition("=")
    name = name.strip()
    if not sep or not name:
        raise FlagError(f"invalid flag argument '{arg}': expected NAME=VALUE")
    return name, decode(text, name=name)


def decode_scalar(text: str, name: str = "") -> Any:
    """A single value: int, float, bool, null or string (Guild's rules)."""
    s = text.strip()
    if s == "":
        return ""
    if _INT.match(s):
        if len(s.lstrip("+-")) > MAX_INT_DIGITS:
            raise FlagError(f"invalid value for flag '{name}': an integer of {len(s.lstrip('+-'))} digits "
                            f"(at most {MAX_INT_DIGITS})" if name else
                            f"invalid value: an integer of {len(s.lstrip('+-'))} digits (at most {MAX_INT_DIGITS})")
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
    if s[:1] in ("'", '"'):
        return decode_scalar(text, name)
    m = _REPEAT.match(s)
    if m:
        base = decode(m.group(1), name)
        if isinstance(base, list):
            return base * int(m.group(2))
    m = _FUNC.match(s)
    if m:
        fname, inner = m.group(1), m.group(2)
        if fname is None:
            parts = _split(inner, ",")
            if len(parts) == 1 and ":" in parts[0]:
                args = [decode_scalar(p, name) for p in parts[0].split(":")]
                if len(args) in (2, 3) and all(_is_number(a) for a in args):
                    return _function("uniform", inner, name)
            return [decode_scalar(p, name) for p in parts]
        if fname in SEARCH_FUNCTIONS:
            return _function(fname, inner, name)
        if fname in SEQUENCE_FUNCTIONS:
            return expand_sequence(fname, [decode_scalar(p, name) for p in inner.split(":")], name)
    return decode_scalar(text, name)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _split(inner: str, sep: str) -> list[str]:
    """Split at ``sep`` outside quotes and brackets; [] for blank text."""
    if not inner.strip():
        return []
    out, cur, quote, depth = [], "", None, 0
    for ch in inner:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})" and depth:
            depth -= 1
        elif ch == sep and depth == 0:
            out.append(cur)
            cur = ""
            continue
        cur += ch
    out.append(cur)
    return [p.strip() for p in out]


def _split_list(inner: str) -> list[str]:
    return _split(inner, ",")


def _function(fname: str, inner: str, name: str) -> Function:
    args = [decode_scalar(p, name) for p in inner.split(":")]
    if len(args) not in (2, 3) or not all(_is_number(a) for a in args):
        raise FlagError(f"invalid value for flag '{name}': {fname}[{inner}] needs numbers LOW:HIGH")
    if args[0] >= args[1]:
        raise FlagError(f"invalid value for flag '{name}': {fname}[{inner}] needs LOW < HIGH")
    if fname == "loguniform" and args[0] <= 0:
        raise FlagError(f"invalid value for flag '{name}': loguniform needs LOW > 0")
    if len(args) == 3 and not args[0] <= args[2] <= args[1]:
        raise FlagError(f"invalid value for flag '{name}': {fname}[{inner}] initial value is outside LOW:HIGH")
    return Function(fname, tuple(args))


def _num(v: Any, what: str, name: str) -> float:
    if not _is_number(v):
        raise FlagError(f"invalid value for flag '{name}': {what} must be a number")
    return v


def _count(args: list, i: int, name: str, fname: str) -> int:
    if len(args) <= i:
        return 5
    c = args[i]
    if isinstance(c, float) and c.is_integer():
        c = int(c)
    if not isinstance(c, int) or isinstance(c, bool) or c < 1:
        raise FlagError(f"invalid value for flag '{name}': {fname} count must be a whole number >= 1")
    if c > MAX_SEQUENCE:
        raise FlagError(f"invalid value for flag '{name}': {fname} count {c} is more than {MAX_SEQUENCE}")
    return c


def expand_sequence(fname: str, args: list, name: str = "") -> list:
    """Expand ``range[a:b:step]``, ``linspace[a:b:n]``, ``logspace[a:b:n(:base)]``, ``geomspace[a:b:n]``.

    Ends are inclusive and float steps never overshoot the end.
    """
    if fname == "range":
        if len(args) not in (2, 3):
            raise FlagError(f"invalid value for flag '{name}': range[START:END(:STEP)]")
        start, end = _num(args[0], "start", name), _num(args[1], "end", name)
        step = _num(args[2], "step", name) if len(args) == 3 else 1
        if step == 0 or (end - start) * step < 0:
            raise FlagError(f"invalid value for flag '{name}': range step does not reach the end")
        q = (end - start) / step
        n = int(math.floor(q + max(1e-9, abs(q) * 1e-12))) + 1
        if n > MAX_SEQUENCE:
            raise FlagError(f"invalid value for flag '{name}': range has {n} values, more than {MAX_SEQUENCE}")
        all_int = all(isinstance(a, int) for a in (start, end, step))
        vals = [start + i * step for i in range(n)]
        return vals if all_int else [_tidy(v) for v in vals]
    if fname in ("linspace", "logspace", "geomspace"):
        most = 4 if fname == "logspace" else 3
        if len(args) < 2 or len(args) > most:
            extra = "(:COUNT(:BASE))" if fname == "logspace" else "(:COUNT)"
            raise FlagError(f"invalid value for flag '{name}': {fname}[START:END{extra}]")
        start, end = _num(args[0], "start", name), _num(args[1], "end", name)
        count = _count(args, 2, name, fname)
        if fname == "geomspace":
            if start <= 0 or end <= 0:
                raise FlagError(f"invalid value for flag '{name}': geomspace needs START and END > 0")
            start, end = math.log(start), math.log(end)
        pts = [float(start)] if count == 1 else [start + (end - start) * i / (count - 1) for i in range(count)]
        if count > 1:
            pts[-1] = float(end)  # exact end, whatever the rounding
        if fname == "logspace":
            base = _num(args[3], "base", name) if len(args) > 3 else 10
            return [_tidy(base**p) for p in pts]
        if fname == "geomspace":
            out = [_tidy(math.exp(p)) for p in pts]
            out[0] = _tidy(float(args[0]))
            if count > 1:
                out[-1] = _tidy(float(args[1]))
            return out
        return [_tidy(p) for p in pts]
    raise FlagError(f"unknown sequence function '{fname}'")


def _tidy(v: float) -> float | int:
    """Round away floating-point noise (0.30000000000000004 -> 0.3)."""
    return float(f"{v:.15g}")


# --- batch files -----------------------------------------------------------------------------

def load_batch_file(path: str | Path) -> BatchFile:
    """Read a batch file: CSV with a header row, or JSON/YAML holding a list of flag maps.

    CSV cells are decoded like command-line scalars; an empty cell leaves the flag at its
    default. Raises :class:`FlagError` with one line for a missing or malformed file.
    """
    p = Path(path)
    shown = f"@{path}"
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FlagError(f"batch file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise FlagError(f"cannot read batch file {path}: {e}") from None
    suffix = p.suffix.lower()
    if suffix == ".csv":
        import csv
        import io

        reader = csv.reader(io.StringIO(text))
        try:
            header = next(reader)
        except StopIteration:
            raise FlagError(f"batch file {path} is empty") from None
        header = [h.strip() for h in header]
        if not all(header):
            raise FlagError(f"batch file {path}: every column needs a flag name in the header row")
        rows = []
        for lineno, rec in enumerate(reader, 2):
            if not any(c.strip() for c in rec):
                continue
            if len(rec) != len(header):
                raise FlagError(f"batch file {path}, line {lineno}: {len(rec)} cells for {len(header)} columns")
            rows.append({h: decode_scalar(c, h) for h, c in zip(header, rec) if c.strip() != ""})
        return BatchFile(path, rows)
    if suffix in (".json", ".yaml", ".yml"):
        from ..safedata import DataError, load_json, load_yaml

        try:  # nesting, size and what YAML aliases expand to are capped: a bomb is refused at once
            data = (load_json if suffix == ".json" else load_yaml)(text, f"batch file {path}")
        except DataError as e:
            raise FlagError(str(e)) from None
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise FlagError(f"batch file {path} must hold a list of flag maps (one per trial)")
        return BatchFile(path, [{str(k): v for k, v in r.items()} for r in data])
    raise FlagError(f"unknown batch file type '{shown}': use .csv, .json or .yaml")
