"""A run's output lines, from a position or the last few."""

from __future__ import annotations

import os
from pathlib import Path


def output(run_dir: str | os.PathLike, start: int = 0, tail: int | None = None) -> dict:
    """Output lines from ``start`` (or the last ``tail`` lines): ``{start, next, lines: [[t, stream, text]]}``."""
    from ..store.output import read_lines

    lines = [list(x) for x in read_lines(Path(run_dir), max(0, start))]
    first = max(0, start)
    if tail is not None and len(lines) > tail:
        first += len(lines) - tail
        lines = lines[-tail:]
    return {"start": first, "next": first + len(lines), "lines": lines}
