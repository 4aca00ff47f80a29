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

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..store.record import read_record, scalar_column, summarize
from .mirror import _LISTED, _MEM, _ROWS, _SORTED, _location_dir
from .schema import _decode, _generation, _json_dumps, _new_generation, connect
from .snapshot import (
    _SNAPPED,
    _read_snapshot,
    _stray_stamp,
    _unchanged_since_snapshot,
    _write_listed,
    _write_snapshot,
)
from .stamps import (
    _SETTLED_NS,
    FINAL,
    RUNNING,
    WAITING,
    _final_column,
    _kind,
    _recheck_seconds,
    _recheck_stamps,
    _stamp,
)


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


__all__ = ["sync", "summaries", "touch", "on_progress"]
