"""The SQLite cache over all runs (``<home>/cache/runs-v1.db``): derived and rebuildable.

The index lives in :mod:`runyard.index.db` (sync, summaries, touch) and the kept listing frames
in :mod:`runyard.index.snapshot`, both over :mod:`~runyard.index.schema` (the database: connect),
:mod:`~runyard.index.stamps` (what a run's row vouches for) and :mod:`~runyard.index.mirror`
(what this process keeps between calls); this package names what the rest of runyard uses.
"""

from __future__ import annotations

from .db import on_progress, summaries, sync, touch
from .mirror import _MEM  # noqa: F401 - re-exported
from .schema import DB_NAME, connect  # noqa: F401 - re-exported
from .snapshot import kept_frame, snapshot_frame, store_snapshot_frame
from .stamps import FINAL, KNOWN, RUNNING, WAITING  # noqa: F401 - re-exported

__all__ = ["connect", "sync", "summaries", "touch", "on_progress", "kept_frame", "snapshot_frame",
           "store_snapshot_frame"]
