"""What the web view and the reports show, read through runyard's API and store modules.

Nothing here knows the run-directory format: records come from :func:`runyard.api._records`
(the SQLite index), output lines from :mod:`runyard.store.output`, scalar series from
:mod:`runyard.store.tfevents`, source files from :mod:`runyard.launch.sourcecode`. What is added is
presentation: caching for a long-lived server, downsampling long series, safe file paths,
side-by-side diffs and syntax highlighting.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

from ..errors import SelectError, UsageError

# --- JSON ---------------------------------------------------------------------------------------

try:
    import orjson as _orjson

    _OPTS = _orjson.OPT_SERIALIZE_NUMPY | _orjson.OPT_NON_STR_KEYS

    def dumps(obj: Any) -> bytes:
        """JSON bytes (NaN and infinities become ``null``)."""
        try:
            return _orjson.dumps(obj, option=_OPTS)
        except TypeError:
            return _orjson.dumps(obj, option=_OPTS, default=str)
except ImportError:  # pragma: no cover - orjson is a dependency
    def dumps(obj: Any) -> bytes:
        return json.dumps(_clean(obj), default=str, allow_nan=False).encode()


def _clean(obj: Any) -> Any:  # pragma: no cover - only without orjson
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def json_for_html(obj: Any) -> str:
    """JSON safe to put inside ``<script type="application/json">`` (no ``</script>`` break-out);
    ``obj`` may be JSON already (bytes)."""
    text = (obj if isinstance(obj, bytes) else dumps(obj)).decode()
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# --- run ids and records --------------------------------------------------------------------------

_RUN_ID = re.compile(r"^[0-9A-Za-z_\-]{8,64}$")


def home() -> Path:
    """The runs home the API uses."""
    from .. import api

    return api._runs_home()


def run_location(run_id: str) -> tuple[Path, str] | None:
    """``(run_dir, "runs"|"trash")`` of the run with exactly this id, or None."""
    if not _RUN_ID.match(run_id or ""):
        return None
    from .. import home as _home

    h = home()
    for location, base in (("runs", _home.runs_dir(h)), ("trash", _home.trash_dir(h))):
        d = base / run_id
        if (d / ".guild" / "opref").is_file():
            return d, location
    return None


def run_record(run_id: str, want_summary: bool = True) -> dict:
    """The index record of one run, by full id (looked up in the runs, then the trash)."""
    from .. import api

    loc = run_location(run_id)
    if loc is None:
        raise SelectError(f"no run with id '{run_id}'")
    recs = api._records([run_id], (), {"include_batch": True}, deleted=loc[1] == "trash",
                        want_summary=want_summary)
    if not recs:
        raise SelectError(f"no run with id '{run_id}'")
    rec = recs[0]
    rec["location"] = loc[1]
    return rec


def resolve(runs: Any, deleted: bool | None = None, want_summary: bool = False) -> list[dict]:
    """Records of ``runs`` (ids, prefixes, ``1``, ``"1:3"`` ...); looks in the trash too when
    nothing matches among the runs (unless ``deleted`` is given)."""
    from .. import api

    kw = {"include_batch": True}
    if deleted is not None:
        return api._records(runs, (), kw, deleted=deleted, want_summary=want_summary)
    try:
        recs = api._records(runs, (), kw, want_summary=want_summary)
    except SelectError:
        recs = []
    if not recs:
        recs = api._records(runs, (), kw, deleted=True, want_summary=want_summary)
        for r in recs:
            r["location"] = "trash"
    return recs


def run_row(rec: dict) -> list:
    """The compact form of a record the runs page works with (see ``ROW_FIELDS``)."""
    return [rec["id"], rec.get("operation") or "", rec.get("started"), rec.get("stopped"), rec.get("status"),
            rec.get("exit_status"), rec.get("label") or "", list(rec.get("tags") or []), bool(rec.get("marked")),
            len(rec.get("comments") or []), rec.get("flags") or {}, rec.get("scalars") or {}]


ROW_FIELDS = ["id", "operation", "started", "stopped", "status", "exit_status", "label", "tags", "marked",
              "comments", "flags", "scalars"]


def _js_text(v: Any) -> str | None:
    """``String(v)`` in JavaScript for a flag value, or None where Python can't say it exactly."""
    t = type(v)
    if t is str:
        return v
    if t is float:
        # shortest round-trip digits in both languages; Python's fixed notation (no exponent) is
        # JavaScript's too, except for whole numbers ("1.0" / "1")
        r = repr(v)
        return r if "e" not in r and not r.endswith(".0") and math.isfinite(v) else None
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v) if -2**53 <= v <= 2**53 else None
    return None


def label_positions(label: str, keys: list, values: list) -> list[int] | None:
    """A label that only repeats flags ("lr=0.1 units=64") as the positions of those flags in
    ``keys``, exactly: ``" ".join(f"{keys[i]}={String(values[i])}")`` gives it back. Else None."""
    if not label:
        return None
    words = label.split(" ")
    if len(words) == len(keys):  # (the usual: every flag, in their order)
        for w, k, v in zip(words, keys, values):
            if w != f"{k}={_js_text(v)}" or _js_text(v) is None:
                break
        else:
            return list(range(len(keys)))
    at = {k: i for i, k in enumerate(keys)}
    out = []
    for word in words:
        k, eq, text = word.partition("=")
        i = at.get(k)
        if not eq or i is None or _js_text(values[i]) != text:
            return None
        out.append(i)
    return out


class CompactRows:
    """The runs in the compact form the runs page reads (``/api/runs?form=compact``): the fields of
    :func:`run_row` with each name sent once. ``operations`` and ``statuses`` are tables the rows'
    operation and status index; ``flag_sets`` and ``scalar_sets`` are lists of names: a row's flags
    are ``[set, value, ...]``, the values in the order of the set's names, and so are its scalars.
    A label that only repeats flags is an index into ``labels``, lists of the positions of those
    flags in the row's flag set (see :func:`label_positions`); no tags are 0; marked is 0 or 1
    (numbers, not lists: the fewer objects the page's JSON parse makes, the sooner it is done).

    The tables only grow, so each run's encoded row stays valid until the run changes: a list is
    the join of rows encoded before (the first one, of a 10,000-run home, takes ~70 ms)."""

    def __init__(self) -> None:
        self.tables: dict[str, dict] = {"operations": {}, "statuses": {}, "flag_sets": {}, "scalar_sets": {},
                                        "labels": {}}
        self._rows: dict[str, tuple[bytes, bytes]] = {}  # run id -> (its change signature, its row)

    def _index(self, table: str, key: Any) -> int:
        t = self.tables[table]
        i = t.get(key)
        if i is None:
            i = t[key] = len(t)
        return i

    def row(self, r: dict, sig: bytes | None = None) -> bytes:
        """The run's row (kept while ``sig``, its :func:`run_row` JSON, stays the same)."""
        got = self._rows.get(r["id"])
        if got is not None and sig is not None and got[0] == sig:
            return got[1]
        flags = r.get("flags") or {}
        scalars = r.get("scalars") or {}
        fkeys, fvals = tuple(flags), list(flags.values())
        label = r.get("label") or ""
        pos = label_positions(label, fkeys, fvals) if label else None
        fvals.insert(0, self._index("flag_sets", fkeys))
        row = dumps([r["id"], self._index("operations", r.get("operation") or ""), r.get("started"), r.get("stopped"),
                     self._index("statuses", r.get("status")), r.get("exit_status"),
                     label if pos is None else self._index("labels", tuple(pos)),
                     list(r.get("tags") or ()) or 0, 1 if r.get("marked") else 0, len(r.get("comments") or ()),
                     fvals, [self._index("scalar_sets", tuple(scalars)), *scalars.values()]])
        if sig is not None:
            self._rows[r["id"]] = (sig, row)
        return row

    def body(self, recs: list[dict], head: dict, sigs: dict[str, bytes] | None = None) -> bytes:
        """JSON of ``head`` (version, total ...), the tables and the rows of ``recs``."""
        rows = [self.row(r, sigs.get(r["id"]) if sigs else None) for r in recs]
        if sigs is not None and len(self._rows) > 2 * len(sigs) + 100:  # (runs gone long ago)
            self._rows = {k: v for k, v in self._rows.items() if k in sigs}
        top = dumps({"form": "compact", **head, "fields": ROW_FIELDS, **{k: list(t) for k, t in self.tables.items()}})
        return b"".join((top[:-1], b',"runs":[', b",".join(rows), b"]}"))


class RunsState:
    """The view's cached copy of the runs list, with a version number per change.

    ``refresh`` re-reads the list through the API (the index reconciles with the run
    directories); clients fetch everything once and then ask only for what changed since the
    version they have. A background thread refreshes while some client is polling.
    """

    TOMBSTONES = 5000

    def __init__(self, runs: Any = None, filters: dict | None = None, deleted: bool = False):
        self.runs = runs
        self.filters = dict(filters or {})
        self.deleted = deleted
        self.version = 0
        self.records: list[dict] = []
        self.by_id: dict[str, dict] = {}
        self._sig: dict[str, bytes] = {}
        self._ver: dict[str, int] = {}
        self._removed: "OrderedDict[str, int]" = OrderedDict()
        self._full: dict[str, bytes] = {}  # the whole list's JSON by form ("rows", "compact")
        self._compact = CompactRows()
        self._full_gzip: dict[str, bytes] = {}
        self.progress: tuple[int, int] | None = None  # (done, total) while a first listing runs
        self._loader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self.refreshed_at = 0.0
        self.duration = 0.0
        self._last_poll = 0.0
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- reading ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the runs and bump the version of every run that changed."""
        from .. import api

        with self._refresh_lock:
            t0 = time.perf_counter()
            first = not self.refreshed_at
            recs = api._records(self.runs, (), dict(self.filters), deleted=self.deleted, want_summary=True)
            with self._lock:
                seen = set()
                changed = False
                next_ver = self.version + 1
                for r in recs:
                    rid = r["id"]
                    seen.add(rid)
                    sig = dumps(run_row(r))
                    if self._sig.get(rid) != sig:
                        self._sig[rid] = sig
                        self._ver[rid] = next_ver
                        self._removed.pop(rid, None)
                        changed = True
                for rid in list(self._sig):
                    if rid not in seen:
                        del self._sig[rid]
                        self._ver.pop(rid, None)
                        self._removed[rid] = next_ver
                        changed = True
                while len(self._removed) > self.TOMBSTONES:
                    self._removed.popitem(last=False)
                if changed or not self.refreshed_at:
                    self.version = next_ver
                    self._full = {}
                    self._full_gzip = {}
                self.records = recs
                self.by_id = {r["id"]: r for r in recs}
                self.refreshed_at = time.monotonic()
                self.duration = time.perf_counter() - t0
                if first:  # the runs page comes next, then the whole list in its form: have both ready
                    self._names_locked()
                    self._full_gzip_locked("compact")

    def load_in_background(self) -> None:
        """Start the first listing in a thread (it may build the index of a big home), counting
        its progress in :attr:`progress`; :meth:`ready` says when it is done."""
        with self._lock:
            if self.refreshed_at or (self._loader is not None and self._loader.is_alive()):
                return
            self.progress = (0, _count_runs(self.deleted))
            self._loader = threading.Thread(target=self._first_load, name="runyard-view-index", daemon=True)
            self._loader.start()

    def _first_load(self) -> None:
        from .. import index

        def hook(location: str, done: int, total: int) -> None:
            self.progress = (done, total)

        remove = index.on_progress(hook)
        try:
            self.refresh()
        except Exception as e:  # noqa: BLE001 - shown by the next request
            self.load_error = e
        finally:
            remove()

    load_error: Exception | None = None

    def ready(self, wait: float = 0.0) -> bool:
        """True once the runs were read; starts reading them (and waits up to ``wait`` s) if not."""
        if self.refreshed_at:
            return True
        self.load_in_background()
        if self._loader is not None:
            self._loader.join(wait)
        if self.load_error is not None:
            e, self.load_error = self.load_error, None
            raise e
        return bool(self.refreshed_at)

    def ensure(self, max_age: float | None = None) -> None:
        """Refresh if never read (or older than ``max_age`` seconds)."""
        if not self.refreshed_at or (max_age is not None and time.monotonic() - self.refreshed_at > max_age):
            self.refresh()

    def _predicate(self, filter_text: str | None):
        if not filter_text or not filter_text.strip():
            return None
        from ..select.runs import Filters

        return Filters(search=filter_text, include_batch=True).predicate()

    def snapshot_gzip(self, form: str = "rows") -> bytes:
        """:meth:`snapshot` of every run, gzip-compressed (kept until the list changes)."""
        self.snapshot(form=form)  # (re-reads a stale list, starts the refresher)
        with self._lock:
            return self._full_gzip_locked(form)

    def _full_gzip_locked(self, form: str) -> bytes:
        import gzip

        if form not in self._full_gzip:
            # level 1: a 10,000-run list (2.4 MB) compresses in ~25 ms, not ~55 ms at level 5,
            # for ~20 % more bytes
            self._full_gzip[form] = gzip.compress(self._full_json_locked(form), 1)
        return self._full_gzip[form]

    def _full_json_locked(self, form: str) -> bytes:
        if form not in self._full:
            self._full[form] = self._body(self.records, form)
        return self._full[form]

    def _body(self, recs: list[dict], form: str = "rows", head: dict | None = None) -> bytes:
        if form == "compact":
            head = {"version": self.version, "total": len(self.records), **(head or {})}
            return self._compact.body(recs, head, self._sig)
        # each run's row is already JSON (its change signature): the list is their join
        sig = self._sig
        return b"".join((b'{"version":%d,"total":%d,"fields":' % (self.version, len(self.records)),
                         dumps(ROW_FIELDS), b',"runs":[', b",".join([sig[r["id"]] for r in recs]), b"]}"))

    def first_rows(self, limit: int, form: str = "rows") -> bytes:
        """JSON of the newest ``limit`` runs only (``partial: true``): what a big home's page draws
        first, in ``form`` ("rows" or "compact", see :class:`CompactRows`).

        ``names`` are the flag and scalar names of every run, so the table drawn first has the
        columns of the whole list (which then arrives without changing what is on screen)."""
        self.ensure(max_age=30.0)
        with self._lock:
            head = {"partial": len(self.records) > limit, "names": self._names_locked()}
            if form == "compact":
                return self._body(self.records[:limit], form, head)
            return dumps({"version": self.version, "total": len(self.records), **head, "fields": ROW_FIELDS,
                          "runs": [run_row(r) for r in self.records[:limit]]})

    def _names_locked(self) -> dict:
        if getattr(self, "_names_of", None) != self.version:
            flags: dict[str, None] = {}
            scalars: dict[str, None] = {}
            for r in self.records:
                flags.update(dict.fromkeys(r.get("flags") or ()))
                scalars.update(dict.fromkeys(r.get("scalars") or ()))
            self._names = {"flags": list(flags), "scalars": list(scalars)}
            self._names_of = self.version
        return self._names

    def snapshot(self, filter_text: str | None = None, form: str = "rows") -> bytes:
        """JSON of every run (matching ``filter_text``): ``{version, total, fields, runs}``, or
        in the ``"compact"`` form of :func:`compact_list`.

        Served from the cache (re-read first if nobody has looked for a while); a page that
        loads it then polls :meth:`changes`, which a background refresh keeps current."""
        self.ensure(max_age=30.0)
        self._last_poll = time.monotonic()
        self._start_refresher()
        pred = self._predicate(filter_text)
        with self._lock:
            if pred is None:
                return self._full_json_locked(form)
            return self._body([r for r in self.records if pred(r)], form)

    def changes(self, since: int, filter_text: str | None = None) -> dict:
        """Runs changed (or gone) since version ``since``; ``reload`` when that is too old."""
        self._last_poll = time.monotonic()
        self._start_refresher()
        pred = self._predicate(filter_text)
        with self._lock:
            if since > self.version or (self._removed and since < next(iter(self._removed.values())) - 1
                                        and len(self._removed) >= self.TOMBSTONES):
                return {"version": self.version, "reload": True}
            runs, removed = [], [rid for rid, v in self._removed.items() if v > since]
            for rid, v in self._ver.items():
                if v > since:
                    rec = self.by_id[rid]
                    if pred is None or pred(rec):
                        runs.append(run_row(rec))
                    else:
                        removed.append(rid)
            return {"version": self.version, "total": len(self.records), "runs": runs, "removed": removed}

    # -- background refresh --------------------------------------------------------------------
    def _start_refresher(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._refresh_loop, name="runyard-view-refresh", daemon=True)
        self._thread.start()

    def interval(self) -> float:
        """Seconds between refreshes: 1.5 s, or ten times a refresh's cost when that is more (many runs)."""
        return max(1.5, 10 * self.duration)

    def _refresh_loop(self) -> None:
        while not self._closed and time.monotonic() - self._last_poll < 20:
            time.sleep(self.interval())
            if self._closed:
                break
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - keep serving the last good list
                pass

    def close(self) -> None:
        self._closed = True


def _count_runs(deleted: bool) -> int:
    from .. import home as _home

    base = (_home.trash_dir if deleted else _home.runs_dir)(home())
    try:
        return sum(1 for e in os.scandir(base) if len(e.name) >= 8 and e.name[0] != ".")
    except OSError:
        return 0


def find_run(text: str, records: Iterable[dict] | None = None) -> str:
    """The full id of the run ``text`` names: its id, or a unique prefix of at least 4 hex
    digits (never a position in a list, whose meaning changes as runs are added). ``records``
    are searched for prefixes (the view's cached list), else the index."""
    if run_location(text) is not None:
        return text
    if not re.match(r"^[0-9a-fA-F]{4,32}$", text or ""):
        raise SelectError(f"no run '{text}': name a run by its id or a unique prefix of at least 4 hex digits")
    from .. import api

    want = text.lower()
    pools = [records] if records is not None else []
    pools += [api._records(None, (), {"include_batch": True}),
              api._records(None, (), {"include_batch": True}, deleted=True)]
    for pool in pools:
        found = [r["id"] for r in pool if r["id"].startswith(want)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise SelectError(f"'{text}' is ambiguous: it starts {len(found)} run ids ({', '.join(f[:8] for f in found[:5])})")
    raise SelectError(f"no run with an id starting '{text}'")


def fresh_record(run_dir: Path, location: str = "runs") -> dict:
    """A run's record read from its files now (for a running run, whose index copy ages)."""
    from ..store.record import read_record, scalar_column, summarize
    from ..store.tfevents import run_scalars

    rec = read_record(run_dir)
    summary = summarize(run_scalars(run_dir))
    rec["scalars"] = {scalar_column(x[0], x[1]): x[4] for x in summary}
    rec["summary"] = summary
    rec["dir"] = str(run_dir)
    rec["location"] = location
    return rec


# --- scalar series --------------------------------------------------------------------------------

_SERIES_CACHE: "OrderedDict[str, tuple[tuple, dict]]" = OrderedDict()
_SERIES_LOCK = threading.Lock()
_SERIES_INFLIGHT: dict[str, threading.Lock] = {}
_SERIES_KEEP = 64  # runs whose series stay in memory...
_SERIES_MAX_POINTS = 8_000_000  # ...as long as they hold no more points than this in all


def _events_signature(run_dir: Path) -> tuple:
    from ..store.tfevents import event_files

    sig = []
    for p in event_files(run_dir):
        try:
            st = p.stat()
        except OSError:
            continue
        sig.append((str(p), st.st_size, st.st_mtime_ns))
    return tuple(sig)


def series(run_dir: str | os.PathLike) -> dict[tuple[str, str], tuple[Any, Any]]:
    """Every scalar series of a run: ``{(path, tag): (steps, values)}`` as numpy arrays sorted by
    step. Cached per run until its event files change; concurrent callers share one read."""
    run_dir = Path(run_dir)
    key = str(run_dir)
    with _SERIES_LOCK:
        key_lock = _SERIES_INFLIGHT.setdefault(key, threading.Lock())
    with key_lock:
        sig = _events_signature(run_dir)
        with _SERIES_LOCK:
            hit = _SERIES_CACHE.get(key)
            if hit is not None and hit[0] == sig:
                _SERIES_CACHE.move_to_end(key)
                return hit[1]
        out = _read_series(run_dir)
        with _SERIES_LOCK:
            _SERIES_CACHE[key] = (sig, out)
            _SERIES_CACHE.move_to_end(key)
            total = sum(_points(v[1]) for v in _SERIES_CACHE.values())
            while len(_SERIES_CACHE) > 1 and (len(_SERIES_CACHE) > _SERIES_KEEP or total > _SERIES_MAX_POINTS):
                old, (_, dropped) = _SERIES_CACHE.popitem(last=False)
                _SERIES_INFLIGHT.pop(old, None)
                total -= _points(dropped)
        return out


def series_version(run_dir: str | os.PathLike) -> str:
    """A short text that changes whenever a run's event files change (live charts poll it)."""
    import hashlib

    return hashlib.md5(repr(_events_signature(Path(run_dir))).encode()).hexdigest()[:12]


_TIMES_CACHE: "OrderedDict[str, tuple[tuple, dict]]" = OrderedDict()


def series_times(run_dir: str | os.PathLike) -> dict[tuple[str, str], Any]:
    """Wall times (seconds) of every point of :func:`series`, in the same (step) order; a
    series whose times can't be matched point for point is left out. Read on demand only (for
    a time x axis): it decodes every record."""
    import numpy as np

    from ..store.tfevents import event_files, read_scalars

    run_dir = Path(run_dir)
    key = str(run_dir)
    sig = _events_signature(run_dir)
    with _SERIES_LOCK:
        hit = _TIMES_CACHE.get(key)
        if hit is not None and hit[0] == sig:
            return hit[1]
    raw: dict[tuple[str, str], tuple[list, list]] = {}
    for path in event_files(run_dir):
        rel = Path(os.path.relpath(path.parent, run_dir)).as_posix()
        rel = "" if rel == "." else rel
        try:
            for tag, _value, step, wall in read_scalars(path):
                st, wt = raw.setdefault((rel, tag), ([], []))
                st.append(step)
                wt.append(wall)
        except OSError:
            continue
    out = {}
    for k, (steps, walls) in raw.items():
        s_arr, w_arr = np.asarray(steps, np.int64), np.asarray(walls, np.float64)
        if len(s_arr) > 1 and not bool(np.all(s_arr[1:] >= s_arr[:-1])):
            w_arr = w_arr[np.argsort(s_arr, kind="stable")]
        out[k] = w_arr
    with _SERIES_LOCK:
        _TIMES_CACHE[key] = (sig, out)
        while len(_TIMES_CACHE) > 16:
            _TIMES_CACHE.popitem(last=False)
    return out


def _points(series_map: dict) -> int:
    return sum(len(s) for s, _ in series_map.values())


def prewarm_series(run_dir: str | os.PathLike) -> None:
    """Start reading a run's series in the background (the run page asks for them soon)."""
    def work() -> None:
        try:
            series(run_dir)
        except Exception:  # noqa: BLE001 - the request that needs them reports errors
            pass

    threading.Thread(target=work, name="runyard-view-series", daemon=True).start()


def _read_series(run_dir: Path) -> dict[tuple[str, str], tuple[Any, Any]]:
    import numpy as np

    from ..store.tfevents import run_series

    out: dict[tuple[str, str], tuple[Any, Any]] = {}
    for k, (s, v) in run_series(run_dir).items():
        if len(s) > 1 and not bool(np.all(s[1:] >= s[:-1])):
            order = np.argsort(s, kind="stable")
            s, v = s[order], v[order]
        out[k] = (s, v)
    return out


def downsample(steps: Any, values: Any, max_points: int = 2000, x0: float | None = None,
               x1: float | None = None) -> tuple[list, list, bool]:
    """See :func:`downsample_index`; returns ``(steps, values, downsampled)`` as lists."""
    idx, down = downsample_index(steps, values, max_points, x0, x1)
    return steps[idx].tolist(), values[idx].tolist(), down


def downsample_index(steps: Any, values: Any, max_points: int = 2000, x0: float | None = None,
                     x1: float | None = None) -> tuple[Any, bool]:
    """At most about ``max_points`` points of a series (within ``[x0, x1]`` if given).

    Long series are cut into equal buckets and each bucket keeps its lowest and its highest
    point (in step order), so spikes and dips survive; the first and last points are kept.
    Returns ``(steps, values, downsampled)``.
    """
    import numpy as np

    i0, i1 = 0, len(steps)
    if x0 is not None:
        i0 = max(0, int(np.searchsorted(steps, x0, "left")) - 1)
    if x1 is not None:
        i1 = min(len(steps), int(np.searchsorted(steps, x1, "right")) + 1)
    s, v = steps[i0:i1], values[i0:i1]
    n = len(s)
    if n <= max_points:
        return np.arange(i0, i1), False
    buckets = max(1, max_points // 2)
    size = -(-n // buckets)
    buckets = -(-n // size)
    pad = buckets * size - n
    finite = np.isfinite(v)
    lo = np.where(finite, v, np.inf)
    hi = np.where(finite, v, -np.inf)
    if pad:
        lo = np.concatenate([lo, np.full(pad, np.inf)])
        hi = np.concatenate([hi, np.full(pad, -np.inf)])
    base = np.arange(buckets) * size
    imin = base + lo.reshape(buckets, size).argmin(axis=1)
    imax = base + hi.reshape(buckets, size).argmax(axis=1)
    idx = np.unique(np.concatenate([imin, imax, [0, n - 1]]))
    idx = idx[idx < n]
    return idx + i0, True


def series_json(run_dir: str | os.PathLike, max_points: int = 2000, x0: float | None = None,
                x1: float | None = None, only: Iterable[str] | None = None, times: bool = False) -> list[dict]:
    """Downsampled series of a run, ready for the charts: ``[{key, path, tag, steps, values, n,
    downsampled}]``, with ``times`` (wall time in seconds per point) when asked."""
    from ..store.record import scalar_column

    want = set(only) if only else None
    walls = series_times(run_dir) if times else {}
    out = []
    for (path, tag), (s, v) in sorted(series(run_dir).items(), key=lambda kv: (kv[0][1], kv[0][0])):
        key = scalar_column(path, tag)
        if want is not None and key not in want:
            continue
        idx, down = downsample_index(s, v, max_points, x0, x1)
        item = {"key": key, "path": path, "tag": tag, "steps": s[idx].tolist(), "values": v[idx].tolist(),
                "n": int(len(s)), "downsampled": down}
        w = walls.get((path, tag))
        if times and w is not None and len(w) == len(s):
            item["times"] = w[idx].tolist()
        out.append(item)
    return out


# --- output -----------------------------------------------------------------------------------------

def output(run_dir: str | os.PathLike, start: int = 0, tail: int | None = None) -> dict:
    """Output lines from ``start`` (or the last ``tail`` lines): ``{start, next, lines: [[t, stream, text]]}``."""
    from ..store.output import read_lines

    lines = [list(x) for x in read_lines(Path(run_dir), max(0, start))]
    first = max(0, start)
    if tail is not None and len(lines) > tail:
        first += len(lines) - tail
        lines = lines[-tail:]
    return {"start": first, "next": first + len(lines), "lines": lines}


# --- files ------------------------------------------------------------------------------------------

from ..store.paths import PathRefused, read_capped, read_run_file, resolve_in_run, safe_relpath  # noqa: E402,F401  (one rule)


def list_dir(run_dir: Path, rel: str = "") -> list[dict]:
    """Entries of a directory inside a run: ``[{name, path, dir, size, mtime, outside}]``, dirs first."""
    target = resolve_in_run(run_dir, rel)
    if not target.is_dir():
        raise PathRefused("not a directory")
    rel = safe_relpath(rel)
    out = []
    try:
        entries = list(os.scandir(target))
    except OSError as e:
        raise UsageError(f"cannot list {rel or 'the run directory'}: {e.strerror}") from None
    for e in entries:
        path = f"{rel}/{e.name}" if rel else e.name
        item = {"name": e.name, "path": path, "dir": False, "size": None, "mtime": None, "outside": False,
                "link": e.is_symlink()}
        try:
            real = resolve_in_run(run_dir, path)
            st = real.stat()
            item["dir"] = real.is_dir()
            item["size"] = None if item["dir"] else st.st_size
            item["mtime"] = int(st.st_mtime * 1000)
        except PathRefused:
            item["outside"] = True
        except OSError:
            item["outside"] = True  # a dangling link
        out.append(item)
    out.sort(key=lambda i: (not i["dir"], i["name"].lower()))
    return out


def walk_files(run_dir: Path, skip_guild: bool = True, limit: int = 5000) -> list[tuple[str, int]]:
    """``(relpath, size)`` of regular files in a run (symlinks not followed), sorted."""
    out: list[tuple[str, int]] = []
    root = str(run_dir)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            rel_dir = ""
            if skip_guild and ".guild" in dirnames:
                dirnames.remove(".guild")
        dirnames.sort()
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                continue
            try:
                size = os.path.getsize(p)
            except OSError:
                continue
            out.append(((rel_dir + "/" if rel_dir else "") + name, size))
            if len(out) >= limit:
                return out
    return out


IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp", ".svg": "image/svg+xml", ".bmp": "image/bmp"}


# --- source -----------------------------------------------------------------------------------------

def source_files(run_dir: Path) -> list[str]:
    """Source files recorded for the run (its manifest)."""
    from ..launch.sourcecode import manifest_files

    return manifest_files(Path(run_dir))


def read_text(path: Path, limit: int = 2_000_000) -> tuple[str, bool]:
    """A file's text (UTF-8, undecodable bytes replaced) and whether it was cut at ``limit`` bytes."""
    data, cut = read_capped(path, limit)
    return data.decode("utf-8", "replace"), cut


def highlight(name: str, text: str) -> str:
    """Syntax-highlighted HTML (Pygments; every character of ``text`` escaped), line-numbered."""
    from pygments import highlight as _hl
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import TextLexer, get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_for_filename(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        low = name.lower()
        if low.endswith((".r", ".rmd")):
            from pygments.lexers import SLexer

            lexer = SLexer(stripnl=False)
        else:
            lexer = TextLexer(stripnl=False)
    if len(text) > 400_000:
        lexer = TextLexer(stripnl=False)
    return _hl(text, lexer, HtmlFormatter(linenos="table", cssclass="hl", wrapcode=True))


def highlight_css() -> str:
    """The stylesheet for :func:`highlight` output."""
    from pygments.formatters import HtmlFormatter

    css = HtmlFormatter(style="friendly").get_style_defs(".hl")
    # the style's lighter token colours fail WCAG AA on white: darken each until it passes 4.5:1
    return re.sub(r"color: (#[0-9a-fA-F]{6})", lambda m: "color: " + _readable_on_white(m.group(1)), css)


def _luminance(rgb: tuple[float, float, float]) -> float:
    def ch(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (ch(x) for x in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _readable_on_white(hex_color: str, ratio: float = 4.6) -> str:
    rgb = [int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    while 1.05 / (_luminance(tuple(rgb)) + 0.05) < ratio:
        rgb = [c * 0.92 for c in rgb]
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgb)


# --- diffs ------------------------------------------------------------------------------------------

def diff_rows(a: list[str], b: list[str], context: int = 3) -> list[dict]:
    """Side-by-side diff rows of two line lists.

    Each row: ``{"op": "same"|"del"|"add"|"chg"|"skip", "la", "a", "lb", "b"}`` (1-based line
    numbers; ``skip`` stands for ``n`` identical lines not shown).
    """
    import difflib

    sm = difflib.SequenceMatcher(None, a, b, autojunk=len(a) + len(b) > 4000)
    rows: list[dict] = []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            n = i2 - i1
            if n > 2 * context + 1:
                head = 0 if not rows else context
                tail = 0 if i2 == len(a) and j2 == len(b) else context
                for k in range(head):
                    rows.append({"op": "same", "la": i1 + k + 1, "a": a[i1 + k], "lb": j1 + k + 1, "b": b[j1 + k]})
                skipped = n - head - tail
                if skipped > 0:
                    rows.append({"op": "skip", "n": skipped})
                for k in range(n - tail, n):
                    rows.append({"op": "same", "la": i1 + k + 1, "a": a[i1 + k], "lb": j1 + k + 1, "b": b[j1 + k]})
            else:
                for k in range(n):
                    rows.append({"op": "same", "la": i1 + k + 1, "a": a[i1 + k], "lb": j1 + k + 1, "b": b[j1 + k]})
        elif tag == "replace":
            for k in range(max(i2 - i1, j2 - j1)):
                ia, jb = i1 + k, j1 + k
                rows.append({"op": "chg",
                             "la": ia + 1 if ia < i2 else None, "a": a[ia] if ia < i2 else None,
                             "lb": jb + 1 if jb < j2 else None, "b": b[jb] if jb < j2 else None})
        elif tag == "delete":
            for k in range(i1, i2):
                rows.append({"op": "del", "la": k + 1, "a": a[k], "lb": None, "b": None})
        elif tag == "insert":
            for k in range(j1, j2):
                rows.append({"op": "add", "la": None, "a": None, "lb": k + 1, "b": b[k]})
    return rows


def diff_stats(rows: list[dict]) -> tuple[int, int]:
    """(lines removed, lines added) in diff rows."""
    rem = sum(1 for r in rows if r["op"] in ("del", "chg") and r.get("a") is not None)
    add = sum(1 for r in rows if r["op"] in ("add", "chg") and r.get("b") is not None)
    return rem, add


# --- formatting -----------------------------------------------------------------------------------

def fmt_time(us: Any) -> str:
    """Local time of a µs timestamp, ``YYYY-MM-DD HH:MM:SS``."""
    if us is None:
        return ""
    from datetime import datetime

    try:
        return datetime.fromtimestamp(us / 1e6).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):
        return str(us)


def fmt_duration(started: Any, stopped: Any, status: str | None = None) -> str:
    """``H:MM:SS`` between two µs timestamps (until now for a running run)."""
    from ..compare import duration

    return duration(started, stopped, status)


def fmt_value(v: Any) -> str:
    """A flag or attribute value as the CLI shows it."""
    if v is None:
        return ""
    if isinstance(v, float):
        return fmt_number(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str)
    from ..flags import format_value

    try:
        return format_value(v)
    except Exception:  # noqa: BLE001
        return str(v)


def fmt_number(v: Any) -> str:
    """A scalar value with up to 6 significant digits."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v == int(v) and abs(v) < 1e15:
            return str(int(v)) if abs(v) >= 1e6 else f"{v:g}"
        return f"{v:.6g}"
    return str(v)


def fmt_size(n: Any) -> str:
    """Bytes as ``12.3 KB``."""
    if n is None:
        return ""
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
