"""A run's console output: ``.guild/output`` (bytes) and ``.guild/output.index``.

The index holds one 9-byte record per line, ``struct.pack("!QB", time_ms, stream)``
(stream 0 = stdout, 1 = stderr), line N of the output matching record N.
Lines are stored whole (stdout and stderr never interleave inside a line), and
a line redrawn with ``\\r`` (a progress bar) is stored as its last drawing.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Iterator

from .paths import MAX_READ, read_run_file

_REC = struct.Struct("!QB")


def _collapse_cr(line: bytes) -> bytes:
    """Keep the last redraw of a ``\\r``-redrawn line (``b"abc\\r\\n"`` stays ``b"abc\\r\\n"``)."""
    body = line[:-1] if line.endswith(b"\n") else line
    end = line[len(body):]
    if body.endswith(b"\r"):
        core, tail = body[:-1], b"\r"
    else:
        core, tail = body, b""
    i = core.rfind(b"\r")
    if i >= 0:
        core = core[i + 1:]
    return core + tail + end


class OutputWriter:
    """Append a process's output to a run, line by line, with the index."""

    def __init__(self, run_dir: Path):
        g = Path(run_dir) / ".guild"
        self._out = open(g / "output", "ab")
        self._idx = open(g / "output.index", "ab")
        self._pending = [b"", b""]

    def write(self, data: bytes, stream: int = 0) -> list[bytes]:
        """Store ``data`` from ``stream``; returns the complete lines it finished (for scalars)."""
        buf = self._pending[stream] + data
        cut = buf.rfind(b"\n") + 1
        if cut == 0:
            if b"\r" in buf:
                buf = _collapse_cr(buf)
            self._pending[stream] = buf
            return []
        done, self._pending[stream] = buf[:cut], buf[cut:]
        if b"\r" in done:
            done = b"\n".join(_collapse_cr(l) if b"\r" in l else l for l in done.split(b"\n"))
        n = done.count(b"\n")
        self._out.write(done)
        self._idx.write(_REC.pack(int(time.time() * 1000), stream) * n)
        return [done]

    def flush(self) -> None:
        self._out.flush()
        self._idx.flush()

    def close(self) -> list[bytes]:
        """Store unfinished lines (as lines) and close; returns them."""
        rest = []
        for stream in (0, 1):
            if self._pending[stream]:
                rest += self.write(b"\n", stream)
        self._out.close()
        self._idx.close()
        return rest


def read_output(run_dir: Path, limit: int = MAX_READ) -> bytes:
    """The run's output (at most ``limit`` bytes; contained in the run, see store.paths)."""
    try:
        return read_run_file(run_dir, ".guild/output", limit)[0]
    except FileNotFoundError:
        return b""


def read_lines(run_dir: Path, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, str]]:
    """``(time_ms, stream, text)`` for output lines ``start``..``end`` (blank lines included)."""
    try:
        data = read_run_file(run_dir, ".guild/output")[0]
        index = read_run_file(run_dir, ".guild/output.index")[0]
    except FileNotFoundError:
        return
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    n = len(lines)
    stop = n if end is None else min(end, n)
    for i in range(start, stop):
        off = i * 9
        if off + 9 <= len(index):
            t, s = _REC.unpack_from(index, off)
        else:
            t, s = 0, 0
        yield t, s, lines[i].rstrip(b"\r").decode("utf-8", "replace")
