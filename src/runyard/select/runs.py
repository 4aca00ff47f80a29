"""Choosing runs: selectors (``1``, ``"1:3"``, ids, prefixes, lists, DataFrames) and filters.

Filters apply first (newest first), then selectors index into what is left —
as Guild AI does: ``ls_runs(1, completed=True)`` is the latest completed run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import SelectError
from ..flags import lookup_flag
from .filter import UNDEFINED

STATUS_FILTERS = ("running", "completed", "error", "terminated", "pending", "staged")
_RANGE = re.compile(r"^(\d*):(\d*)$")


@dataclass
class Filters:
    """What to keep before selecting. Status filters are OR-ed; the rest are AND-ed."""

    statuses: list[str] = field(default_factory=list)
    marked: bool | None = None
    labels: list[str] = field(default_factory=list)
    unlabeled: bool = False
    tags: list[str] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    started: str | None = None
    digest: str | None = None
    filter: str | None = None
    include_batch: bool = False
    search: str | None = None  # a search box: a filter expression or plain words (the web view)

    @classmethod
    def from_kwargs(cls, **kw: Any) -> "Filters":
        """Build from the API's keyword filters (``completed=True``, ``tag="best"``, ...)."""
        f = cls()
        for name in STATUS_FILTERS:
            if kw.pop(name, None):
                f.statuses.append(name)
        if kw.pop("marked", None):
            f.marked = True
        if kw.pop("unmarked", None):
            f.marked = False
        f.labels = _as_list(kw.pop("label", None))
        f.unlabeled = bool(kw.pop("unlabeled", False))
        f.tags = _as_list(kw.pop("tag", None))
        f.operations = _as_list(kw.pop("operation", None))
        f.comments = _as_list(kw.pop("comment", None))
        f.started = kw.pop("started", None)
        f.digest = kw.pop("digest", None)
        f.filter = kw.pop("filter", None)
        f.include_batch = bool(kw.pop("include_batch", False))
        if kw:
            raise SelectError(f"unknown filter '{next(iter(kw))}' (filters: {', '.join(FILTER_NAMES)})")
        return f

    def predicate(self):
        """A function record -> bool (compiles the filter expression and time range once)."""
        checks = []
        if self.statuses:
            st = set(self.statuses)
            checks.append(lambda r: r.get("status") in st)
        if self.marked is not None:
            want = self.marked
            checks.append(lambda r: bool(r.get("marked")) == want)
        if self.labels:
            labels = self.labels
            checks.append(lambda r: any((l == "-" and not r.get("label")) or (l != "-" and l in (r.get("label") or ""))
                                        for l in labels))
        if self.unlabeled:
            checks.append(lambda r: not r.get("label"))
        if self.tags:
            tags = set(self.tags)
            checks.append(lambda r: bool(tags & set(r.get("tags") or ())))
        if self.operations:
            ops = [_op_matcher(o) for o in self.operations]
            checks.append(lambda r: any(m(r.get("operation") or "") for m in ops))
        if self.comments:
            words = [c.lower() for c in self.comments]
            checks.append(lambda r: any(w in (c.get("body") or "").lower()
                                        for c in (r.get("comments") or []) if isinstance(c, dict) for w in words))
        if self.digest:
            d = self.digest
            checks.append(lambda r: (r.get("sourcecode_digest") or "").startswith(d))
        if self.started:
            from .timerange import parse_started

            start, end = parse_started(self.started)
            lo = start.timestamp() * 1e6 if start else None
            hi = end.timestamp() * 1e6 if end else None

            def in_range(r, lo=lo, hi=hi):
                t = r.get("started")
                if t is None:
                    return False
                return (lo is None or t >= lo) and (hi is None or t < hi)

            checks.append(in_range)
        if self.filter:
            from .filter import parse_filter

            flt = parse_filter(self.filter)
            checks.append(lambda r: flt.matches(_lookup(r)))
        if self.search and self.search.strip():
            from .filter import WordSearch, parse_search

            found = parse_search(self.search)
            if isinstance(found, WordSearch):
                checks.append(found.matches)
            else:
                checks.append(lambda r: found.matches(_lookup(r)))
        if not self.include_batch:
            checks.append(lambda r: not r.get("is_batch"))
        if not checks:
            return None
        if len(checks) == 1:
            return checks[0]
        if len(checks) == 2:
            first, second = checks
            return lambda r: first(r) and second(r)
        return lambda r: all(c(r) for c in checks)


FILTER_NAMES = STATUS_FILTERS + ("marked", "unmarked", "label", "unlabeled", "tag", "operation", "comment",
                                 "started", "digest", "filter", "include_batch", "deleted")


def _as_list(v: Any) -> list[str]:
    if v is None or v is False:
        return []
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    return [str(v)]


def _op_matcher(pattern: str):
    if pattern.startswith("^") or pattern.endswith("$"):
        rx = re.compile(pattern)
        return lambda op: bool(rx.search(op))
    return lambda op: pattern in op


_ATTR_KEYS = {"id", "operation", "started", "stopped", "status", "exit_status", "label", "tags", "marked",
              "sourcecode_digest", "project_dir", "dir"}


_ALIASES = {"run": "id", "exitStatus": "exit_status", "exit": "exit_status"}
_NOTHING: dict = {}


def _lookup(rec: dict):
    """``lookup(kind, name)`` of the filter grammar over one record (attribute, flag, then
    scalar for an unqualified name; ``UNDEFINED`` when the run has no such value)."""
    def lookup(kind: str | None, name: str):
        if kind is None or kind == "attr":
            key = _ALIASES.get(name, name)
            if key in _ATTR_KEYS and key in rec:
                v = rec[key]
                if v is not None and (key == "started" or key == "stopped"):
                    v = datetime.fromtimestamp(v / 1e6)
                return v
            if kind == "attr":
                return UNDEFINED
        if kind is None or kind == "flag":
            v = lookup_flag(rec.get("flags") or _NOTHING, name, UNDEFINED)  # learning-rate: learning_rate too
            if v is not UNDEFINED or kind == "flag":
                return v
        return (rec.get("scalars") or _NOTHING).get(name, UNDEFINED)

    return lookup


def select(records: list[dict], runs: Any = None) -> list[dict]:
    """Pick runs from ``records`` (newest first) by selector(s); order kept newest first."""
    if runs is None:
        return records
    specs = _flatten_specs(runs)
    if not specs:
        return []
    chosen: dict[str, dict] = {}
    for spec in specs:
        for rec in _select_one(records, spec):
            chosen.setdefault(rec["id"], rec)
    return [r for r in records if r["id"] in chosen]


def _flatten_specs(runs: Any) -> list[str]:
    if hasattr(runs, "columns") and hasattr(runs, "__getitem__"):  # a DataFrame
        col = "id" if "id" in runs.columns else "run" if "run" in runs.columns else None
        if col is None:
            raise SelectError("a DataFrame of runs needs an 'id' or 'run' column")
        return [str(v) for v in dict.fromkeys(runs[col].tolist())]
    if hasattr(runs, "tolist") and not isinstance(runs, str):  # a Series or array
        runs = runs.tolist()
    if isinstance(runs, range):
        runs = list(runs)
    if isinstance(runs, (list, tuple, set)):
        out = []
        for r in runs:
            out.extend(_flatten_specs(r))
        return out
    if isinstance(runs, bool):
        raise SelectError(f"invalid run selector {runs!r}")
    return [str(runs)]


def _select_one(records: list[dict], spec: str) -> list[dict]:
    spec = spec.strip()
    if spec.isdigit():
        i = int(spec)
        if 1 <= i <= len(records):
            return [records[i - 1]]
        if len(spec) < 4:  # short numbers are indexes, never id prefixes
            raise SelectError(f"no run {spec}: there {'is' if len(records) == 1 else 'are'} "
                              f"{len(records)} run{'s' if len(records) != 1 else ''} to choose from")
    m = _RANGE.match(spec)
    if m:
        a = int(m.group(1)) if m.group(1) else 1
        b = int(m.group(2)) if m.group(2) else len(records)
        if a > b:
            a, b = b, a
        return records[max(a, 1) - 1 : b]
    matches = [r for r in records if r["id"].startswith(spec)]
    if len(matches) == 1:
        return matches
    if not matches:
        raise SelectError(f"no run matches '{spec}'")
    shown = ", ".join(r["id"][:8] for r in matches[:5])
    raise SelectError(f"'{spec}' is ambiguous: it matches {len(matches)} runs ({shown}{', ...' if len(matches) > 5 else ''})")
