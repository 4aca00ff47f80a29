"""The ``runyard`` command: thin click commands over :mod:`runyard.api`."""

from __future__ import annotations

import sys
from typing import Any

import click

from . import options as _options
from .errors import RunyardError

filter_options = _options.click_options(_options.FILTER_OPTIONS)


class _Group(click.Group):
    """Turns RunyardError into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RunyardError as e:
            click.echo(f"runyard: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("runyard: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="runyard", prog_name="runyard")
def main() -> None:
    """Track, compare and manage machine-learning runs with no change to your code."""


def _confirm(prompt: str, yes: bool) -> bool:
    """Ask only on a terminal; -y/--yes skips asking."""
    if yes or not sys.stdin.isatty():
        return True
    return click.confirm(prompt, default=True)


def _selection(runs: tuple, kw: dict) -> tuple[list, dict]:
    return (list(runs) if runs else None), {k: v for k, v in kw.items() if v not in (None, False, ())}


# --- run ----------------------------------------------------------------------------------------

def _run_options(f):
    from .api import RUN_OPTIONS

    return _options.click_options(RUN_OPTIONS)(f)


@main.command("run", context_settings={"ignore_unknown_options": False})
@click.argument("script")
@click.argument("flags", nargs=-1)
@click.option("--help-op", is_flag=True, help="Show the script's flags and exit.")
@_run_options
def run_cmd(script: str, flags: tuple, help_op: bool, **opts: Any) -> None:
    """Run SCRIPT in a new run directory. FLAGS are NAME=VALUE (NAME=[a,b] makes a grid)."""
    from .lang import inspect

    info = inspect(script)
    if help_op:
        click.echo(_help_op(info))
        return
    from .flags.values import parse_assign

    given = dict(parse_assign(f) for f in flags)
    opts = {k: v for k, v in opts.items() if v not in (None, False, ())}
    yes = opts.pop("yes", False)
    from .api import _is_batch

    if not _is_batch(given) and not any(k in opts for k in ("optimizer", "max_trials")):
        from .run.launch import resolve_values

        values = resolve_values(info, given, bool(opts.get("force_flags")))
        if not _confirm(_preview(info, values), yes):
            click.echo("Cancelled.", err=True)
            sys.exit(1)
    elif not yes and sys.stdin.isatty():
        if not click.confirm(f"You are about to run a batch of {info.relpath}\nContinue?", default=True):
            sys.exit(1)
    from . import api

    for key in ("max_trials", "workers", "random_seed"):
        if key in opts:
            try:
                opts[key] = int(opts[key])
            except ValueError:
                raise click.BadParameter(f"--{key.replace('_', '-')} needs a whole number") from None
    quiet = opts.pop("quiet", False)
    background = opts.pop("background", False)
    df = api.run(script, given or None, echo=not quiet, wait=not background, **opts)
    if background:
        for rid in df["id"]:
            click.echo(f"{info.relpath} started in background as {rid}")
    elif opts.get("stage"):
        for rid in df["id"]:
            click.echo(f"{info.relpath} staged as {rid}")
    bad = [s for s in df["status"] if s in ("error", "terminated")] if len(df) else []
    if bad and len(df) == 1:
        sys.exit(1 if bad[0] == "error" else 2)


def _preview(info, values: dict) -> str:
    from .flags import format_value

    lines = [f"You are about to run {info.relpath}"]
    for k in sorted(values):
        lines.append(f"  {k}: {format_value(values[k])}")
    lines.append("Continue?")
    return "\n".join(lines)


def _help_op(info) -> str:
    from .flags import format_value

    out = [f"Usage: runyard run [OPTIONS] {info.relpath} [FLAG]...", ""]
    desc = info.options.get("description")
    if desc:
        out += [str(desc).strip(), ""]
    out += ["Use 'runyard run --help' for a list of options.", ""]
    if not info.flags:
        out.append("No flags.")
        return "\n".join(out)
    out.append("Flags:")
    width = max(len(n) for n in info.flags) + 2
    for name in sorted(info.flags):
        fd = info.flags[name]
        parts = []
        if fd.description:
            parts.append(fd.description)
        meta = []
        if fd.required:
            meta.append("required")
        elif fd.default is not None:
            meta.append(f"default is {format_value(fd.default)}")
        if fd.type:
            meta.append(fd.type)
        if fd.min is not None or fd.max is not None:
            meta.append(f"range {fd.min if fd.min is not None else ''}..{fd.max if fd.max is not None else ''}")
        if fd.choices:
            meta.append("choices: " + ", ".join(format_value(c) for c in fd.choices))
        text = (" ".join(parts) + " " if parts else "") + f"({'; '.join(meta)})"
        out.append(f"  {name.ljust(width)} {text}")
    return "\n".join(out)


# --- runs -----------------------------------------------------------------------------------------

class _DefaultGroup(_Group):
    """A group whose default sub-command is ``list``."""

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@main.group("runs", cls=_DefaultGroup)
def runs_group() -> None:
    """List and manage runs (default: list)."""


def _fmt_time(us: Any) -> str:
    if us is None:
        return ""
    from datetime import datetime

    return datetime.fromtimestamp(us / 1e6).strftime("%Y-%m-%d %H:%M:%S")


@runs_group.command("list")
@click.argument("runs", nargs=-1)
@click.option("--all", "-a", "show_all", is_flag=True, help="Show all runs (default: the latest 20).")
@click.option("--limit", "-n", type=int, help="Show at most N runs.")
@click.option("--json", "as_json", is_flag=True, help="Print runs as JSON (all of them).")
@click.option("--deleted", "-d", is_flag=True, help="List deleted runs (the trash).")
@filter_options
def runs_list(runs: tuple, show_all: bool, limit: int | None, as_json: bool, deleted: bool, **kw: Any) -> None:
    """List runs, newest first: [INDEX:ID] OPERATION STARTED STATUS LABEL."""
    from .api import _records

    sel, filters = _selection(runs, kw)
    records = _records(sel, (), filters, deleted=deleted)
    if as_json:
        import json

        click.echo(json.dumps([_public_record(r) for r in records], indent=2, default=str))
        return
    shown = records if show_all else records[: limit or 20]
    lines = []
    for i, r in enumerate(shown, 1):
        lines.append(f"[{i}:{r['id'][:8]}]  {r.get('operation') or ''}  {_fmt_time(r.get('started'))}  "
                     f"{r.get('status')}  {r.get('label') or ''}".rstrip())
    if lines:
        click.echo("\n".join(lines))
    if len(shown) < len(records):
        click.echo(f"Showing {len(shown)} of {len(records)} runs (use --all to see all)", err=True)


def _public_record(r: dict) -> dict:
    return {k: v for k, v in r.items() if k not in ("summary", "is_batch")}


@runs_group.command("info")
@click.argument("run", required=False)
@click.option("--env", "-e", is_flag=True, help="Show the run's environment.")
@click.option("--all-scalars", "-s", is_flag=True, help="Show first/last/min/max/avg/total of every scalar.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--deleted", "-d", is_flag=True, help="Look in the trash.")
@filter_options
def runs_info(run: str | None, env: bool, all_scalars: bool, as_json: bool, deleted: bool, **kw: Any) -> None:
    """Show a run's attributes, flags and scalars (default: the latest run)."""
    from .api import _records
    from .errors import SelectError
    from .store.run import Run

    sel, filters = _selection((run or "1",), kw)
    records = _records(sel, (), filters, deleted=deleted, want_summary=True)
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
        "exit_status": r.get("exit_status"),
        "random_seed": rr.get("random_seed"),
        "flags": r.get("flags") or {},
    }
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
        info["environment"] = rr.get("env") or {}
    if as_json:
        import json

        click.echo(json.dumps(info, indent=2, default=str))
        return
    click.echo(_format_info(info))


def _scalar_key(s: list) -> str:
    from .store.record import scalar_column

    return scalar_column(s[0], s[1])


def _format_info(info: dict, indent: str = "") -> str:
    lines = []
    for k, v in info.items():
        if isinstance(v, dict):
            lines.append(f"{indent}{k}:")
            if v:
                lines.append(_format_info(v, indent + "  "))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            lines.append(f"{indent}{k}:")
            for item in v:
                lines.append(f"{indent}  - " + ", ".join(f"{a}: {b}" for a, b in item.items()))
        elif isinstance(v, list):
            lines.append(f"{indent}{k}: {' '.join(str(x) for x in v)}")
        else:
            lines.append(f"{indent}{k}: {'' if v is None else v}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
