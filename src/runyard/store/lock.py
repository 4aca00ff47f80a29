"""Per-run lock for changing a run's annotations (tags, label, comments, mark) without lost updates.

A change reads the attribute *file* (never the cached index record), computes the new value
and writes it back, all while holding an exclusive ``flock`` on ``<run>/.guild/attrs.lock``.
Two runyard processes therefore never interleave their read and write. Guild AI 0.9 takes
no lock, but it writes an attribute in place (truncate, then write), so a file read as empty
is read again for a moment before it counts as empty: a change Guild made just before ours
is kept. The kernel drops the lock when its holder dies, so a killed writer blocks no one;
each write is a rename, so a killed writer leaves the old file or the new one, never half.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Any, Iterator

from . import attrs as _attrs

LOCK_NAME = "attrs.lock"
_EMPTY_RETRY = 1.0  # seconds to wait for an attribute file being written in place to fill up


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike) -> Iterator[None]:
    """Hold the run's annotation lock (blocking until it is free)."""
    guild = Path(run_dir) / ".guild"
    fd = os.open(guild / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_fresh(path: Path) -> Any:
    """An attribute file's current value (None if absent); an empty file is re-read for a moment,
    since another tool may be between truncating and writing it. Raises AttrError if corrupt."""
    end = time.monotonic() + _EMPTY_RETRY
    while True:
        try:
            if os.stat(path).st_size == 0 and time.monotonic() < end:
                time.sleep(0.01)
                continue
            return _attrs.read(path)
        except (FileNotFoundError, NotADirectoryError):
            return None

