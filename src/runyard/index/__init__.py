"""The SQLite cache over all runs (``<home>/cache/runs-v1.db``): derived and rebuildable.

The index lives in :mod:`runyard.index.db` (connect, sync, summaries, touch) and the kept
listing frames in :mod:`runyard.index.snapshot`; this package names what the rest of runyard uses.
"""

from __future__ import annotations

from .db import (  # noqa: F401 - re-exported
    _MEM,
    DB_NAME,
    FINAL,
    KNOWN,
    RUNNING,
    WAITING,
    _unchanged_since_snapshot,
    connect,
    kept_frame,
    on_progress,
    snapshot_frame,
    store_snapshot_frame,
    summaries,
    sync,
    touch,
)

__all__ = ["connect", "sync", "summaries", "touch", "on_progress", "kept_frame", "snapshot_frame",
           "store_snapshot_frame"]
