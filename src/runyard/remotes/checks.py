"""What a remote may say: every shard and entry another home wrote, checked field by field.

A remote is written by other people. Before anything of it is listed, pushed over or pulled,
each index or listing shard is read through :func:`shard_entries`, which keeps only the entries
that pass :func:`entry_problem` and names each one it leaves out. One bad entry, or one bad
shard, hides nothing else.
"""

from __future__ import annotations

import math
import time
from pathlib import PurePosixPath
from typing import Any

from ..safedata import DataError, load_json
from ..store.paths import MAX_LINK

#: How far in the future a push's time may be (clocks differ a little between machines). A
#: later one would let a shard pin a run: its entry would stay newest whatever its owner pushes.
CLOCK_SKEW = 600.0
#: The largest shard read (a listing or index shard of many runs).
MAX_SHARD = 256 * 1024 * 1024
#: Caps on one entry.
MAX_FILES = 1_000_000
MAX_TEXT = 1024 * 1024
MAX_SIZE = 1 << 44  # 16 TiB: one file
MAX_TIME_US = 10 ** 17  # microseconds since the epoch: year 5000

STATUSES = frozenset({"completed", "error", "terminated", "running", "pending", "staged"})
_PACK = frozenset("0123456789abcdefghijklmnopqrstuvwxyz-")


def is_run_id(name: Any) -> bool:
    """Run ids are exactly 32 lowercase hex digits (the rule import applies)."""
    from ..store.archive import RUN_ID

    return isinstance(name, str) and RUN_ID.match(name) is not None


def safe_rel(rel: Any) -> bool:
    """A run-relative path that stays inside the run directory (by its text; links are judged
    on the filesystem when they are made)."""
    if not isinstance(rel, str) or not rel or len(rel) > 4096 or "\\" in rel or "\0" in rel:
        return False
    p = PurePosixPath(rel)
    return not p.is_absolute() and ".." not in p.parts and "." not in rel.split("/") and "" not in rel.split("/")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v: Any, lo: float, hi: float) -> bool:
    return _number(v) and math.isfinite(v) and lo <= v <= hi


def _int(v: Any, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _text(v: Any) -> bool:
    return isinstance(v, str) and len(v) <= MAX_TEXT


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, bool) or _number(v) or _text(v)


def _flag_value(v: Any) -> bool:
    """A flag's value: a scalar, or lists and maps of them (the loader has capped the nesting)."""
    if isinstance(v, list):
        return len(v) <= 100_000 and all(_flag_value(x) for x in v)
    if isinstance(v, dict):
        return len(v) <= 100_000 and all(isinstance(k, str) and _flag_value(x) for k, x in v.items())
    return _scalar(v)


# field -> check of its value (None is always allowed: the field is not set)
_RECORD_FIELDS: dict[str, Any] = {
    "id": is_run_id,
    "started": lambda v: _finite(v, 0, MAX_TIME_US),
    "stopped": lambda v: _finite(v, 0, MAX_TIME_US),
    "exit_status": lambda v: _int(v, -(1 << 31), 1 << 31),
    "label": _text,
    "tags": lambda v: isinstance(v, list) and len(v) <= 10_000 and all(_scalar(t) for t in v),
    "marked": lambda v: isinstance(v, bool),
    "comments": lambda v: isinstance(v, list) and len(v) <= 10_000 and all(
        _text(c) or (isinstance(c, dict) and all(isinstance(k, str) and _scalar(x) for k, x in c.items()))
        for c in v),
    "sourcecode_digest": _text,
    "flags": lambda v: isinstance(v, dict) and len(v) <= 100_000 and all(
        isinstance(k, str) and _flag_value(x) for k, x in v.items()),
    "operation": _text,
    "project_dir": _text,
    "status": lambda v: v in STATUSES,
    "is_batch": lambda v: isinstance(v, bool),
    "error": _text,
    "scalars": lambda v: isinstance(v, dict) and len(v) <= 100_000 and all(
        isinstance(k, str) and (x is None or _number(x)) for k, x in v.items()),
}


def known_fields(rec: dict) -> dict:
    """A checked record with only the fields runyard knows."""
    return {k: v for k, v in rec.items() if k in _RECORD_FIELDS}


def record_problem(rec: Any) -> str | None:
    """Why a listing record from a remote can't be used (naming the field), or None."""
    if not isinstance(rec, dict):
        return "its record is not a mapping"
    for key, value in rec.items():
        check = _RECORD_FIELDS.get(key)  # other fields (a newer runyard's) are left out of listings
        if check is not None and value is not None and not check(value):
            return f"bad {key}: {str(value)[:40]!r}"
    return None


def entry_problem(rid: Any, entry: Any, now: float | None = None) -> str | None:
    """Why an entry of a shard (one run) can't be used, or None: its id, its push time (finite,
    not in the future), its record, and every file's path, size, mtime, mode and pack and every
    link's path and target."""
    if not is_run_id(rid):
        return "not a run id (32 hex digits)"
    if not isinstance(entry, dict):
        return "not a mapping"
    now = time.time() if now is None else now
    if not _finite(entry.get("pushed"), 0, now + CLOCK_SKEW):
        return f"bad push time {str(entry.get('pushed'))[:40]!r}"
    if not isinstance(entry.get("deleted", False), bool):
        return "bad deleted"
    if "record" in entry:
        why = record_problem(entry["record"])
        if why:
            return why
    files, links = entry.get("files", {}), entry.get("links", {})
    if not isinstance(files, dict) or not isinstance(links, dict) or len(files) + len(links) > MAX_FILES:
        return "bad files or links"
    for rel, meta in files.items():
        if not safe_rel(rel):
            return f"file {rel[:80]!r} would land outside its directory"
        if not (isinstance(meta, list) and len(meta) == 4 and _int(meta[0], 0, MAX_SIZE)
                and _int(meta[1], 0, (1 << 63) - 1) and _int(meta[2], 0, 0o7777) and isinstance(meta[3], str)
                and 0 < len(meta[3]) <= 64 and _PACK.issuperset(meta[3])):
            return f"bad file entry for {rel[:80]!r}"
    folders = {str(p) for rel in files for p in PurePosixPath(rel).parents}
    for rel, target in links.items():
        if not safe_rel(rel):
            return f"link {rel[:80]!r} would land outside its directory"
        if not isinstance(target, str) or not 0 < len(target) <= MAX_LINK:
            return f"bad target for link {rel[:80]!r}"
        if rel in files or rel in folders or any(r.startswith(rel + "/") for r in links):
            return f"link {rel[:80]!r} is also a file or folder of the run"
    return None


def shard_entries(name: str, data: bytes, warn: Any) -> dict[str, dict]:
    """The usable entries of a shard's bytes, by run id; ``warn(message)`` hears of every shard
    or entry left out (by name)."""
    try:
        shard = load_json(data, f"remote shard {name}", max_bytes=MAX_SHARD)
    except DataError as e:
        warn(f"skipping {e}")
        return {}
    runs = shard.get("runs") if isinstance(shard, dict) else None
    if not isinstance(runs, dict):
        warn(f"skipping remote shard {name}: it holds no map of runs")
        return {}
    out, now = {}, time.time()
    for rid, entry in runs.items():
        why = entry_problem(rid, entry, now)
        if why:
            warn(f"skipping remote run {str(rid)[:40]} in shard {name}: {why}")
            continue
        out[rid] = entry
    return out
