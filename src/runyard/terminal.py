"""What runyard prints: text made safe for a terminal, tables that fit its width, styles only
on a terminal, and a progress line for long waits.

Every text runyard prints goes through :func:`safe` (one field: a label, an id, a path) or
:func:`echo` (a whole block): control characters (ESC, BEL, CR, other C0 and C1 codes, DEL,
Unicode line separators and bidirectional overrides) are shown escaped (``\\x1b``), so a run's
label can't retitle, clear or rewrite the user's terminal. CSV and JSON output is data and is
written as is (JSON escapes control characters itself).
"""

from __future__ import annotations

import os
import re
import sys
import time
import unicodedata
from typing import Any, Iterable, TextIO

# Everything but \n and \t in a block; those two also in a field.
_BLOCK = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_FIELD = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
ELLIPSIS = "…"


def _escape(m: re.Match) -> str:
    c = m.group()
    if c in _NAMED:
        return _NAMED[c]
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def safe(value: Any) -> str:
    """``value`` as one line of terminal-safe text: every control character escaped (also
    newlines and tabs)."""
    s = "" if value is None else value if isinstance(value, str) else str(value)
    return _FIELD.sub(_escape, s) if _FIELD.search(s) else s


def safe_block(text: str) -> str:
    """Terminal-safe text that keeps its line breaks and tabs."""
    return _BLOCK.sub(_escape, text) if _BLOCK.search(text) else text


def echo(text: Any = "", err: bool = False, nl: bool = True) -> None:
    """Print ``text`` (made terminal-safe) to stdout, or stderr with ``err``."""
    import click

    click.echo(safe_block("" if text is None else str(text)), err=err, nl=nl)


# --- terminals --------------------------------------------------------------------------------

def is_terminal(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default stdout) is a terminal."""
    stream = sys.stdout if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def styled(stream: TextIO | None = None) -> bool:
    """Whether to use colour and styles on ``stream``: only on a terminal (and not with
    ``NO_COLOR`` set or ``TERM=dumb``)."""
    return is_terminal(stream) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def width(stream: TextIO | None = None) -> int | None:
    """The width to fit: ``COLUMNS`` if set, else the terminal's; None (no limit) when the
    output is not a terminal."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    if not is_terminal(stream):
        return None
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


_STYLES = {"bold": "1", "dim": "2", "green": "32", "red": "31", "yellow": "33", "cyan": "36", "magenta": "35"}
STATUS_STYLE = {"completed": "green", "error": "red", "terminated": "yellow", "running": "cyan",
                "pending": "magenta", "staged": "magenta"}


def style(text: str, name: str | None, on: bool) -> str:
    """``text`` in the style ``name`` when ``on`` (ANSI SGR codes)."""
    if not on or not name or not text:
        return text
    return f"\x1b[{_STYLES[name]}m{text}\x1b[0m"


# --- tables -----------------------------------------------------------------------------------

def cell_width(s: str) -> int:
    """Columns ``s`` takes on a terminal (wide East Asian characters take two)."""
    if s.isascii():
        return len(s)
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in s)


def cut(s: str, w: int) -> str:
    """``s`` cut to ``w`` columns, ending with "…" when it was longer."""
    if cell_width(s) <= w:
        return s
    if w <= 1:
        return ELLIPSIS[:w]
    if s.isascii():
        return s[:w - 1] + ELLIPSIS
    out, used = [], 0
    for c in s:
        cw = cell_width(c)
        if used + cw > w - 1:
            break
        out.append(c)
        used += cw
    return "".join(out) + ELLIPSIS


def _pad(s: str, w: int, right: bool) -> str:
    gap = w - cell_width(s)
    return (" " * gap + s) if right else (s + " " * gap)


def _width_of(col: list[str]) -> int:
    if all(map(str.isascii, col)):
        return max(map(len, col), default=0)
    return max(map(cell_width, col), default=0)


def fit(header: list[str], columns: list[list[str]], max_width: int | None, *, cuttable: Iterable[str] = (),
        drop_order: Iterable[str] = (), keep: Iterable[str] = (), sep: int = 2, min_cut: int = 12,
        with_header: bool = True) -> tuple[list[int], list[int], list[str]]:
    """Lay out a table (given as its ``columns`` of cells) in ``max_width`` columns.

    Returns (indexes of the columns shown, their widths, names of the columns dropped).
    Columns in ``cuttable`` are narrowed first (not below ``min_cut``); then columns are dropped:
    those in ``drop_order`` first, in that order, then from the right; ``keep`` never. Without
    ``with_header``, columns that are empty in every row are left out (and not named)."""
    n = len(header)
    widths = [max(_width_of(col), cell_width(header[i]) if with_header else 0) for i, col in enumerate(columns)]
    shown = [i for i in range(n) if widths[i]]
    if max_width is None:
        return shown, widths, []

    def total() -> int:
        return sum(widths[i] for i in shown) + sep * (len(shown) - 1)

    for name in cuttable:
        if name in header and total() > max_width:
            i = header.index(name)
            widths[i] = max(min(widths[i], max(min_cut, cell_width(header[i]))),
                            widths[i] - (total() - max_width))
    order = [header.index(c) for c in drop_order if c in header]
    keep_i = {header.index(c) for c in keep if c in header}
    order += [i for i in reversed(range(n)) if i not in order and i not in keep_i]
    dropped: list[int] = []
    for i in order:
        if total() <= max_width or len(shown) <= 1:
            break
        if i in shown:
            shown.remove(i)
            dropped.append(i)
    return shown, widths, [header[i] for i in sorted(dropped)]


def _column(cells: list[str], w: int, right: bool, pad: bool, st: Any, on: bool) -> list[str]:
    """One column's cells cut to ``w``, padded (unless it is the last, left-aligned one), styled."""
    ascii_ = all(map(str.isascii, cells))
    if ascii_:
        out = [c if len(c) <= w else cut(c, w) for c in cells]
        if right:
            out = [c.rjust(w) for c in out]
        elif pad:
            out = [c.ljust(w) for c in out]
    else:
        out = [cut(c, w) for c in cells]
        if right or pad:
            out = [_pad(c, w, right) for c in out]
    if on and st is not None:
        out = [style(o, st(c) if callable(st) else st, True) for o, c in zip(out, cells)]
    return out


def render(header: list[str] | None, columns: list[list[str]], shown: list[int], widths: list[int], *,
           right: Iterable[int] = (), styles: dict[int, Any] | None = None, on: bool = False,
           sep: int = 2) -> list[str]:
    """The table's lines (cells already terminal-safe). ``styles`` maps a column to a style
    name or to a function cell -> style name; used only when ``on``."""
    right = set(right)
    styles = styles or {}
    gap = " " * sep
    last = shown[-1] if shown else -1
    cols = [_column(columns[i], widths[i], i in right, i != last, styles.get(i), on) for i in shown]
    lines = []
    if header is not None:
        lines.append(gap.join(style(_pad(cut(header[i], widths[i]), widths[i], i in right) if i != last
                                    else cut(header[i], widths[i]), "bold", on) for i in shown).rstrip())
    lines += [gap.join(parts).rstrip() for parts in zip(*cols)]
    return lines


def dropped_note(names: list[str], stream: TextIO | None = None) -> str:
    """The note naming the columns left out for want of width, wrapped to the width of
    ``stream`` (default stderr, where it goes)."""
    text = f"(not shown, too wide for the terminal: {', '.join(names)}; widen it or use --csv)"
    return "\n".join(wrap(text, sys.stderr if stream is None else stream))


def wrap(text: str, stream: TextIO | None = None) -> list[str]:
    """``text`` as lines that fit the width of ``stream`` (default stdout); broken at spaces,
    never inside a word. One line when there is no width to fit."""
    w = width(sys.stdout if stream is None else stream)
    if w is None or cell_width(text) <= w:
        return [text]
    import textwrap

    return textwrap.wrap(text, max(w, 20), break_long_words=False, break_on_hyphens=False) or [text]


# --- a progress line --------------------------------------------------------------------------

_progress_on = False


def enable_progress() -> None:
    """Called by the ``runyard`` command: long waits (building the index) may show a
    progress line on stderr when it is a terminal. Library callers never see one."""
    global _progress_on
    _progress_on = True


def progress(what: str, total: int) -> "ProgressLine | None":
    """A :class:`ProgressLine` for ``total`` items if progress lines are enabled, else None."""
    return ProgressLine(what, total) if _progress_on else None


class ProgressLine:
    """A one-line progress report on stderr, shown only on a terminal and only once the work
    has taken ``delay`` seconds (default ``RUNYARD_PROGRESS_AFTER``, else 0.5); cleared when done."""

    def __init__(self, what: str, total: int, delay: float | None = None, stream: TextIO | None = None):
        self.what = what
        self.total = total
        if delay is None:
            try:
                delay = float(os.environ.get("RUNYARD_PROGRESS_AFTER", "0.5"))
            except ValueError:
                delay = 0.5
        self.delay = delay
        self.stream = sys.stderr if stream is None else stream
        self.t0 = time.monotonic()
        self.on = is_terminal(self.stream)
        self.shown = False

    def update(self, done: int) -> None:
        if not self.on or time.monotonic() - self.t0 < self.delay:
            return
        self.shown = True
        try:
            self.stream.write(f"\r{self.what}: {done:,} of {self.total:,}\x1b[K")
            self.stream.flush()
        except (OSError, ValueError):
            self.on = False

    def close(self) -> None:
        if self.shown:
            try:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            except (OSError, ValueError):
                pass


def _safe_column(col: list[Any]) -> list[str]:
    col = ["" if c is None else c if isinstance(c, str) else str(c) for c in col]
    if _FIELD.search(" ".join(col)):  # (one search for the whole column, usually clean)
        col = [safe(c) for c in col]
    return col


def table(header: list[str], rows: list[list[Any]], *, show_header: bool = True, cuttable: Iterable[str] = (),
          drop_order: Iterable[str] = (), keep: Iterable[str] = (), right: Iterable[str] = (),
          styles: dict[str, Any] | None = None, stream: TextIO | None = None) -> tuple[list[str], list[str]]:
    """A table for ``stream`` (default stdout): cells made terminal-safe, aligned, fit to the
    width (see :func:`fit`), styled on a terminal. Returns (lines, names of dropped columns)."""
    stream = sys.stdout if stream is None else stream
    columns = [_safe_column(list(col)) for col in zip(*rows)] if rows else [[] for _ in header]
    head = [safe(h) for h in header]
    shown, widths, dropped = fit(head, columns, width(stream), cuttable=cuttable, drop_order=drop_order, keep=keep,
                                 with_header=show_header)
    idx = {h: i for i, h in enumerate(header)}
    lines = render(head if show_header else None, columns, shown, widths,
                   right=[idx[c] for c in right if c in idx],
                   styles={idx[k]: v for k, v in (styles or {}).items() if k in idx}, on=styled(stream))
    return lines, dropped
