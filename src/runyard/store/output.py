"""A run's console output: ``.guild/output`` (bytes) and ``.guild/output.index``.

The index holds one 9-byte record per line, ``struct.pack("!QB", time_ms, stream)``
(stream 0 = stdout, 1 = stderr), line N of the output matching record N.
Lines are stored whole (stdout and stderr never interleave inside a line, up to
:data:`MAX_PENDING` bytes), and a line redrawn with ``\\r`` (a progress bar) is stored
as a terminal would show it at its end: each redraw written over the last from the
line's start (``b"abc\\rX\\n"`` is stored as ``b"Xbc\\n"``; a ``\\r`` just before the
``\\n`` is kept).
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path
from typing import Iterator

from .paths import MAX_READ, read_run_file

_REC = struct.Struct("!QB")

# A line longer than this without "\n" is written as it comes (no longer collapsed or kept
# whole), so memory stays flat whatever a script prints.
MAX_PENDING = 1 << 20


def _collapse_cr(line: bytes) -> bytes:
    """A line as a terminal shows it after its ``\\r`` redraws: each part written over the
    previous ones from the line's start (``b"abc\\rX"`` -> ``b"Xbc"``). A final ``\\r``
    (before ``\\n``, or at the end) is kept; characters, not bytes, are overwritten."""
    body = line[:-1] if line.endswith(b"\n") else line
    end = line[len(body):]
    tail = b""
    if body.endswith(b"\r"):
        body, tail = body[:-1], b"\r"
    parts = body.decode("utf-8", "surrogateescape").split("\r")
    screen = parts[-1]
    for part in reversed(parts[:-1]):  # an earlier, longer drawing shows past the later ones
        if len(part) > len(screen):
            screen += part[len(screen):]
    return screen.encode("utf-8", "surrogateescape") + tail + end


class OutputWriter:
    """Append a process's output to a run: whole lines, in order, with the index.

    Each :meth:`write` reaches the files at once with one ``write`` each, the output before
    its index records, so a reader (or a supervisor killed at any moment) never sees an index
    record for a line that is not in the output.
    """

    def __init__(self, run_dir: Path):
        g = Path(run_dir) / ".guild"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._out = os.open(g / "output", flags, 0o644)
        self._idx = os.open(g / "output.index", flags, 0o644)
        self._pending = [b"", b""]
        self._spilled = [False, False]  # the unfinished line is already partly in the output

    def write(self, data: bytes, stream: int = 0) -> list[bytes]:
        """Store ``data`` from ``stream``; returns the complete lines it finished (for scalars)."""
        buf = self._pending[stream] + data if self._pending[stream] else data
        cut = buf.rfind(b"\n") + 1
        if cut == 0:
            if b"\r" in buf and not self._spilled[stream]:
                buf = _collapse_cr(buf)
            if len(buf) > MAX_PENDING:  # a huge unfinished line: out as it is, flat memory
                _write_all(self._out, buf)
                buf = b""
                self._spilled[stream] = True
            self._pending[stream] = buf
            return []
        done, self._pending[stream] = buf[:cut], buf[cut:]
        if b"\r" in done:
            lines = done.split(b"\n")
            start = 1 if self._spilled[stream] else 0
            done = b"\n".join(lines[:start] + [_collapse_cr(ln) if b"\r" in ln else ln for ln in lines[start:]])
        self._spilled[stream] = False
        n = done.count(b"\n")
        _write_all(self._out, done)
        _write_all(self._idx, _REC.pack(int(time.time() * 1000), stream) * n)
        return [done]

    def flush(self) -> None:
        """Nothing to do: every :meth:`write` is in the files when it returns."""

    def close(self) -> list[bytes]:
        """Store unfinished lines (as lines) and close; returns them."""
        rest = []
        for stream in (0, 1):
            if self._pending[stream] or self._spilled[stream]:
                rest += self.write(b"\n", stream)
        os.close(self._out)
        os.close(self._idx)
        return rest


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


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
