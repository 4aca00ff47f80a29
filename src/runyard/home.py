"""Where runs live: the runs home and its sub-directories."""

from __future__ import annotations

import os
from pathlib import Path


def find_home(cwd: str | os.PathLike | None = None) -> Path:
    """Return the runs home.

    ``GUILD_HOME`` wins; else the nearest ``.guild`` directory walking up from
    ``cwd`` (stopping at the user's home or ``/``); else ``<cwd>/.guild``.
    """
    env = os.environ.get("GUILD_HOME")
    if env:
        return Path(env).expanduser().absolute()
    start = Path(cwd or os.getcwd()).absolute()
    user_home = Path.home()
    for d in (start, *start.parents):
        cand = d / ".guild"
        if cand.is_dir():
            return cand
        if d == user_home:
            break
    return start / ".guild"


def runs_dir(home: Path) -> Path:
    return home / "runs"


def trash_dir(home: Path) -> Path:
    return home / "trash" / "runs"


def cache_dir(home: Path) -> Path:
    return home / "cache"
