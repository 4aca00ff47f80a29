"""The view's live copy of the runs list: versions, changes since a version, background refresh."""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from typing import Any

from ..present.jsonenc import dumps
from ..present.lookup import home
from .rows import ROW_FIELDS, CompactRows, run_row


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
