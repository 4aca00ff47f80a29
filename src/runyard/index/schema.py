"""The index database (``<home>/cache/runs-v1.db``): its tables, opening it (:func:`connect`),
its generation token, and the JSON its rows hold."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from .. import home as _home

DB_NAME = "runs-v1.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT NOT NULL,
  location TEXT NOT NULL,
  stamp INTEGER NOT NULL,
  final INTEGER NOT NULL,
  started INTEGER,
  data TEXT NOT NULL,
  summary TEXT NOT NULL,
  PRIMARY KEY (location, id)
);
CREATE INDEX IF NOT EXISTS runs_stamp ON runs (location, id, stamp, final);
CREATE TABLE IF NOT EXISTS listing (
  location TEXT PRIMARY KEY,
  generation TEXT NOT NULL,
  base TEXT NOT NULL,
  rows TEXT NOT NULL,
  records BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS listing_frame (
  location TEXT PRIMARY KEY,
  generation TEXT NOT NULL,
  frame_of TEXT NOT NULL,
  frame BLOB NOT NULL
);
"""

try:
    import orjson as _orjson

    _loads = _orjson.loads

    def _dumps(v: Any) -> str:
        return _orjson.dumps(v, option=_orjson.OPT_SERIALIZE_NUMPY).decode()
except ImportError:  # pragma: no cover - orjson is optional
    _loads = json.loads

    def _dumps(v: Any) -> str:
        return json.dumps(v, allow_nan=True)


def _json_dumps(v: Any) -> str:
    try:
        return _dumps(v)
    except TypeError:  # an int beyond 64 bits, text orjson refuses: plain json (read by _decode)
        return json.dumps(v, default=str, allow_nan=True)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _decode(data: str) -> Any:
    """A stored row's JSON; raises ValueError if even plain json cannot read it."""
    try:
        return _loads(data)
    except ValueError:
        if _SURROGATE_ESCAPE.search(data):  # a lone surrogate (an older runyard wrote it): re-read the run
            raise
        return json.loads(data)


def connect(home: Path) -> sqlite3.Connection:
    """Open (creating if needed) the index database of ``home``.

    If the cache can't be used (a file where its directory should be, a directory where the
    database should be, no permission), one warning is printed and this process keeps the
    index in memory: listing works, only slower.
    """
    try:
        return _connect_file(home)
    except (OSError, sqlite3.Error) as e:
        return _in_memory(home, e)


class _KeptOpen(sqlite3.Connection):
    """The in-memory index of a home whose cache can't be used: it lives as long as the process."""

    def close(self) -> None:
        pass


_IN_MEMORY: dict[str, sqlite3.Connection] = {}


def _in_memory(home: Path, error: Exception) -> sqlite3.Connection:
    db = _IN_MEMORY.get(str(home))
    if db is None:
        import sys

        reason = getattr(error, "strerror", None) or str(error)
        sys.stderr.write(f"runyard: warning: cannot use the index cache {_home.cache_dir(home) / DB_NAME} "
                         f"({reason}); listing without it\n")
        db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False, factory=_KeptOpen)
        db.executescript(_SCHEMA)
        _IN_MEMORY[str(home)] = db
    return db


def _connect_file(home: Path) -> sqlite3.Connection:
    cache = _home.cache_dir(home)
    cache.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(cache / DB_NAME, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
    except sqlite3.DatabaseError:
        db.close()
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(cache / (DB_NAME + suffix))
            except FileNotFoundError:
                pass
        return _connect_file(home)
    return db


GENERATION = "generation"  # meta key: a new random token with every change to the runs table


def _generation(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (GENERATION,)).fetchone()
    return None if row is None else str(row[0])


def _new_generation(db: sqlite3.Connection) -> str:
    """Mark the runs table changed (inside the writer's transaction); returns the new token."""
    gen = os.urandom(8).hex()
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (GENERATION, gen))
    return gen

