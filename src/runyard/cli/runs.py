"""``runyard runs``: list, show, delete, purge and restore runs."""

from __future__ import annotations

from typing import Any

import click

from ..terminal import echo as _echo
from . import _act, _Filtered, _fmt_time, _Group, _say_none, _selection, main


class _DefaultGroup(_Group):
    """A group whose default sub-command is ``list``."""

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["list", *args]
        return super().parse_args(ctx, args)

    def format_help(self, ctx, formatter):
        """``runyard runs --help``: the listing's help (selection, filters), then the sub-commands."""
        listing = self.commands["list"]
        sub = click.Context(listing, info_name=ctx.info_name, parent=ctx.parent)
        formatter.write_usage(ctx.command_path, "[list] [OPTIONS] [RUNS]...  |  runs COMMAND [ARGS]...")
        listing.format_help_text(sub, formatter)
        listing.format_options(sub, formatter)
        self.format_commands(ctx, formatter)
        formatter.write_paragraph()
        formatter.write_text("See 'runyard help selection' and 'runyard help filters'.")


@main.group("runs", cls=_DefaultGroup)
def runs_group() -> None:
    """List and manage runs (default: list)."""


@runs_group.command("list", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--all", "-a", "show_all", is_flag=True, help="Show all runs (default: the latest 20).")
@click.option("--limit", "-n", type=int, metavar="N", help="Show at most N runs.")
@click.option("--json", "as_json", is_flag=True, help="Print runs as JSON (all of them).")
@click.option("--deleted", "-d", is_flag=True, help="List deleted runs (the trash).")
@click.option("--remote", "-r", metavar="NAME", help="List the runs on remote NAME (nothing is pulled).")
def runs_list(runs: tuple, show_all: bool, limit: int | None, as_json: bool, deleted: bool, remote: str | None,
              filters: dict) -> None:
    """List runs, newest first: [INDEX:ID] OPERATION STARTED STATUS LABEL.

    \b
    RUNS selects runs (default: all; see 'runyard help selection'):
      1          the latest run            1:3    the latest three (inclusive)
      2:         the second and older      :3     the same as 1:3
      a1b2c3     a run by id or id prefix  several of these, in any mix
    INDEX is the run's place in the filtered list, newest first; 'runyard runs 1'
    is the latest run that passes the filters (see 'runyard help filters').
    """
    from ..api import ls_records

    sel, filters = _selection(runs, filters)
    records = ls_records(None, deleted=deleted, remote=remote, **filters)
    place = {r["id"]: i for i, r in enumerate(records, 1)}
    if sel:
        from ..select.runs import select

        records = select(records, sel)
    if as_json:
        import json

        click.echo(json.dumps([_public_record(r) for r in records], indent=2, default=str))
        return
    if not records:
        _say_none(runs, filters, deleted)
        return
    shown = records if show_all else records[: limit or 20]
    _print_runs(shown, place)
    if len(shown) < len(records):
        click.echo(f"Showing {len(shown)} of {len(records)} runs (use --all to see all)", err=True)


def _print_runs(records: list[dict], place: dict[str, int]) -> None:
    """The runs table: [INDEX:ID] OPERATION STARTED STATUS LABEL, fit to the terminal."""
    from .. import terminal

    header = ["run", "operation", "started", "status", "label"]
    rows = [[f"[{place.get(r['id'], i)}:{r['id'][:8]}]", r.get("operation") or "", _fmt_time(r.get("started")),
             r.get("status") or "", r.get("label") or ""] for i, r in enumerate(records, 1)]
    lines, dropped = terminal.table(header, rows, show_header=False, cuttable=["label", "operation"],
                                    drop_order=["started", "label", "operation"], keep=["run"],
                                    styles={"status": terminal.STATUS_STYLE.get, "run": "dim"})
    click.echo("\n".join(lines))
    if dropped:
        click.echo(terminal.dropped_note(dropped), err=True)


def _public_record(r: dict) -> dict:
    return {k: v for k, v in r.items() if k not in ("summary", "is_batch")}


@runs_group.command("info", cls=_Filtered)
@click.argument("run", required=False)
@click.option("--env", "-e", is_flag=True, help="Show the run's environment.")
@click.option("--all-scalars", "-s", is_flag=True, help="Show first/last/min/max/avg/total of every scalar.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--deleted", "-d", is_flag=True, help="Look in the trash.")
def runs_info(run: str | None, env: bool, all_scalars: bool, as_json: bool, deleted: bool, filters: dict) -> None:
    """Show a run's attributes, flags and scalars (default: the latest run)."""
    from ..api import ls_records
    from ..errors import SelectError
    from ..store.run import Run

    sel, filters = _selection((run or "1",), filters)
    records = ls_records(sel, deleted=deleted, summary=True, **filters)
    if not records:
        raise SelectError("no runs match")
    r = records[0]
    rr = Run(r["dir"])
    info: dict[str, Any] = {
        "id": r["id"],
        "operation": r.get("operation"),
        "from": r.get("project_dir"),
        "status": r.get("status"),
        "started": _fmt_time(r.get("started")),
        "stopped": _fmt_time(r.get("stopped")),
        "label": r.get("label") or "",
        "tags": r.get("tags") or [],
        "marked": bool(r.get("marked")),
        "sourcecode_digest": r.get("sourcecode_digest") or "",
        "vcs_commit": rr.get("vcs_commit") or "",
        "run_dir": r["dir"],
        "command": " ".join(rr.get("cmd") or []),
        "interpreter": rr.get("interpreter") or "",  # (Guild's runs and older ones have none)
        "exit_status": r.get("exit_status"),
        "random_seed": rr.get("random_seed"),
        "flags": r.get("flags") or {},
    }
    from ..store.links import run_deps, run_steps

    deps, steps = run_deps(r["dir"]), run_steps(r["dir"])
    if deps:
        if as_json:
            info["dependencies"] = deps
        else:
            info["dependencies"] = {d["resource"]: " ".join(([d["run"][:8]] if d["run"] else []) + d["paths"])
                                    for d in deps}
    if steps:
        if as_json:
            info["steps"] = steps
        else:
            info["steps"] = {s["name"]: f"{(s['id'] or '')[:8]} {s['status']} ({s['run']})".strip()
                             for s in steps}
    if r.get("comments"):
        info["comments"] = r["comments"]
    if r.get("error"):
        info["error"] = r["error"]
    summary = r.get("summary") or []
    if all_scalars:
        keys = ["first", "first_step", "last", "last_step", "min", "min_step", "max", "max_step", "avg", "total",
                "count"]
        info["scalars"] = {_scalar_key(s): dict(zip(keys, s[2:])) for s in summary}
    else:
        info["scalars"] = {_scalar_key(s): f"{s[4]} (step {s[5]})" for s in summary}
    if env:
        from ..environ import storable  # (a run made by Guild AI may hold what we never store)

        info["environment"] = storable(rr.get("env") or {})
    if as_json:
        import json

        click.echo(json.dumps(info, indent=2, default=str))
        return
    _echo(_format_info(info))


def _scalar_key(s: list) -> str:
    from ..store.record import scalar_column

    return scalar_column(s[0], s[1])


def _format_info(info: dict, indent: str = "") -> str:
    from ..terminal import safe  # each key and value on its own line, whatever it holds

    lines = []
    for k, v in info.items():
        k = safe(k)
        if isinstance(v, dict):
            lines.append(f"{indent}{k}:")
            if v:
                lines.append(_format_info(v, indent + "  "))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            lines.append(f"{indent}{k}:")
            for item in v:
                lines.append(f"{indent}  - " + ", ".join(f"{safe(a)}: {safe(b)}" for a, b in item.items()))
        elif isinstance(v, list):
            lines.append(f"{indent}{k}: {' '.join(safe(x) for x in v)}")
        else:
            lines.append(f"{indent}{k}: {safe(v)}")
    return "\n".join(lines)




# --- managing runs ------------------------------------------------------------------------------

@runs_group.command("delete", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--permanent", "-p", is_flag=True, help="Remove for good instead of moving to the trash.")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def runs_delete_cmd(runs: tuple, permanent: bool, yes: bool, filters: dict) -> None:
    """Delete runs (they go to the trash unless --permanent)."""
    from .. import api

    _act(runs, filters, "permanently delete" if permanent else "delete", yes,
         lambda ids, **kw: api.runs_delete(ids, permanent=permanent, **kw), "Deleted")


@runs_group.command("purge", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def runs_purge_cmd(runs: tuple, yes: bool, filters: dict) -> None:
    """Remove deleted runs for good."""
    from .. import api

    _act(runs, filters, "permanently remove", yes, api.runs_purge, "Purged", deleted=True)


@runs_group.command("restore", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def runs_restore_cmd(runs: tuple, yes: bool, filters: dict) -> None:
    """Restore deleted runs."""
    from .. import api

    _act(runs, filters, "restore", yes, api.runs_restore, "Restored", deleted=True)


