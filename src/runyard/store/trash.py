"""Deleting, purging and restoring runs: ``<home>/runs/<id>`` <-> ``<home>/trash/runs/<id>``."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from ..errors import RunyardError
from ..home import runs_dir, trash_dir


def _move(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        # Keep what was there (Guild does the same): move it aside under a random name.
        os.rename(dst, dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.old"))
    os.rename(src, dst)


def delete(home: Path, run_id: str, permanent: bool = False) -> None:
    """Move a run to the trash, or remove it for good with ``permanent``."""
    src = runs_dir(home) / run_id
    if permanent:
        shutil.rmtree(src)
    else:
        _move(src, trash_dir(home) / run_id)


def purge(home: Path, run_id: str) -> None:
    """Remove a deleted run for good."""
    shutil.rmtree(trash_dir(home) / run_id)


def restore(home: Path, run_id: str) -> None:
    """Bring a deleted run back, every file as it was."""
    dst = runs_dir(home) / run_id
    if dst.exists():
        raise RunyardError(f"cannot restore {run_id[:8]}: a run with that id already exists")
    _move(trash_dir(home) / run_id, dst)
