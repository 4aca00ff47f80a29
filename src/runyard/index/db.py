"""The SQLite cache over all runs (``<home>/cache/runs-v1.db``): the index itself (see :mod:`runyard.index`).

Derived and rebuildable: delete the file and the next read rebuilds it. Writers
call :func:`touch` after changing a run. Every read reconciles with the run
directories: it lists them (new and removed runs), re-reads runs that are still
running or never finished, and — at most every ``RUNYARD_INDEX_RECHECK`` seconds
(default 5) — compares each finished run's stamp (the mtimes of ``.guild/attrs``
and of the attribute files it has that other tools edit in place) to catch
changes made behind our back, e.g. by Guild AI.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from .. import home as _home
from ..store.record import is_final, read_record, scalar_column, summarize

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


# Attributes Guild AI rewrites in place (``open(path, "w")``: the file's mtime changes, its
# directory's doesn't). Creating or deleting any attribute (Guild's first tag or comment, mark
# and unmark, runyard's atomic writes) changes the mtime of ``.guild/attrs`` itself.
_IN_PLACE = ("label", "tags", "comments", "flags")


# What the index may assume about a run between looks (the ``final`` column, low 2 bits):
RUNNING = 0  # may change at any moment (its scalars grow): read it every time
FINAL = 1  # finished: changes only through its attributes, checked every RUNYARD_INDEX_RECHECK s
WAITING = 2  # staged or pending: changes through attributes or markers, checked every time
# For a FINAL run the higher bits say which _IN_PLACE files it has (KNOWN set): the recheck
# stats the attrs directory and those files only. (A row without KNOWN gets all of them.)
KNOWN = 1 << 6


def _kind(rec: dict) -> int:
    if is_final(rec):
        return FINAL
    return WAITING if rec.get("status") in ("staged", "pending") else RUNNING


def _final_column(kind: int, rec: dict) -> int:
    """The ``final`` column of a run: its kind, and for a finished run which in-place
    attributes it has (a record holds a key for each attribute file it read)."""
    if kind != FINAL:
        return kind
    if "error" in rec:  # an attribute it couldn't read is no key of it: recheck them all
        return FINAL
    mask = sum(1 << (2 + i) for i, name in enumerate(_IN_PLACE) if name in rec)
    return FINAL | KNOWN | mask


def _stamp(run_dir: str | Path, markers: bool = False) -> int | None:
    """Latest mtime (ns) of the run's attrs directory and of the attributes edited in place
    (and with ``markers``, of ``.guild`` itself, where STAGED/PENDING/LOCK come and go)."""
    attrs = f"{run_dir}/.guild/attrs"
    stat = os.stat
    try:
        stamp = stat(attrs).st_mtime_ns
        if markers:
            stamp = max(stamp, stat(f"{run_dir}/.guild").st_mtime_ns)
    except OSError:
        return None
    for name in _IN_PLACE:
        try:
            m = stat(f"{attrs}/{name}").st_mtime_ns
        except OSError:
            continue
        if m > stamp:
            stamp = m
    return stamp


# A directory's mtime ticks coarsely: it only vouches that nothing was added or removed if it was
# already this much older than the listing it was read before.
_SETTLED_NS = 1_000_000_000
# (home, location) -> (the directory's mtime, when it was read, the names listed right after)
_LISTED: dict[tuple[str, str], tuple[int, int, list[str]]] = {}


def _entries(key: tuple[str, str], base: Path, listed: tuple[int, int]) -> list[str]:
    """The run directories' names: as this process last listed them if the directory's mtime is
    the same and was already settled then (see ``_SETTLED_NS``), else listed now."""
    prev = _LISTED.get(key)
    if prev is not None and prev[0] == listed[0] and prev[1] - prev[0] >= _SETTLED_NS:
        return prev[2]
    try:
        entries = [e.name for e in os.scandir(base) if len(e.name) >= 8 and e.name[0] != "."]
    except FileNotFoundError:
        return []
    _LISTED[key] = (*listed, entries)
    return entries


def _recheck_seconds() -> float:
    try:
        return float(os.environ.get("RUNYARD_INDEX_RECHECK", "5"))
    except ValueError:
        return 5.0


def _load(run_dir: str | Path, guild_names: set[str] | None = None, paths: list[str] | None = None) -> tuple[dict, list]:
    """A run's record and scalar summary; ``guild_names`` and ``paths`` as found by
    :func:`_load_at` (read here otherwise)."""
    from ..store.tfevents import run_scalars

    rec = read_record(run_dir, guild_names)
    try:
        summary = summarize(run_scalars(run_dir, paths))
    except Exception as e:  # noqa: BLE001 - a broken event file must not hide the run
        summary = []
        rec["error"] = (rec.get("error", "") + f"; scalars: {e}").lstrip("; ")
    rec["scalars"] = {scalar_column(s[0], s[1]): s[4] for s in summary}
    return rec, summary


PARALLEL_MIN = 400  # runs to read before it pays to start worker processes

_progress_hooks: list = []


def on_progress(fn: Any) -> Any:
    """Call ``fn(location, done, total)`` while :func:`sync` reads runs from their files (a first
    listing of a big home); returns a function that removes the hook. Used by the web view to
    show "indexing N runs"."""
    _progress_hooks.append(fn)
    return lambda: _progress_hooks.remove(fn) if fn in _progress_hooks else None


def _progress(location: str, done: int, total: int) -> None:
    for fn in list(_progress_hooks):
        try:
            fn(location, done, total)
        except Exception:  # noqa: BLE001 - a display hook never breaks a listing
            pass


def _load_at(d: str, stamp: int | None) -> tuple[int, dict, list] | None:
    """``(stamp, record, summary)`` of a run; a new run (``stamp`` None) gets its stamp here,
    before its files are read, so the parent stats nothing. None if it is no run (no opref).

    One listing of the run's directories finds both its event files and the names in
    ``.guild`` (opref, marker files): the files found are read after the record, so a run
    seen finished has all its scalars but for a file made since, which its stamp catches."""
    from ..store.tfevents import event_paths

    if stamp is None:
        stamp = _stamp(d)
        if stamp is None:
            return None
    names: set[str] = set()
    paths = event_paths(d, names)
    if "opref" not in names:
        return None
    rec, summary = _load(d, names, paths)
    return stamp, rec, summary


def _load_chunk(items: list[tuple[str, int | None]]) -> list:
    """:func:`_load_at` in a worker process: ``(stamp, record JSON, summary JSON)`` for each
    (sent back as text, which costs less to send and to read than the objects)."""
    out: list = []
    for d, s in items:
        got = _load_at(d, s)
        if got is not None:
            got[1]["dir"] = d
            got = (got[0], _json_dumps(got[1]), _json_dumps(got[2]))
        out.append(got)
    return out


PROGRESS_MIN = 200  # runs to read before a progress line may show (on the CLI, after 0.5 s)


class _Hooked:
    """Progress to the :func:`on_progress` hooks (and the terminal line, if any)."""

    def __init__(self, line: Any, location: str, total: int):
        self.line, self.location, self.total = line, location, total

    def update(self, done: int) -> None:
        if self.line is not None:
            self.line.update(done)
        _progress(self.location, done, self.total)

    def close(self) -> None:
        if self.line is not None:
            self.line.close()


def _load_many(dirs: list[tuple[str, int | None]], location: str = "runs") -> list:
    """:func:`_load_at` for many ``(run dir, stamp)`` (or, from a worker, :func:`_load_chunk`'s
    JSON text): in worker processes when there are enough (a first listing of
    a big Guild home), in order. From the ``runyard`` command on a terminal, a progress line
    ("indexing N runs: k of N") shows once it takes over 0.5 s; :func:`on_progress` hooks hear
    of it too."""
    from ..terminal import progress

    line = progress(f"indexing {len(dirs):,} runs", len(dirs)) if len(dirs) >= PROGRESS_MIN else None
    if _progress_hooks and len(dirs) >= 50:
        line = _Hooked(line, location, len(dirs))
    try:
        return _load_all(dirs, line)
    finally:
        if line is not None:
            line.close()


def _load_all(dirs: list[tuple[str, int | None]], line) -> list:
    workers = min(os.cpu_count() or 1, 4)
    if len(dirs) < PARALLEL_MIN or workers < 2:
        return _load_here(dirs, line)
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor

    method = "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() \
        else "spawn"
    size = max(50, len(dirs) // (workers * 8))
    chunks = [dirs[i:i + size] for i in range(0, len(dirs), size)]
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
            out: list = []
            for chunk in pool.map(_load_chunk, chunks):
                out.extend(chunk)
                if line is not None:
                    line.update(len(out))
            return out
    except (OSError, RuntimeError):  # no processes to be had: do it here
        return _load_here(dirs, line)


def _load_here(dirs: list[tuple[str, int | None]], line) -> list:
    out = []
    for i, (d, s) in enumerate(dirs, 1):
        out.append(_load_at(d, s))
        if line is not None and i % 100 == 0:
            line.update(i)
    return out


def _location_dir(home: Path, location: str) -> Path:
    return _home.runs_dir(home) if location == "runs" else _home.trash_dir(home)


# In-process mirror of index rows: (home, location) -> {id: (stamp, record)}. Records are
# shared between calls: treat them as read-only.
_MEM: dict[tuple[str, str], dict[str, tuple[int, dict]]] = {}
# (home, location) -> (generation, {id: (stamp, final)}): the index's rows as this process last
# read or wrote them, reused while the database's generation is unchanged.
_ROWS: dict[tuple[str, str], tuple[str, dict[str, tuple[int, int]]]] = {}
# (home, location) -> the last sorted result, returned again when nothing changed.
_SORTED: dict[tuple[str, str], list[dict]] = {}

GENERATION = "generation"  # meta key: a new random token with every change to the runs table


def _generation(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (GENERATION,)).fetchone()
    return None if row is None else str(row[0])


def _new_generation(db: sqlite3.Connection) -> str:
    """Mark the runs table changed (inside the writer's transaction); returns the new token."""
    gen = os.urandom(8).hex()
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (GENERATION, gen))
    return gen


def _recheck_stamps(base_s: str, rows: list[tuple[str, tuple[int, int]]]) -> list[int | None]:
    """Stamps of runs to compare with their index rows: a finished run's statting only its
    attrs directory and the in-place files it is known to have (a file gone: read it again).
    (Statting from two threads was measured slower: the GIL hand-offs cost more than the
    stats they overlap.)"""
    out: list[int | None] = []
    append = out.append
    stat = os.stat
    files = [(1 << (2 + i), "/" + name) for i, name in enumerate(_IN_PLACE)]
    for rid, row in rows:
        final = row[1]
        d = base_s + "/" + rid
        if final & 3 != FINAL:
            append(_stamp(d, final & 3 == WAITING))
        elif not final & KNOWN:
            append(_stamp(d))
        else:  # (this loop is the recheck's whole cost besides the stats)
            attrs = d + "/.guild/attrs"
            try:
                stamp = stat(attrs).st_mtime_ns
                for bit, name in files:
                    if final & bit:
                        m = stat(attrs + name).st_mtime_ns
                        if m > stamp:
                            stamp = m
            except OSError:
                stamp = _stamp(d)
            append(stamp)
    return out


def sync(home: Path, location: str = "runs") -> list[dict]:
    """All runs' records in ``location`` ("runs" or "trash"), reconciled with the directories.

    Records are dicts (``id, operation, started, stopped, status, exit_status, label, tags,
    marked, comments, project_dir, sourcecode_digest, flags, scalars, dir``, and ``error`` for a
    run that cannot be read), sorted newest first. They are shared: don't modify them.
    """
    base = _location_dir(home, location)
    base_s = str(base)
    key = (str(home), location)
    mem = _MEM.setdefault(key, {})
    try:
        listed = (os.stat(base).st_mtime_ns, time.time_ns())  # (taken before the listing)
        entries = None
    except FileNotFoundError:
        listed, entries = None, []
        if not os.path.isdir(home):  # reading never creates a home (nor its cache)
            mem.clear()
            return []
    db = connect(home)
    try:
        if not mem and listed is not None:
            fast = _unchanged_since_snapshot(db, key, location, base_s, listed[0])
            if fast is not None:
                return list(fast)
        if entries is None:
            entries = _entries(key, base, listed)
        datas: dict[str, Any] | None = None  # id -> its row's JSON text, or its record from the snapshot
        gen = _generation(db)
        if gen is None:  # a new database: give it a generation before reading its rows
            db.execute("BEGIN IMMEDIATE")
            gen = _generation(db) or _new_generation(db)
            db.execute("COMMIT")
        known = _ROWS.get(key)
        snapped = False
        if not mem:  # a new process: the records will come from here; read them in the same pass
            db.execute("BEGIN")  # (the generation, the rows and the snapshot as of one moment)
            try:
                gen = _generation(db)
                rows = {r[0]: (r[1], r[2]) for r in
                        db.execute("SELECT id, stamp, final FROM runs WHERE location = ?", (location,))}
                datas = _read_snapshot(db, location, gen, base_s, rows)
                snapped = datas is not None
                if datas is None:
                    datas = {}
                    for rid, data in db.execute(  # (newest first, as _newest_first sorts)
                            "SELECT id, data FROM runs WHERE location = ? "
                            "ORDER BY COALESCE(started, 0) DESC, id DESC", (location,)):
                        datas[rid] = data
            finally:
                db.execute("COMMIT")
        elif known is not None and gen is not None and known[0] == gen:  # no change since we looked
            rows = known[1]
        else:
            rows = {r[0]: (r[1], r[2]) for r in
                    db.execute("SELECT id, stamp, final FROM runs WHERE location = ?", (location,))}
        _ROWS.pop(key, None)  # (stored again below once this look is written)
        now = time.time()
        last = db.execute("SELECT value FROM meta WHERE key = ?", ("full_check:" + location,)).fetchone()
        full = last is None or now - float(last[0]) >= _recheck_seconds()
        records: list[dict] = []
        from_db: list[str] = []
        unreadable: list[str] = []
        updates = []
        present = set()
        to_load: list[tuple[str, int | None]] = []  # new, changed or unfinished runs: read from their files
        to_stamp: list[tuple[str, tuple[int, int]]] = []  # runs to compare with their rows
        mem_get = mem.get
        for rid in entries:
            row = rows.get(rid)
            if row is None:  # new: its stamp is taken where it is read (in a worker, for many)
                to_load.append((rid, None))
                continue
            if row[1] & 3 == FINAL and not full:  # recently checked: trust the index
                present.add(rid)
                m = mem_get(rid)
                if m is not None and m[0] == row[0]:
                    records.append(m[1])
                else:
                    from_db.append(rid)
                continue
            to_stamp.append((rid, row))
        for (rid, row), stamp in zip(to_stamp, _recheck_stamps(base_s, to_stamp)):
            if stamp is None:
                continue
            if row[1] & 3 and row[0] == stamp:
                present.add(rid)
                m = mem_get(rid)
                if m is not None and m[0] == stamp:
                    records.append(m[1])
                else:
                    from_db.append(rid)
                continue
            if not os.path.exists(base_s + "/" + rid + "/.guild/opref"):
                continue
            present.add(rid)
            to_load.append((rid, stamp))
        for (rid, _), got in zip(to_load, _load_many([(base_s + "/" + r, s) for r, s in to_load], location)):
            if got is None:  # gone, or no run
                continue
            stamp, rec, summary = got
            present.add(rid)
            if isinstance(rec, str):  # read by a worker: JSON text
                data, summary_data, rec = rec, summary, _decode(rec)
            else:
                rec["dir"] = base_s + "/" + rid
                data, summary_data = _json_dumps(rec), _json_dumps(summary)
            kind = _kind(rec)
            if kind == WAITING:
                stamp = _stamp(rec["dir"], True)
            updates.append((rid, location, stamp, _final_column(kind, rec), rec.get("started"), data, summary_data))
            if kind:  # running runs are never mirrored: a stamp alone can't tell two states apart
                mem[rid] = (stamp, rec)
            else:
                mem.pop(rid, None)
            records.append(rec)
        if from_db:
            want = set(from_db)
            if datas is not None:  # (in the database's order)
                cur = ((rid, rows[rid][0], data) for rid, data in datas.items() if rid in want)
            elif len(want) * 4 > len(rows):
                cur = db.execute("SELECT id, stamp, data FROM runs WHERE location = ?", (location,))
            else:
                marks = ",".join("?" * len(want))
                cur = db.execute(f"SELECT id, stamp, data FROM runs WHERE location = ? AND id IN ({marks})",
                                 (location, *want)) if len(want) < 900 else db.execute(
                    "SELECT id, stamp, data FROM runs WHERE location = ?", (location,))
            for rid, stamp, data in cur:
                if rid in want:
                    try:
                        rec = data if snapped else _decode(data)
                    except ValueError:  # one bad row must not break the listing: read its files
                        unreadable.append(rid)
                        continue
                    rec["dir"] = base_s + "/" + rid
                    mem[rid] = (stamp, rec)
                    records.append(rec)
            for rid in unreadable:
                rec, summary = _load(Path(base_s + "/" + rid))
                rec["dir"] = base_s + "/" + rid
                records.append(rec)
                updates.append((rid, location, _stamp(rec["dir"]) or 0, _kind(rec), rec.get("started"),
                                _json_dumps(rec), _json_dumps(summary)))
        gone = [rid for rid in rows if rid not in present]
        for rid in gone:
            mem.pop(rid, None)
        written = gen  # the generation that the rows (with our updates) now stand at; None: unknown
        if updates or gone or full:
            db.execute("BEGIN IMMEDIATE")
            try:
                before = _generation(db)
                db.executemany("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)", updates)
                db.executemany("DELETE FROM runs WHERE location = ? AND id = ?", [(location, g) for g in gone])
                if full:  # (stamped when done: a long first listing must not expire its own check)
                    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", ("full_check:" + location, time.time()))
                after = _new_generation(db) if updates or gone else before
                db.execute("COMMIT")
                written = after if before == gen else None  # (another process wrote since we read)
            except sqlite3.Error:
                db.execute("ROLLBACK")
                written = None
        if written is not None:
            if updates or gone:
                rows = dict(rows)
                for u in updates:
                    rows[u[0]] = (u[2], u[3])
                for g in gone:
                    rows.pop(g, None)
            _ROWS[key] = (written, rows)
            if datas is not None and not any(u[3] == RUNNING for u in updates):  # (else it changes at once)
                strays = [e for e in entries if e not in present]  # (not runs, or not runs yet)
                listed = None if listed is None else (*listed, {e: _stray_stamp(base_s + "/" + e) for e in strays})
                if not snapped or updates or gone:
                    records.sort(key=_newest_first, reverse=True)  # (in the order the snapshot keeps)
                    _write_snapshot(db, key, written, base_s, listed, rows, records)
                else:
                    _write_listed(db, location, written, listed)
    finally:
        db.close()
    if snapped and not (updates or gone or unreadable):  # (every record as the snapshot had it)
        _SNAPPED[key] = records
    prev = _SORTED.get(key)
    if prev is not None and not to_load and not from_db and len(prev) == len(records) and \
            set(map(id, prev)) == set(map(id, records)):
        return list(prev)  # the very same records as last time: the same order
    if datas is None or to_load or unreadable or len(from_db) != len(records):  # (else: in the database's order)
        records.sort(key=_newest_first, reverse=True)
    _SORTED[key] = records
    return list(records)


def _newest_first(r: dict) -> tuple:
    return (r.get("started") or 0, r["id"])


def summaries(home: Path, location: str, ids: list[str]) -> dict[str, list]:
    """Scalar summaries (see :func:`runyard.store.record.summarize`) of runs already synced."""
    out: dict[str, list] = {}
    if not ids:  # (nothing to read: no database opened, none made)
        return out
    db = connect(home)
    try:
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for rid, summary in db.execute(
                    f"SELECT id, summary FROM runs WHERE location = ? AND id IN ({marks})", (location, *chunk)):
                try:
                    out[rid] = _decode(summary)
                except ValueError:
                    out[rid] = []
    finally:
        db.close()
    return out


def touch(run) -> None:
    """Refresh one run's entry now (called by writers after they change a run)."""
    run_dir = Path(run.dir)
    location = "trash" if run_dir.parent.parent.name == "trash" else "runs"
    home = run_dir.parent.parent if location == "runs" else run_dir.parent.parent.parent
    stamp = _stamp(run_dir)
    db = connect(home)
    try:
        if stamp is None:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM runs WHERE location = ? AND id = ?", (location, run_dir.name))
            _new_generation(db)
            db.execute("COMMIT")
            return
        rec, summary = _load(run_dir)
        rec["dir"] = str(run_dir)
        kind = _kind(rec)
        if kind == WAITING:
            stamp = _stamp(run_dir, True)
        mem = _MEM.setdefault((str(home), location), {})
        if kind:
            mem[run_dir.name] = (stamp, rec)
        else:
            mem.pop(run_dir.name, None)
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (run_dir.name, location, stamp, _final_column(kind, rec), rec.get("started"), _json_dumps(rec),
                    _json_dumps(summary)))
        _new_generation(db)
        db.execute("COMMIT")
    finally:
        db.close()


# (At the end: the snapshot's functions use the definitions above.)
from .snapshot import (  # noqa: E402
    _SNAPPED,
    _read_snapshot,
    _stray_stamp,
    _unchanged_since_snapshot,
    _write_listed,
    _write_snapshot,
    kept_frame,
    snapshot_frame,
    store_snapshot_frame,
)

__all__ = ["connect", "sync", "summaries", "touch", "on_progress", "kept_frame", "snapshot_frame",
           "store_snapshot_frame"]
