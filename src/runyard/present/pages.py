"""The content of each page (run, compare, diff), shared by the web view and the HTML reports.

Each function turns records (from :mod:`runyard.present.lookup`) into plain dicts and lists that
the Jinja templates lay out; templates escape every value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..store.paths import PathRefused, read_capped, resolve_in_run
from . import files as runfiles
from . import formatting as F
from .jsonenc import dumps
from .sidebyside import diff_rows, diff_stats

# attributes shown in the run page's main table, in order (others go under "More attributes")
_SHOWN = ("id", "started", "stopped", "exit_status", "label", "tags", "marked", "comments", "flags", "cmd",
          "sourcecode_digest", "vcs_commit", "random_seed", "host", "user", "platform")
_HIDDEN = ("env", "pip_freeze", "op", "user_flags", "deps", "run_params", "plugins", "initialized", "resolved_deps",
           "op_data")


def run_header(rec: dict) -> dict:
    """The few facts every page shows about a run."""
    return {
        "id": rec["id"],
        "short": rec["id"][:8],
        "operation": rec.get("operation") or "",
        "status": rec.get("status") or "",
        "started": F.fmt_time(rec.get("started")),
        "started_us": rec.get("started"),
        "stopped": F.fmt_time(rec.get("stopped")),
        "duration": F.fmt_duration(rec.get("started"), rec.get("stopped"), rec.get("status")),
        "label": rec.get("label") or "",
        "tags": list(rec.get("tags") or []),
        "marked": bool(rec.get("marked")),
        "exit_status": rec.get("exit_status"),
        "deleted": rec.get("location") == "trash" or "/trash/" in str(rec.get("dir", "")).replace(os.sep, "/"),
        "dir": rec.get("dir") or "",
        "error": rec.get("error") or "",
    }


def _summary_rows(rec: dict) -> list[dict]:
    from ..store.record import scalar_column

    rows = []
    for s in rec.get("summary") or []:
        path, tag = s[0], s[1]
        rows.append({"key": scalar_column(path, tag), "path": path, "tag": tag,
                     "last": F.fmt_number(s[4]), "last_step": s[5], "min": F.fmt_number(s[6]), "min_step": s[7],
                     "max": F.fmt_number(s[8]), "max_step": s[9], "avg": F.fmt_number(s[10]), "count": s[12]})
    rows.sort(key=lambda r: r["key"])
    return rows


def run_context(rec: dict, images_limit: int = 60) -> dict:
    """Everything the run page and the run report show, but the charts and the output."""
    from ..store.run import Run

    run_dir = Path(rec["dir"])
    run = Run(run_dir)
    cmd = run.get("cmd")
    attrs = [
        ("Run", rec["id"]),
        ("Operation", rec.get("operation") or ""),
        ("Status", rec.get("status") or ""),
        ("Started", F.fmt_time(rec.get("started"))),
        ("Stopped", F.fmt_time(rec.get("stopped"))),
        ("Time", F.fmt_duration(rec.get("started"), rec.get("stopped"), rec.get("status"))),
        ("Exit status", "" if rec.get("exit_status") is None else str(rec.get("exit_status"))),
        ("Label", rec.get("label") or ""),
        ("Source digest", rec.get("sourcecode_digest") or ""),
        ("VCS commit", F.fmt_value(run.get("vcs_commit"))),
        ("Project", rec.get("project_dir") or ""),
        ("Run directory", str(run_dir)),
        ("Command", " ".join(str(c) for c in cmd) if isinstance(cmd, list) else F.fmt_value(cmd)),
        ("Random seed", F.fmt_value(run.get("random_seed"))),
        ("Host", F.fmt_value(run.get("host"))),
        ("User", F.fmt_value(run.get("user"))),
    ]
    more = []
    for name in run.attr_names():
        if name in _SHOWN or name in _HIDDEN:
            continue
        try:
            v = run.get(name)
        except Exception as e:  # noqa: BLE001 - a corrupt attribute is shown, not fatal
            v = f"(unreadable: {e})"
        text = F.fmt_value(v)
        more.append((name, text if len(text) <= 2000 else text[:2000] + " …"))
    flags = [(k, F.fmt_value(v)) for k, v in sorted((rec.get("flags") or {}).items())]
    comments = []
    for i, c in enumerate(rec.get("comments") or [], 1):
        if isinstance(c, dict):
            comments.append({"n": i, "body": str(c.get("body") or ""), "user": str(c.get("user") or ""),
                             "host": str(c.get("host") or ""), "time": F.fmt_time(c.get("time"))})
        else:
            comments.append({"n": i, "body": str(c), "user": "", "host": "", "time": ""})
    files = runfiles.walk_files(run_dir)
    images = [(p, s) for p, s in files if os.path.splitext(p)[1].lower() in runfiles.IMAGE_TYPES][:images_limit]
    return {
        "run": run_header(rec),
        "attrs": attrs,
        "more_attrs": more,
        "flags": flags,
        "scalars": _summary_rows(rec),
        "comments": comments,
        "source": runfiles.source_files(run_dir),
        "images": images,
        "files": files,
    }


# --- compare --------------------------------------------------------------------------------------

def _norm(v: Any) -> str:
    return dumps(v).decode()


def compare_context(records: list[dict]) -> dict:
    """Runs as rows; attributes, flags and last scalars as columns; which columns differ."""
    from ..compare import columns

    flag_names, scalar_names = columns(records)
    cols: list[dict] = []
    for key, title in (("operation", "Operation"), ("started", "Started"), ("time", "Time"),
                       ("status", "Status"), ("label", "Label")):
        cols.append({"group": "attr", "key": key, "title": title})
    cols += [{"group": "flag", "key": k, "title": k} for k in flag_names]
    cols += [{"group": "scalar", "key": k, "title": k} for k in scalar_names]
    rows = []
    for r in records:
        cells = []
        for c in cols:
            if c["group"] == "attr":
                raw: Any = {"operation": r.get("operation"), "started": r.get("started"),
                            "time": F.fmt_duration(r.get("started"), r.get("stopped"), r.get("status")),
                            "status": r.get("status"), "label": r.get("label") or ""}[c["key"]]
                text = F.fmt_time(raw) if c["key"] == "started" else ("" if raw is None else str(raw))
            elif c["group"] == "flag":
                raw = (r.get("flags") or {}).get(c["key"])
                text = F.fmt_value(raw)
            else:
                raw = (r.get("scalars") or {}).get(c["key"])
                text = F.fmt_number(raw)
            cells.append({"raw": raw, "text": text})
        rows.append({"run": run_header(r), "cells": cells})
    for i, c in enumerate(cols):
        if c["key"] in ("started", "time"):
            c["differs"] = False
            continue
        c["differs"] = len({_norm(row["cells"][i]["raw"]) for row in rows}) > 1
    points = [{"id": r["id"], "label": r.get("label") or "", "flags": r.get("flags") or {},
               "scalars": r.get("scalars") or {}} for r in records]
    return {"cols": cols, "rows": rows, "points": points, "flag_names": sorted(flag_names),
            "scalar_names": sorted(scalar_names)}


def compare_groups_context(records: list[dict], ci: float = 0.95) -> dict:
    """The compare page with "group seeds": one row per group of runs (same operation, flags equal
    but the seed), each scalar as ``mean ± half-width (n)`` of a Student-t interval at ``ci``;
    ``groups`` (the runs of each) and ``tq`` (t quantiles by n) let the charts draw group means
    with their bands."""
    from .. import stats
    from ..compare import columns

    groups = stats.group_records(records)
    seeds = {stats.run_seed_flag(r) for r in records} - {None}
    flag_names, scalar_names = columns(records)
    flag_names = [f for f in flag_names if f not in seeds]
    cols: list[dict] = [{"group": "attr", "key": "operation", "title": "Operation"},
                        {"group": "attr", "key": "n", "title": "Runs"}]
    cols += [{"group": "flag", "key": k, "title": k} for k in flag_names]
    cols += [{"group": "scalar", "key": k, "title": k} for k in scalar_names]
    rows = []
    for members in groups:
        first = members[0]
        cells = []
        for c in cols:
            if c["key"] == "operation" and c["group"] == "attr":
                raw: Any = first.get("operation")
                text = raw or ""
            elif c["key"] == "n" and c["group"] == "attr":
                raw = len(members)
                text = str(raw)
            elif c["group"] == "flag":
                raw = (first.get("flags") or {}).get(c["key"])
                text = F.fmt_value(raw)
            else:
                d = stats.describe([(m.get("scalars") or {}).get(c["key"]) for m in members], ci)
                raw = None if d["n"] == 0 else d["mean"]
                text = _mean_text(d)
            cells.append({"raw": raw, "text": text})
        rows.append({"runs": [run_header(m) for m in members], "cells": cells})
    for i, c in enumerate(cols):
        c["differs"] = c["key"] != "n" and len({_norm(row["cells"][i]["raw"]) for row in rows}) > 1
    max_n = max((len(g) for g in groups), default=0)
    return {"cols": cols, "rows": rows, "groups": [[m["id"] for m in g] for g in groups],
            "tq": stats.t_quantiles(max_n, ci), "ci": ci, "seed_flags": sorted(seeds)}


def _mean_text(d: dict) -> str:
    from ..stats import decimals_for

    if d["n"] == 0:
        return ""
    if d["n"] == 1 or d["half"] != d["half"]:
        return f"{F.fmt_number(d['mean'])} (1)"
    places = decimals_for(d["half"])
    return f"{d['mean']:.{places}f} ± {d['half']:.{places}f} ({d['n']})"


# --- diff -----------------------------------------------------------------------------------------

_MAX_DIFF_BYTES = 1_000_000
_MAX_OUTPUT_LINES = 20_000


def _lines_of(path: Path) -> tuple[list[str] | None, str]:
    """Lines of a text file, or (None, reason) for a missing, binary or huge file."""
    try:
        size = path.stat().st_size
    except OSError:
        return None, "missing"
    if size > _MAX_DIFF_BYTES:
        return None, f"too large to compare ({F.fmt_size(size)})"
    try:
        data = read_capped(path, _MAX_DIFF_BYTES)[0]
    except (OSError, PathRefused):
        return None, "not a regular file"
    if b"\x00" in data[:8192]:
        return None, "binary"
    return data.decode("utf-8", "replace").splitlines(), ""


def _safe_join(run_dir: Path, rel: str) -> Path | None:
    try:
        return resolve_in_run(run_dir, rel)
    except PathRefused:
        return None


def diff_context(a: dict, b: dict) -> dict:
    """Two runs side by side: attributes, flags, scalars, every source file, the output."""
    da, db = Path(a["dir"]), Path(b["dir"])

    def rows_of(pairs):
        out = []
        for name, va, vb in pairs:
            out.append({"name": name, "a": va, "b": vb, "same": va == vb})
        return out

    ha, hb = run_header(a), run_header(b)
    attrs = rows_of([
        ("Operation", ha["operation"], hb["operation"]),
        ("Status", ha["status"], hb["status"]),
        ("Started", ha["started"], hb["started"]),
        ("Time", ha["duration"], hb["duration"]),
        ("Label", ha["label"], hb["label"]),
        ("Tags", " ".join(ha["tags"]), " ".join(hb["tags"])),
        ("Exit status", "" if a.get("exit_status") is None else str(a.get("exit_status")),
         "" if b.get("exit_status") is None else str(b.get("exit_status"))),
        ("Source digest", a.get("sourcecode_digest") or "", b.get("sourcecode_digest") or ""),
    ])
    fa, fb = a.get("flags") or {}, b.get("flags") or {}
    flags = [{"name": k, "a": F.fmt_value(fa.get(k)) if k in fa else None,
              "b": F.fmt_value(fb.get(k)) if k in fb else None,
              "same": k in fa and k in fb and _norm(fa[k]) == _norm(fb[k])} for k in sorted(set(fa) | set(fb))]
    sa, sb = a.get("scalars") or {}, b.get("scalars") or {}
    scalars = [{"name": k, "a": F.fmt_number(sa.get(k)) if k in sa else None,
                "b": F.fmt_number(sb.get(k)) if k in sb else None,
                "same": F.fmt_number(sa.get(k)) == F.fmt_number(sb.get(k)) and (k in sa) == (k in sb),
                "dir": _better_or_worse(k, sa.get(k), sb.get(k))}
               for k in sorted(set(sa) | set(sb))]
    src_a, src_b = runfiles.source_files(da), runfiles.source_files(db)
    files = []
    for rel in sorted(set(src_a) | set(src_b)):
        item: dict[str, Any] = {"path": rel, "rows": [], "note": "", "added": 0, "removed": 0}
        pa = _safe_join(da, rel) if rel in src_a else None
        pb = _safe_join(db, rel) if rel in src_b else None
        la, why_a = _lines_of(pa) if pa else (None, "missing")
        lb, why_b = _lines_of(pb) if pb else (None, "missing")
        if rel not in src_a:
            item["status"] = "added"
            la, why_a = [], ""
        elif rel not in src_b:
            item["status"] = "removed"
            lb, why_b = [], ""
        if la is None or lb is None:
            item["status"] = item.get("status", "changed")
            item["note"] = why_a or why_b
            if pa and pb and pa.is_file() and pb.is_file():
                same = pa.read_bytes() == pb.read_bytes() if max(pa.stat().st_size, pb.stat().st_size) < 50_000_000 \
                    else False
                item["status"] = "same" if same else "changed"
            files.append(item)
            continue
        if la == lb and "status" not in item:
            item["status"] = "same"
        else:
            item.setdefault("status", "changed")
            item["rows"] = diff_rows(la, lb)
            item["removed"], item["added"] = diff_stats(item["rows"])
        files.append(item)
    out_a = _output_lines(da)
    out_b = _output_lines(db)
    output = {"rows": [], "same": out_a[0] == out_b[0], "note": ""}
    if not output["same"]:
        output["rows"] = diff_rows(out_a[0], out_b[0])
        output["removed"], output["added"] = diff_stats(output["rows"])
    if out_a[1] or out_b[1]:
        output["note"] = f"only the first {_MAX_OUTPUT_LINES:,} lines of each output are compared"
    return {"a": ha, "b": hb, "attrs": attrs, "flags": flags, "scalars": scalars, "files": files,
            "output": output,
            "changed_files": sum(1 for f in files if f["status"] != "same")}


def _better_or_worse(tag: str, a: Any, b: Any) -> str | None:
    """``"better"`` or ``"worse"``: run B's value of scalar ``tag`` against run A's, by the way
    the scalar improves (:func:`runyard.compare.direction`); None when unknown or equal."""
    from ..compare import direction

    way = direction(tag)
    if way is None or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)) or a == b:
        return None
    return "better" if (b < a) == (way == "min") else "worse"


def _output_lines(run_dir: Path) -> tuple[list[str], bool]:
    from ..store.output import read_lines

    lines = [t for _, _, t in read_lines(run_dir, 0, _MAX_OUTPUT_LINES + 1)]
    cut = len(lines) > _MAX_OUTPUT_LINES
    return lines[:_MAX_OUTPUT_LINES], cut
