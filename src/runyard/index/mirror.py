"""What this process keeps of each location's index between calls, by ``(home, location)``."""

from __future__ import annotations

from pathlib import Path

from .. import home as _home


def _location_dir(home: Path, location: str) -> Path:
    """The directory of a location's runs ("runs" or "trash")."""
    return _home.runs_dir(home) if location == "runs" else _home.trash_dir(home)


# In-process mirror of index rows: (home, location) -> {id: (stamp, record)}. Records are
# shared between calls: treat them as read-only.
_MEM: dict[tuple[str, str], dict[str, tuple[int, dict]]] = {}
# (home, location) -> (generation, {id: (stamp, final)}): the index's rows as this process last
# read or wrote them, reused while the database's generation is unchanged.
_ROWS: dict[tuple[str, str], tuple[str, dict[str, tuple[int, int]]]] = {}
# (home, location) -> the last sorted result, returned again when nothing changed.
_SORTED: dict[tuple[str, str], list[dict]] = {}
# (home, location) -> (the directory's mtime, when it was read, the names listed right after)
_LISTED: dict[tuple[str, str], tuple[int, int, list[str]]] = {}
