"""The SQLite cache over all runs (``<home>/cache/runs-v1.db``).

Derived and rebuildable: delete the file and the next read rebuilds it. Writers
call :func:`touch` after changing a run. Every read reconciles with the run
directories: it lists them (new and removed runs), re-reads runs that are still
running or never finished, and — at most every ``RUNYARD_INDEX_RECHECK`` seconds
(default 5) — compares each finished run's stamp (the mtimes of ``.guild/attrs``
and of the attribute files other tools edit in place) to catch changes made
behind our back, e.g. by Guild AI.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from .. import home as _home
from ..store.record import is_final, read_record, summarize

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
    except TypeError:
        return json.dumps(v, default=str, allow_nan=True)


def connect(home: Path) -> sqlite3.Connection:
    """Open (creating if needed) the index database of ``home``."""
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
        return connect(home)
    return db


_IN_PLACE = ("label", "tags", "comments", "flags")  # attributes Guild AI rewrites in place


def _stamp(run_dir: Path) -> int | None:
    attrs = run_dir / ".guild" / "attrs"
    try:
        stamp = os.stat(attrs).st_mtime_ns
    except OSError:
        return None
    for name in _IN_PLACE:
        try:
            stamp = max(stamp, os.stat(attrs / name).st_mtime_ns)
        except OSError:
            pass
    return stamp


def _recheck_seconds() -> float:
    try:
        return float(os.environ.get("RUNYARD_INDEX_RECHECK", "5"))
    except ValueError:
        return 5.0


def _load(run_dir: Path) -> tuple[dict, list]:
    from ..store.tfevents import run_scalars

    rec = read_record(run_dir)
    try:
        summary = summarize(run_scalars(run_dir))
    except Exception as e:  # noqa: BLE001 - a broken event file must not hide the run
        summary = []
        rec["error"] = (rec.get("error", "") + f"; scalars: {e}").lstrip("; ")
    rec["scalars"] = {(_col(p, t)): s[4] for s in summary for p, t in [(s[0], s[1])]}
    return rec, summary


def _col(path: str, tag: str) -> str:
    from ..store.record import scalar_column

    return scalar_column(path, tag)


def _location_dir(home: Path, location: str) -> Path:
    return _home.runs_dir(home) if location == "runs" else _home.trash_dir(home)


def sync(home: Path, location: str = "runs", want_summary: bool = False) -> list[dict]:
    """All runs' records in ``location`` ("runs" or "trash"), reconciled with the directories.

    Records carry ``dir``; with ``want_summary`` also ``summary`` (scalar summaries).
    Sorted newest first (by ``started``, else ``initialized``).
    """
    base = _location_dir(home, location)
    try:
        entries = [e.name for e in os.scandir(base) if len(e.name) >= 8 and not e.name.startswith(".")]
    except FileNotFoundError:
        entries = []
    db = connect(home)
    try:
        cur = db.execute(
            "SELECT id, stamp, final, data" + (", summary" if want_summary else "") +
            " FROM runs WHERE location = ?", (location,))
        cached = {row[0]: row for row in cur}
        now = time.time()
        last = db.execute("SELECT value FROM meta WHERE key = ?", ("full_check:" + location,)).fetchone()
        full = last is None or now - float(last[0]) >= _recheck_seconds()
        records: list[dict] = []
        updates = []
        present = set()
        for rid in entries:
            run_dir = base / rid
            row = cached.get(rid)
            if row is not None and row[2] and not full:
                stamp = row[1]  # finished and recently checked: trust the index
            else:
                stamp = _stamp(run_dir)
                if stamp is None:
                    continue
            present.add(rid)
            if row is not None and row[2] and row[1] == stamp:
                rec = _loads(row[3])
                if want_summary:
                    rec["summary"] = _loads(row[4])
            else:
                if not (run_dir / ".guild" / "opref").exists():
                    present.discard(rid)
                    continue
                rec, summary = _load(run_dir)
                updates.append((rid, location, stamp, 1 if is_final(rec) else 0,
                                rec.get("started"), _json_dumps(rec), _json_dumps(summary)))
                if want_summary:
                    rec["summary"] = summary
            rec["dir"] = str(run_dir)
            records.append(rec)
        gone = [rid for rid in cached if rid not in present]
        if updates or gone or full:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)", updates)
                db.executemany("DELETE FROM runs WHERE location = ? AND id = ?", [(location, g) for g in gone])
                if full:
                    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", ("full_check:" + location, now))
                db.execute("COMMIT")
            except sqlite3.Error:
                db.execute("ROLLBACK")
    finally:
        db.close()
    records.sort(key=lambda r: (r.get("started") or 0, r["id"]), reverse=True)
    return records


def touch(run) -> None:
    """Refresh one run's entry now (called by writers after they change a run)."""
    run_dir = Path(run.dir)
    location = "trash" if run_dir.parent.parent.name == "trash" else "runs"
    home = run_dir.parent.parent if location == "runs" else run_dir.parent.parent.parent
    stamp = _stamp(run_dir)
    db = connect(home)
    try:
        if stamp is None:
            db.execute("DELETE FROM runs WHERE location = ? AND id = ?", (location, run_dir.name))
            return
        rec, summary = _load(run_dir)
        db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (run_dir.name, location, stamp, 1 if is_final(rec) else 0, rec.get("started"),
                    _json_dumps(rec), _json_dumps(summary)))
    finally:
        db.close()
