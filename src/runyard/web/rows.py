"""The runs list in the forms the runs page reads: a row per run, and the compact list."""

from __future__ import annotations

import math
from typing import Any

from ..present.jsonenc import dumps


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
