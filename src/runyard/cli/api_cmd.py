"""``runyard api ...``: stable JSON for programs (the R package)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from . import _Filtered, _Group, _json_out, _selection, _whole_numbers, main
from .run import _help_op, _run_options


@main.group("api", cls=_Group)
def api_group() -> None:
    """Stable JSON output for programs driving runyard (the R package uses these)."""


_SUMMARY_KEYS = ("path", "tag", "first_val", "first_step", "last_val", "last_step", "min_val", "min_step",
                 "max_val", "max_step", "avg_val", "total", "count")


@api_group.command("runs", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--deleted", "-d", is_flag=True, help="List deleted runs (the trash).")
def api_runs_cmd(runs: tuple, deleted: bool, filters: dict) -> None:
    """The selected runs as a JSON list, newest first: id, label, tags, marked, flags, scalars
    (one summary per path and tag), operation, started, stopped (microseconds since the epoch),
    comments, status, exit_status, deps, project_dir, dir, sourcecode_digest."""
    from ..api import ls_records
    from ..store.run import Run

    sel, filters = _selection(runs, filters)
    out = []
    for r in ls_records(sel, deleted=deleted, summary=True, **filters):
        out.append({
            "id": r["id"], "label": r.get("label") or "", "tags": list(r.get("tags") or []),
            "marked": bool(r.get("marked")), "flags": r.get("flags") or {},
            "scalars": [dict(zip(_SUMMARY_KEYS, s)) for s in r.get("summary") or []],
            "operation": r.get("operation"), "started": r.get("started"), "stopped": r.get("stopped"),
            "comments": list(r.get("comments") or []), "status": r.get("status"),
            "exit_status": r.get("exit_status"), "deps": Run(r["dir"]).get("deps") or [],
            "project_dir": r.get("project_dir"), "dir": r["dir"],
            "sourcecode_digest": r.get("sourcecode_digest"),
        })
    _json_out(out)


@api_group.command("scalars", cls=_Filtered)
@click.argument("runs", nargs=-1)
def api_scalars_cmd(runs: tuple, filters: dict) -> None:
    """Every scalar of the selected runs as JSON columns: {run, path, tag, value, step}."""
    from ..api import ls_records
    from ..store.tfevents import run_scalars

    sel, filters = _selection(runs, filters)
    cols: dict[str, list] = {"run": [], "path": [], "tag": [], "value": [], "step": []}
    for r in ls_records(sel, **filters):
        for path, tag, value, step in run_scalars(r["dir"]):
            for k, v in zip(cols, (r["id"], path, tag, value, step)):
                cols[k].append(v)
    _json_out(cols)


@api_group.command("run")
@click.argument("script")
@click.argument("flags", nargs=-1)
@click.option("--help-op", is_flag=True, help="Show the script's flags and exit.")
@click.option("--ids-file", metavar="FILE", help="Write the new runs' ids to FILE as a JSON list.")
@_run_options
def api_run_cmd(script: str, flags: tuple, help_op: bool, ids_file: str | None, **opts: Any) -> None:
    """Run SCRIPT as 'runyard run --yes' does, writing the new runs' ids to --ids-file.
    Exits 1 if a run failed, 2 if one was stopped."""
    from .. import api
    from ..flags.values import parse_assign
    from ..lang import inspect

    info = inspect(script)
    if help_op:
        click.echo(_help_op(info))
        return
    given = dict(parse_assign(f) for f in flags)
    opts = {k: v for k, v in opts.items() if v not in (None, False, ())}
    opts.pop("yes", None)
    _whole_numbers(opts)
    wait = not opts.pop("background", False)
    ids = api.run_ids(script, given or None, echo=not opts.pop("quiet", False), wait=wait, **opts)
    if ids_file:
        import json

        tmp = f"{ids_file}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(ids))
        os.replace(tmp, ids_file)
    if not wait or opts.get("stage"):
        return
    from ..home import find_home, runs_dir
    from ..store.run import status_of

    statuses = {status_of(runs_dir(find_home()) / i) for i in ids}
    sys.exit(1 if "error" in statuses else 2 if "terminated" in statuses else 0)


_OWN_ATTRS = ("id", "initialized", "started", "stopped", "exit_status", "cmd", "op", "flags", "user_flags",
              "sourcecode_digest", "random_seed", "env", "deps", "host", "user", "platform")


@api_group.command("write-attr")
@click.argument("name")
@click.argument("value", required=False)
@click.option("--run-dir", metavar="DIR", help="The run (default: $RUN_DIR, the run this process is part of).")
def api_write_attr_cmd(name: str, value: str | None, run_dir: str | None) -> None:
    """Set attribute NAME of a run to VALUE (JSON); no VALUE removes it. For scripts under a run."""
    import re

    from ..errors import UsageError
    from ..store.run import Run

    run_dir = run_dir or os.environ.get("RUN_DIR")
    if not run_dir or not os.path.isfile(os.path.join(run_dir, ".guild", "opref")):
        raise UsageError("write-attr works inside a run (RUN_DIR is not a run directory); use --run-dir")
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name) or name in _OWN_ATTRS:
        raise UsageError(f"cannot write attribute '{name}'" + (": runyard writes it" if name in _OWN_ATTRS else ""))
    run = Run(run_dir)
    if value is None:
        run.delete_attr(name)
    else:
        from ..safedata import load_json
        from ..store.attrs import MAX_BYTES

        run.set(name, load_json(value, f"the value of '{name}'", max_bytes=MAX_BYTES))
    from .. import index

    index.touch(run)


