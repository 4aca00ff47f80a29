"""A run directory: ``<home>/runs/<id>/`` in Guild AI 0.9's format.

Status is derived, never stored: markers (``PENDING``, ``STAGED``), the
``exit_status`` attribute, and a ``LOCK`` file naming the supervising process.
A ``LOCK`` only counts while that process lives *and* started before the lock
was written, so a reused PID cannot make a dead run look alive.
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from typing import Any

from . import attrs as _attrs

STATUSES = ("running", "completed", "error", "terminated", "pending", "staged")


def timestamp() -> int:
    """Microseconds since the epoch (Guild's timestamp unit), monotonic within a process."""
    global _last_ts
    ts = time.time_ns() // 1000
    if ts <= _last_ts:
        ts = _last_ts + 1
    _last_ts = ts
    return ts


_last_ts = 0


class Run:
    """One run directory."""

    __slots__ = ("id", "dir")

    def __init__(self, run_dir: str | os.PathLike, run_id: str | None = None):
        self.dir = Path(run_dir)
        self.id = run_id or self.dir.name

    def __repr__(self) -> str:
        return f"<Run {self.id[:8]} {self.dir}>"

    @property
    def short_id(self) -> str:
        return self.id[:8]

    # --- files -----------------------------------------------------------
    def guild_path(self, *parts: str) -> Path:
        return self.dir.joinpath(".guild", *parts)

    @property
    def attrs_dir(self) -> Path:
        return self.dir / ".guild" / "attrs"

    def is_run(self) -> bool:
        return (self.dir / ".guild" / "opref").exists()

    # --- attributes --------------------------------------------------------
    def get(self, name: str, default: Any = None) -> Any:
        """An attribute's value, ``default`` if it has none (raises AttrError if corrupt)."""
        try:
            return _attrs.read(self.attrs_dir / name)
        except (FileNotFoundError, NotADirectoryError):
            return default

    def set(self, name: str, value: Any) -> None:
        """Write an attribute (atomically)."""
        _attrs.write(self.attrs_dir, name, value)

    def delete_attr(self, name: str) -> None:
        _attrs.delete(self.attrs_dir, name)

    def attr_names(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.attrs_dir) if not n.startswith("."))
        except FileNotFoundError:
            return []

    # --- operation ---------------------------------------------------------
    @property
    def opref(self) -> list[str]:
        """The four ``opref`` fields: pkg_type:pkg_name, version, model, op."""
        try:
            with open(f"{self.dir}/.guild/opref", encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return ["", "", "", ""]
        return parse_opref(text)

    @property
    def operation(self) -> str:
        """The display name: ``train.py``, ``model:train``, or a batch's ``train.py+``."""
        opref = self.opref
        return batch_operation(self.dir, opref) or format_operation(opref)

    # --- status ------------------------------------------------------------
    @property
    def status(self) -> str:
        return status_of(self.dir)

    def output_path(self) -> Path:
        return self.guild_path("output")


def parse_opref(text: str) -> list[str]:
    """The four shell-quoted fields of an opref line (fast when only ``''`` is quoted)."""
    parts = text.split()
    if any(("'" in p and p != "''") or '"' in p or "\\" in p for p in parts):
        parts = shlex.split(text)
    else:
        parts = ["" if p == "''" else p for p in parts]
    return (parts + ["", "", "", ""])[:4]


def format_operation(opref: list[str], op_attr: Any = None) -> str:
    """Display form of an opref (Guild: ``model:op``; scripts: the script path)."""
    pkg, _ver, model, op = opref
    return f"{model}:{op}" if model else op


def batch_operation(run_dir: str | os.PathLike, opref: list[str]) -> str | None:
    """Guild's name for its own batch run (opref op ``+``): the prototype's operation plus ``+``
    (``train.py+``, ``m:train+``), read from ``.guild/proto/.guild/opref``. None otherwise."""
    if not (opref[0].startswith("builtin:") and opref[3] == "+"):
        return None
    try:
        with open(f"{run_dir}/.guild/proto/.guild/opref", encoding="utf-8") as f:
            return format_operation(parse_opref(f.read())) + "+"
    except (FileNotFoundError, NotADirectoryError):
        return None


def write_opref(run_dir: Path, pkg: str, version: str, model: str, op: str) -> None:
    """Write ``.guild/opref`` atomically (its presence makes the directory a run)."""
    text = " ".join(shlex.quote(p) for p in (pkg, version, model, op)) + "\n"
    tmp = run_dir / ".guild" / f".opref-{os.getpid()}.tmp"
    tmp.write_text(text)
    os.replace(tmp, run_dir / ".guild" / "opref")


def write_lock(run_dir: Path, pid: int) -> None:
    """Name ``pid`` as the run's live process (atomically: readers never see an empty LOCK)."""
    g = Path(run_dir) / ".guild"
    tmp = g / f".LOCK-{os.getpid()}.tmp"
    tmp.write_text(str(pid))
    os.replace(tmp, g / "LOCK")


def lock_pid(run_dir: Path) -> int | None:
    """The PID of the live process supervising the run, or None."""
    lock = run_dir / ".guild" / "LOCK"
    try:
        st = os.stat(lock)
        pid = int(lock.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid and process_started_before(pid, st.st_mtime) else None


def process_started_before(pid: int, when: float) -> bool:
    """True if process ``pid`` is alive and was created no later than ``when`` (+1 s slack)."""
    import psutil

    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        return p.create_time() <= when + 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return False


def status_of(run_dir: Path, exit_status: Any = ...) -> str:
    """Derive a run's status from its files (Guild AI 0.9's rules, PID-reuse safe)."""
    g = run_dir / ".guild"
    if (g / "LOCK.remote").exists():
        return "running"
    if (g / "PENDING").exists():
        return "pending"
    if (g / "STAGED").exists():
        return "staged"
    if exit_status is ...:
        try:
            exit_status = _attrs.read(g / "attrs" / "exit_status")
        except (FileNotFoundError, _attrs.AttrError):
            exit_status = None
    if exit_status is not None:
        try:
            code = int(exit_status)
        except (TypeError, ValueError):
            return "error"
        return "completed" if code == 0 else ("terminated" if code < 0 else "error")
    if lock_pid(run_dir):
        return "running"
    return "error"
