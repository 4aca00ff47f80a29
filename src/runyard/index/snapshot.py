"""The listing snapshot: every record of a location as one piece, for the next process.

A process that had to read the index row by row (a new process) stores every record, newest
first, as one JSON array (table ``listing``) for the index as it was then (generation, the
rows' digest), and ``ls_runs()`` keeps its frame beside it (table ``listing_frame``). A new
process reads the snapshot in one piece instead of row by row, and when nothing can have
changed since (:func:`_snapshot_holds`) takes it as it is — or, for ``ls_runs()``, only the
kept frame (:func:`kept_frame`).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from .mirror import _LISTED, _MEM, _ROWS, _SORTED, _location_dir
from .schema import _generation, _json_dumps, _loads, connect
from .stamps import _SETTLED_NS, FINAL, WAITING, _recheck_seconds, _recheck_stamps, _stamp

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is optional
    _orjson = None

_SNAPPED: dict[tuple[str, str], list[dict]] = {}  # key -> the records this process took whole from it
_WROTE: dict[tuple[str, str], list[dict]] = {}  # key -> the records this process last stored in it


def _unchanged_since_snapshot(db: sqlite3.Connection, key: tuple[str, str], location: str, base_s: str,
                              base_mtime: int) -> list[dict] | None:
    """The snapshot's records if nothing can have changed since it was stored (see
    :func:`_snapshot_holds`). (Sets this process's caches as :func:`sync` would.)"""
    db.execute("BEGIN")
    try:
        held = _snapshot_holds(db, location, base_s, base_mtime)
        if held is None:
            return None
        got = db.execute("SELECT records FROM listing WHERE location = ?", (location,)).fetchone()
        rows = {r[0]: (r[1], r[2]) for r in
                db.execute("SELECT id, stamp, final FROM runs WHERE location = ?", (location,))}
    finally:
        db.execute("COMMIT")
    gen, listed_mtime, listed_at, strays, rechecked = held
    if rechecked:
        _note_rechecked(db, location, gen)
    try:
        records = _loads(got[0])
        if len(records) != len(rows) or any(r["id"] not in rows for r in records):
            return None
    except (ValueError, TypeError, KeyError):  # (a damaged snapshot is no snapshot)
        return None
    mem = _MEM[key]
    for r in records:
        mem[r["id"]] = (rows[r["id"]][0], r)
    _ROWS[key] = (gen, rows)
    _SORTED[key] = records
    _SNAPPED[key] = records
    _LISTED[key] = (listed_mtime, listed_at, [*rows, *strays])
    return records


def _snapshot_holds(db: sqlite3.Connection, location: str, base_s: str, base_mtime: int) -> tuple | None:
    """(In a read transaction.) ``(generation, mtime, listed_at, strays, rechecked)`` of the
    listing noted for the snapshot if nothing can have changed since: the same generation, the
    location's directory untouched since a moment well before that listing (and its entries
    that were no runs yet too), no run running, staged runs' markers as they were, and — when
    the recheck is due (``rechecked``: the caller stamps it) — every finished run's stamp."""
    gen = _generation(db)
    got = db.execute("SELECT generation, base FROM listing WHERE location = ?", (location,)).fetchone()
    if got is None or got[0] != gen or got[1] != base_s:
        return None
    listed = db.execute("SELECT value FROM meta WHERE key = ?", ("listed:" + location,)).fetchone()
    try:
        listed_gen, listed_mtime, listed_at, strays = _loads(listed[0])
        settled = listed_at - _SETTLED_NS
        if listed_gen != gen or listed_mtime != base_mtime or listed_mtime > settled or any(
                st is None or st > settled or _stray_stamp(base_s + "/" + e) != st for e, st in strays.items()):
            return None
    except (TypeError, ValueError, AttributeError):
        return None
    for rid, stamp, final in db.execute(  # (staged and pending runs: their markers, as sync checks them)
            "SELECT id, stamp, final FROM runs WHERE location = ? AND final & 3 != ?", (location, FINAL)):
        if final & 3 != WAITING or _stamp(base_s + "/" + rid, True) != stamp:
            return None
    last = db.execute("SELECT value FROM meta WHERE key = ?", ("full_check:" + location,)).fetchone()
    rechecked = last is None or time.time() - float(last[0]) >= _recheck_seconds()
    if rechecked:  # the recheck, as sync does it: every finished run's stamp as its row says
        finals = [(r[0], (r[1], r[2])) for r in db.execute(
            "SELECT id, stamp, final FROM runs WHERE location = ? AND final & 3 = ?", (location, FINAL))]
        if any(st != row[0] for (_, row), st in zip(finals, _recheck_stamps(base_s, finals))):
            return None
    return gen, listed_mtime, listed_at, strays, rechecked


def _write_at(db: sqlite3.Connection, gen: str, statements: list[tuple[str, tuple]]) -> bool:
    """Run ``statements`` in one write transaction if the index is still at generation ``gen``.
    Best effort (the snapshot is only ever a shortcut): False if not written."""
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            if _generation(db) != gen:
                return False
            for sql, args in statements:
                db.execute(sql, args)
            return True
        finally:
            db.execute("COMMIT")
    except sqlite3.Error:
        return False


def _note_rechecked(db: sqlite3.Connection, location: str, gen: str) -> None:
    """Stamp the recheck :func:`_snapshot_holds` did (if the index is still at ``gen``)."""
    _write_at(db, gen, [("INSERT OR REPLACE INTO meta VALUES (?, ?)", ("full_check:" + location, time.time()))])


def kept_frame(home: Path, location: str = "runs") -> bytes | None:
    """For a process that hasn't listed ``location`` yet: the frame that
    :func:`store_snapshot_frame` kept of the default listing, if nothing can have changed since
    (as :func:`_snapshot_holds` checks), read without the records themselves; else None."""
    key = (str(home), location)
    if _MEM.get(key):
        return None
    base_s = str(_location_dir(home, location))
    try:
        base_mtime = os.stat(base_s).st_mtime_ns
    except OSError:
        return None
    db = connect(home)
    try:
        db.execute("BEGIN")
        try:
            held = _snapshot_holds(db, location, base_s, base_mtime)
            got = None if held is None else db.execute(
                "SELECT generation, frame FROM listing_frame WHERE location = ?", (location,)).fetchone()
        finally:
            db.execute("COMMIT")
        if held is not None and held[4]:
            _note_rechecked(db, location, held[0])
    except sqlite3.Error:
        return None
    finally:
        db.close()
    return got[1] if got is not None and got[0] == held[0] else None


def _stray_stamp(path: str) -> int | None:
    """Latest mtime of a directory in ``runs/`` that is no run (yet) and of its ``.guild``
    (where a run's ``opref`` comes last)."""
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        return None
    try:
        return max(stamp, os.stat(path + "/.guild").st_mtime_ns)
    except OSError:
        return stamp


def _read_snapshot(db: sqlite3.Connection, location: str, gen: str | None, base_s: str,
                   rows: dict[str, tuple[int, int]]) -> dict[str, dict] | None:
    """The snapshot's records by id, newest first, if it is of the index as it is now
    (generation and rows' digest); else None. (Runs changed since are read as usual.)"""
    got = db.execute("SELECT generation, base, rows, records FROM listing WHERE location = ?",
                     (location,)).fetchone()
    if got is None or got[0] != gen or got[1] != base_s or got[2] != _rows_digest(rows):
        return None
    try:
        by_id = {r["id"]: r for r in _loads(got[3])}
    except (ValueError, TypeError, KeyError):  # (a damaged snapshot is no snapshot)
        return None
    return by_id if len(by_id) == len(rows) and all(isinstance(r, dict) for r in by_id.values()) else None


def _rows_digest(rows: dict[str, tuple[int, int]]) -> str:
    """A digest of the rows' ids and stamps (whatever order they were read in)."""
    import zlib

    text = "".join(f"{rid}{row[0]}," for rid, row in sorted(rows.items()))
    return f"{len(rows)}:{zlib.crc32(text.encode()):08x}"


def _write_snapshot(db: sqlite3.Connection, key: tuple[str, str], gen: str, base_s: str,
                    listed: tuple | None, rows: dict[str, tuple[int, int]], records: list[dict]) -> None:
    """Store ``records`` (every run of ``location``, newest first) as the snapshot, if the index
    is still at generation ``gen``. Best effort: a snapshot that can't be written (a value JSON
    can't hold exactly, another writer since) is simply not there."""
    location = key[1]
    if len(records) != len(rows) or any("error" in r for r in records):
        return
    try:
        blob = _orjson.dumps(records)
    except (TypeError, AttributeError):  # (an int beyond 64 bits; no orjson)
        return
    if _write_at(db, gen, [("INSERT OR REPLACE INTO listing VALUES (?, ?, ?, ?, ?)",
                            (location, gen, base_s, _rows_digest(rows), blob)), _listed(location, gen, listed)]):
        _WROTE[key] = records


def _write_listed(db: sqlite3.Connection, location: str, gen: str, listed: tuple | None) -> None:
    """Record that a listing at generation ``gen`` found the snapshot still true."""
    _write_at(db, gen, [_listed(location, gen, listed)])


def _listed(location: str, gen: str, listed: tuple | None) -> tuple[str, tuple]:
    """The statement that notes the directory's mtime, read before a listing that matched the
    snapshot at generation ``gen``, when it was read, and the stamps of the entries that were
    no runs (a run being made: its opref comes last)."""
    return ("INSERT OR REPLACE INTO meta VALUES (?, ?)",
            ("listed:" + location, _json_dumps([gen, *(listed or (None, 0, {}))])))


def snapshot_frame(records: list[dict]) -> bytes | None:
    """What :func:`store_snapshot_frame` stored for these very runs beside the snapshot that
    these records (the same objects) were taken whole from in this process; else None."""
    found = _owner(_SNAPPED, records)
    known = None if found is None else _ROWS.get(found)
    if known is None:
        return None
    db = connect(Path(found[0]))
    try:
        got = db.execute("SELECT generation, frame_of, frame FROM listing_frame WHERE location = ?",
                         (found[1],)).fetchone()
    finally:
        db.close()
    if got is None or got[0] != known[0] or got[1] != _ids_digest(records):
        return None
    return got[2]


def store_snapshot_frame(records: list[dict], encode: Any) -> None:
    """Keep ``encode()`` (bytes derived from exactly these records, or None) beside the snapshot
    that this process wrote them to or took them from (encoded only then)."""
    found = _owner(_WROTE, records) or _owner(_SNAPPED, records)
    known = None if found is None else _ROWS.get(found)
    if known is None:
        return
    blob = encode()
    if blob is None:
        return
    db = connect(Path(found[0]))
    try:
        _write_at(db, known[0], [("INSERT OR REPLACE INTO listing_frame VALUES (?, ?, ?, ?)",
                                  (found[1], known[0], _ids_digest(records), blob))])
    finally:
        db.close()


def _ids_digest(records: list[dict]) -> str:
    """Which runs, in which order (what a stored frame was made of)."""
    import zlib

    return f"{len(records)}:{zlib.crc32(','.join(r['id'] for r in records).encode()):08x}"


def _owner(lists: dict[tuple[str, str], list[dict]], records: list[dict]) -> tuple[str, str] | None:
    """The location whose kept list holds every one of these record objects."""
    for key, kept in lists.items():
        if len(records) <= len(kept):
            ids = set(map(id, kept))
            if all(id(r) in ids for r in records):
                return key
    return None
