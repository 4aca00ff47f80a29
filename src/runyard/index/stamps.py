"""What the index may assume about a run between looks: its kind (the ``final`` column) and
its stamp (the mtimes that change with it), and when finished runs are checked again."""

from __future__ import annotations

import os
from pathlib import Path

from ..store.record import is_final

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


def _recheck_seconds() -> float:
    try:
        return float(os.environ.get("RUNYARD_INDEX_RECHECK", "5"))
    except ValueError:
        return 5.0


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
