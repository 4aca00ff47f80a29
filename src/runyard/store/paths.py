"""Paths inside a run directory: the one containment rule every reader of a run's files uses.

A run's manifest, a URL or a command line may name any path. ``resolve_in_run`` turns it into a
real path that is inside the run directory (symlinks resolved) or refuses it; ``read_run_file``
reads such a file only if it is a regular file, and never more than a cap.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import BinaryIO

from ..errors import UsageError

#: The most any reader takes from one run file unless it asks for less (256 MiB).
MAX_READ = 256 * 1024 * 1024


class PathRefused(UsageError):
    """A file path that leaves the run directory (or is malformed)."""


class EnvironmentFileRefused(PathRefused):
    """A run file that holds a process environment (see ENVIRONMENT_FILES)."""


#: Files of a run that hold a process environment (Guild AI stages runs with one, secrets and
#: all): never read, exported, pushed or served.
ENVIRONMENT_FILES = frozenset({".guild/ENV"})


#: Files that belong to this machine's runyard processes, not to the run: never exported or pushed.
MACHINE_FILES = frozenset({".guild/attrs.lock"})


def stays_on_machine(rel: str) -> bool:
    """True for a run-relative path that export and push leave out (environment files, locks)."""
    rel = rel.strip("/")
    return rel in ENVIRONMENT_FILES or rel in MACHINE_FILES


def holds_environment(rel: str) -> bool:
    """True for a run-relative path that holds a process environment (see ENVIRONMENT_FILES)."""
    return rel.strip("/") in ENVIRONMENT_FILES


def _shown(rel: str) -> str:
    """A path as it is safe to print in a message: quoted, control characters escaped, short."""
    return repr(rel if len(rel) <= 200 else rel[:200] + "...")


def safe_relpath(rel: str | None) -> str:
    """Check a run-relative path: no ``..``/``.``/empty parts, not absolute, no backslashes,
    NULs or drive letters. Returns it normalized ('' for the run directory itself)."""
    if rel is None:
        return ""
    if "\x00" in rel or "\\" in rel:
        raise PathRefused(f"{_shown(rel)}: bad character in path")
    if rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
        raise PathRefused(f"{_shown(rel)}: absolute paths are not allowed")
    parts = rel.split("/")
    if parts and parts[-1] == "":
        parts.pop()
    for p in parts:
        if p in ("", ".", ".."):
            raise PathRefused(f"{_shown(rel)}: path parts '', '.' and '..' are not allowed")
    return "/".join(parts)


def resolve_in_run(run_dir: str | os.PathLike, rel: str) -> Path:
    """The real path of ``rel`` inside ``run_dir``; refuses anything (symlinks included) that
    resolves outside the run directory."""
    rel = safe_relpath(rel)
    if holds_environment(rel):
        raise EnvironmentFileRefused(f"{_shown(rel)}: holds a process environment (it may hold secrets): not shown")
    root = os.path.realpath(run_dir)
    target = os.path.realpath(os.path.join(root, rel)) if rel else root
    if target != root and not target.startswith(root + os.sep):
        raise PathRefused(f"{_shown(rel)}: path leaves the run directory")
    return Path(target)


def open_run_file(run_dir: str | os.PathLike, rel: str) -> BinaryIO:
    """Open the regular file ``rel`` inside ``run_dir`` for reading (binary).

    Refuses paths outside the run and anything but a regular file (a device, a FIFO, a socket)
    without blocking on it. Raises FileNotFoundError / IsADirectoryError as ``open`` does."""
    return open_regular(resolve_in_run(run_dir, rel))


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open ``path`` (already resolved inside a run) if it is a regular file; see ``open_run_file``."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(f"'{os.fspath(path)}' is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise PathRefused(f"'{os.path.basename(path)}' is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_run_file(run_dir: str | os.PathLike, rel: str, limit: int = MAX_READ) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the regular file ``rel`` inside ``run_dir``, and whether the
    file was longer (see ``open_run_file`` for what is refused)."""
    return read_capped(resolve_in_run(run_dir, rel), limit)


def read_capped(path: str | os.PathLike, limit: int = MAX_READ) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the regular file ``path`` (already resolved inside a run), and
    whether it was longer."""
    with open_regular(path) as f:
        data = f.read(limit + 1)
    return data[:limit], len(data) > limit


# --- links inside runs ------------------------------------------------------------------------

_RUN_ID = re.compile(r"[0-9a-f]{32}\Z")
#: The longest link target a run may hold.
MAX_LINK = 4096


def link_refused(run_dir: str | os.PathLike, rel: str, runs: "set[str] | frozenset[str] | None" = None,
                 run_id: str | None = None) -> str | None:
    """Why the link at ``run_dir/rel`` may not stay in a run that came from elsewhere, or None.

    The one rule for links that pull, import (zip and directory) and ``export -L`` apply. The
    link is judged on the real filesystem, one part of its target at a time, never by its text:
    its target must be relative and land inside its own run, or on another run folder of the
    same runs folder (``../<id>`` of a pipeline step or batch trial, or a file in it, as an
    operation dependency links); it may not go through another link (nor name one), nor point
    at a folder that holds it (a loop for anything that follows it). ``runs``, if given, are
    the run ids another run's folder may have (those of an archive); a link to a run that is
    not there yet (a pipeline's step not pulled) is kept only without ``runs``. ``run_id``: the
    run's id when ``run_dir`` is where it is being built under another name.
    """
    run_dir = Path(run_dir)
    own = run_id or run_dir.name
    rel = rel.strip("/")
    try:
        target = os.readlink(run_dir / rel)
    except OSError:
        return "is not a link"
    if not target or len(target) > MAX_LINK or "\x00" in target or "\\" in target:
        return "has a malformed target"
    if target.startswith("/"):
        return "points outside the runs folder (an absolute path)"
    runs_real = os.path.realpath(run_dir.parent)
    run_real = os.path.join(runs_real, run_dir.name)
    if os.path.realpath(run_dir) != run_real:
        return "is in a run folder that is itself a link"

    def real(parts: list[str]) -> str:
        return os.path.join(run_real if parts[0] == own else os.path.join(runs_real, parts[0]), *parts[1:])

    here = [own, *rel.split("/")[:-1]]
    for i in range(1, len(here)):  # the folders holding the link are real folders
        if os.path.islink(real(here[:i + 1])):
            return "is inside another link"
    cur, missing = list(here), False
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if missing or not cur:
                return "points outside the runs folder"
            cur.pop()
            continue
        cur.append(part)
        if missing:
            continue
        p = real(cur)
        if os.path.islink(p):
            return "goes through another link"
        if not os.path.lexists(p):
            missing = True  # a dangling link: what is left is judged by its text alone (no links there)
    if not cur:
        return "points at the runs folder"
    if not _RUN_ID.match(cur[0]):
        return "points outside the runs folder"
    if cur[0] != own and runs is not None and cur[0] not in runs:
        return "points at a run that is not among these runs"
    if [own, *rel.split("/")][:len(cur)] == cur:
        return "points at a folder that holds it"
    return None
