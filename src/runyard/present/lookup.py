"""Runs by id: where a run is, its index record, the records a selection names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

from ..errors import SelectError

_RUN_ID = re.compile(r"^[0-9A-Za-z_\-]{8,64}$")


def home() -> Path:
    """The runs home the API uses."""
    from .. import home as _home

    return _home.find_home()


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
