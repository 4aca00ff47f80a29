"""The ``runyard`` command: thin click commands over :mod:`runyard.api`."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from . import options as _options
from .errors import RunyardError
from .terminal import echo as _echo  # every text runyard prints is made terminal-safe


class _Filtered(click.Command):
    """A command taking the run filters (``-Fl``, ``-Sc``, ...).

    The filters live in a namespace of their own: the command's function gets them as one
    argument, ``filters`` (a dict of only those given), so none of the command's own options
    (``label --set``, ``comment --add``) can clash with them. Where a command's own option uses
    a filter's option string, the command's wins and the filter keeps its other spellings.
    Their ~17 options are built on first use, not at import: ``runyard run`` should not pay."""

    _NS = "_filter_"

    def get_params(self, ctx: click.Context) -> list:
        if not getattr(self, "_filters_built", False):
            taken = frozenset(o for p in self.params for o in (*p.opts, *p.secondary_opts))
            holder = _options.click_options(_options.FILTER_OPTIONS, self._NS, taken)(lambda **kw: None)
            self.params.extend(reversed(holder.__click_params__))
            self._filters_built = True
        return super().get_params(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        import inspect

        if "filters" not in inspect.signature(self.callback).parameters:
            raise TypeError(f"command {self.name!r} must take its filters as one parameter, 'filters: dict'")
        filters = {}
        for name in [n for n in ctx.params if n.startswith(self._NS)]:
            value = ctx.params.pop(name)
            if value not in (None, False, ()):
                filters[name[len(self._NS):]] = list(value) if isinstance(value, tuple) else value
        ctx.params["filters"] = filters
        return super().invoke(ctx)


class _Group(click.Group):
    """Turns RunyardError into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RunyardError as e:
            _echo(f"runyard: {e.cli_message or e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("runyard: interrupted", err=True)
            ctx.exit(130)
        except OSError as e:  # a disk full, a read-only runs home...: one line, not a traceback
            where = f": {e.filename}" if getattr(e, "filename", None) else ""
            _echo(f"runyard: {e.strerror or e}{where}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="runyard", prog_name="runyard")
def main() -> None:
    """Track, compare and manage machine-learning runs with no change to your code."""
    from .terminal import enable_progress

    enable_progress()  # e.g. "indexing 10,000 runs" on a terminal while a first listing builds


def _confirm(prompt: str, yes: bool) -> bool:
    """Ask only on a terminal; -y/--yes skips asking."""
    if yes or not sys.stdin.isatty():
        return True
    return click.confirm(prompt, default=True)


def _selection(runs: tuple, filters: dict) -> tuple[list | None, dict]:
    return (list(runs) if runs else None), filters


# --- run ----------------------------------------------------------------------------------------

def _run_options(f):
    return _options.click_options(_options.RUN_OPTIONS)(f)


class _RunCommand(click.Command):
    """``runyard run``: ``--lr 0.1`` (an option runyard doesn't have) is answered with the
    NAME=VALUE form of the flag, not with click's guess at a similar option."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        params = self.get_params(ctx)
        known = {o for p in params for o in (*p.opts, *p.secondary_opts)}
        takes_value = {o for p in params if isinstance(p, click.Option) and not p.is_flag for o in p.opts}
        for i, a in enumerate(args):
            if a == "--":
                break
            if i and args[i - 1] in takes_value:
                continue  # an option's value: -l --odd-label
            name, eq, val = a.partition("=")
            if a.startswith("--") and len(a) > 2 and name not in known:
                if not eq:
                    nxt = args[i + 1] if i + 1 < len(args) else None
                    val = nxt if nxt is not None and (not nxt.startswith("-") or _is_number(nxt)) else "yes"
                from .errors import UsageError

                raise UsageError(f"flags are given as NAME=VALUE: {name[2:]}={val}")
        return super().parse_args(ctx, args)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@main.command("run", cls=_RunCommand, context_settings={"ignore_unknown_options": False})
@click.argument("script", required=False)
@click.argument("flags", nargs=-1)
@click.option("--help-op", is_flag=True, help="Show the script's flags and exit.")
@click.option("--test-sourcecode", is_flag=True,
              help="Show which files the run's source snapshot would copy, and why others are skipped; make no run.")
@_run_options
def run_cmd(script: str | None, flags: tuple, help_op: bool, test_sourcecode: bool, **opts: Any) -> None:
    """Run SCRIPT (or a guild.yml operation OP, MODEL:OP) in a new run directory.
    FLAGS are NAME=VALUE (NAME=[a,b] makes a grid)."""
    from .guildfile import resolve

    if script is not None and "=" in script and not os.path.exists(script):
        flags, script = (script, *flags), None  # `runyard run lr=0.1`: the guild.yml default operation
    again = opts.get("restart") or opts.get("proto")
    if again and script is not None:
        raise click.UsageError("--restart and --proto take the operation from the run: give only FLAGS")
    if again:
        from .launch import rerun

        info, again_flags, _ = rerun.proto_source(_one_run(again, "--proto")) if opts.get("proto") \
            else (None, {}, None)
        if info is None:  # --restart: straight to the run (its own command, or new flag values)
            from .flags.values import parse_assign

            opts = {k: v for k, v in opts.items() if v not in (None, False, ())}
            opts.pop("yes", None)
            from . import api

            quiet = opts.pop("quiet", False)
            background = opts.pop("background", False)
            ids = api.run_ids(None, dict(parse_assign(f) for f in flags) or None, echo=not quiet,
                              wait=not background, **opts)
            from .home import find_home, runs_dir

            _exit_now(0 if background else _exit_code([runs_dir(find_home()) / ids[0]]))
    else:
        info = resolve(script)
    if script is None:
        script = info.name
    if opts.get("python") or opts.get("rscript"):
        from .lang.runtime import override

        override(info, python=opts.get("python"), rscript=opts.get("rscript"))
    if help_op:
        _echo(_help_op(info))
        return
    if test_sourcecode:
        from .launch import sourcecode

        from .launch.projectdata import empty_dirs

        _echo(sourcecode.plan(*sourcecode.rules_for(info), explain=True).explain())
        made = empty_dirs(info.project_dir)
        if made:
            _echo("Empty folders made in the run: " + ", ".join(f"{d}/" for d in made))
        return
    from .flags import list_values
    from .flags.values import parse_assign

    given = dict(parse_assign(f) for f in flags)
    if info.op is not None:
        from .launch.deps import keep_ids_raw

        given = keep_ids_raw(info, list(flags), given)
    opts = {k: v for k, v in opts.items() if v not in (None, False, ())}
    yes = opts.pop("yes", False)
    from .flags.values import is_batch

    # (as api.run takes them: a list flag's layers=[128,64] is one value; `given` goes to it as typed)
    meant = list_values(info.flags, given)
    if not is_batch(meant) and not any(k in opts for k in ("optimizer", "max_trials", "seeds")):
        from .launch.runner import resolve_values

        if opts.get("proto"):
            given = {**again_flags, **given}
            meant = list_values(info.flags, given)
        values = resolve_values(info, meant, bool(opts.get("force_flags")))
        if _introspect(info, values, opts):
            return
        if not _confirm(_preview(info, values), yes):
            click.echo("Cancelled.", err=True)
            sys.exit(1)
    elif _introspect_batch(info, meant, opts):
        return
    elif not yes and sys.stdin.isatty():
        if not click.confirm(f"You are about to run a batch of {info.name}\nContinue?", default=True):
            sys.exit(1)
    from . import api
    from .launch import forked

    forked.allow()  # this process is runyard's own: a Python run may start as a fork of it
    for key in ("max_trials", "workers", "random_seed"):
        if key in opts:
            try:
                opts[key] = int(opts[key])
            except ValueError:
                raise click.BadParameter(f"--{key.replace('_', '-')} needs a whole number") from None
    quiet = opts.pop("quiet", False)
    background = opts.pop("background", False)
    if opts.get("proto"):
        script, given = None, {k: v for k, v in given.items() if k not in again_flags or again_flags[k] != v}
    if not background and not opts.get("stage") and not is_batch(meant) and not any(
            k in opts for k in ("optimizer", "max_trials", "workers", "dask", "executor", "sync", "seeds")):
        from .launch.runner import catch_early_sigterm

        catch_early_sigterm()  # a SIGTERM from now on ends the run 'terminated', not 'error'
    ids = api.run_ids(script, given or None, echo=not quiet, wait=not background, **opts)
    if background:
        for rid in ids:
            _echo(f"{info.name} started in background as {rid}")
    elif opts.get("stage"):
        for rid in ids:
            _echo(f"{info.name} staged as {rid}")
    if background and not ids:
        _echo(f"{info.name} batch started in background")
    code = 0
    if ids and not background and not opts.get("stage"):
        from .home import find_home, runs_dir
        from .store.run import status_of

        each = [status_of(runs_dir(find_home()) / i) for i in ids]
        code = _exit_code([runs_dir(find_home()) / i for i in ids], each)
        if not quiet:
            _say_made(ids, each, runs_dir(find_home()))
    _exit_now(code)


def _exit_code(run_dirs: list, statuses: list[str] | None = None) -> int:
    """``runyard run``'s exit status, one rule for a run and a batch: 0 when every run completed,
    1 when one failed, 130 after Ctrl-C (the shell's convention), 2 when one was stopped otherwise
    (``runyard stop``, SIGTERM)."""
    from .store.run import Run, status_of

    statuses = statuses if statuses is not None else [status_of(d) for d in run_dirs]
    if "error" in statuses:
        return 1
    stopped = [d for d, st in zip(run_dirs, statuses) if st == "terminated"]
    if not stopped:
        return 0
    try:
        interrupted = any(Run(d).get("exit_status") == -16 for d in stopped)
    except Exception:  # noqa: BLE001 - an unreadable attribute: still stopped
        interrupted = False
    return 130 if interrupted else 2


def _say_made(ids: list[str], statuses: list[str], base) -> None:
    """The closing line of ``runyard run``: which run(s) it made, and where."""
    if len(ids) == 1:
        _echo(f"Run {ids[0][:8]} {statuses[0]}: {base / ids[0]}", err=True)
        return
    counts = {s: statuses.count(s) for s in dict.fromkeys(statuses)}
    shown = ", ".join(f"{n} {s}" for s, n in counts.items())
    _echo(f"{len(ids)} runs ({shown}), last {ids[-1][:8]}: {base / ids[-1]} (see 'runyard runs 1:{len(ids)}')",
          err=True)


def _introspect(info, values: dict, opts: dict) -> bool:
    """--print-cmd, --test-flags, --test-output-scalars: print and make nothing (True if one was given)."""
    from .launch import rerun

    if opts.get("print_cmd"):
        _echo(rerun.print_cmd(info, values))
    if opts.get("test_flags"):
        _echo(rerun.test_flags(info, values))
    src = opts.get("test_output_scalars")
    if src:
        if src == "-":
            text = sys.stdin.read()
        else:
            try:
                with open(src, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError as e:
                raise click.UsageError(f"cannot read {src}: {e.strerror}") from None
        _echo(rerun.test_output_scalars(info, text))
    return bool(opts.get("print_cmd") or opts.get("test_flags") or src)


def _introspect_batch(info, given: dict, opts: dict) -> bool:
    """--print-cmd / --test-flags / --test-output-scalars for a batch: each trial's; nothing is made."""
    if not any(opts.get(k) for k in ("print_cmd", "test_flags", "test_output_scalars")):
        return False
    from .batch.runner import plan
    from .launch.runner import resolve_values

    p = plan(info, given, force_flags=bool(opts.get("force_flags")), max_trials=opts.get("max_trials"),
             optimizer=opts.get("optimizer"), random_seed=opts.get("random_seed"),
             minimize=opts.get("minimize"), maximize=opts.get("maximize"))
    per_trial = {k: v for k, v in opts.items() if k != "test_output_scalars"}
    if p.trials is None:
        _echo(f"(--optimizer {p.optimizer} chooses each trial's flags as the batch runs: the defaults shown)")
        _introspect(info, resolve_values(info, {}, True), per_trial)
    for trial in p.trials or ():
        _introspect(info, trial.values, per_trial)
    if opts.get("test_output_scalars"):
        _introspect(info, {}, {"test_output_scalars": opts["test_output_scalars"]})
    return True


def _exit_now(code: int) -> None:
    """Exit at once: the run is finalized and nothing else needs tearing down (saves ~10 ms)."""
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            pass
    main_file = os.path.basename(getattr(sys.modules.get("__main__"), "__file__", "") or "")
    if threading_active() > 1 or main_file not in ("runyard", "cli.py"):
        sys.exit(code)  # someone else's threads, or runyard called in-process: exit normally
    os._exit(code)


def threading_active() -> int:
    import threading

    return threading.active_count()


def _preview(info, values: dict) -> str:
    from .flags import format_value

    from .terminal import safe

    lines = [f"You are about to run {safe(info.name)}"]
    for k in sorted(values):
        lines.append(f"  {safe(k)}: {safe(format_value(values[k]))}")
    lines.append("Continue?")
    return "\n".join(lines)


def _help_op(info) -> str:
    from .flags import format_value, is_list_flag, typed_name

    out = [f"Usage: runyard run [OPTIONS] {info.name} [FLAG]...", ""]
    desc = info.options.get("description")
    if desc:
        out += [str(desc).strip(), ""]
    out += ["Use 'runyard run --help' for a list of options.", ""]
    if not info.flags:
        out.append("No flags." + (f" ({info.hint})" if info.hint else ""))
        return "\n".join(out)
    out.append("Flags:")
    shown = {typed_name(fd): fd for fd in info.flags.values()}  # the name as the user types it
    width = max(len(n) for n in shown) + 2
    for name in sorted(shown):
        fd = shown[name]
        parts = []
        if fd.description:
            parts.append(fd.description)
        meta = []
        if fd.required:
            meta.append("required")
        elif fd.default is not None and is_list_flag(fd):
            meta.append(f"default is [{', '.join(str(fd.default).split())}]")
        elif fd.default is not None:
            meta.append(f"default is {format_value(fd.default)}")
        elif "guild-null-label" in fd.extra:  # guild.yml null-label
            meta.append(f"default is {fd.extra['guild-null-label']}")
        if is_list_flag(fd):
            meta.append(f"list of {fd.extra.get('item-type') or 'values'}: {name}=[a,b] (one run; [[a,b],[c]] a grid)")
        elif fd.type:
            meta.append(fd.type)
        if fd.min is not None or fd.max is not None:
            meta.append(f"range {fd.min if fd.min is not None else ''}..{fd.max if fd.max is not None else ''}")
        if fd.choices:
            meta.append("choices: " + ", ".join(format_value(c) for c in fd.choices))
        text = " ".join(parts + ([f"({'; '.join(meta)})"] if meta else []))
        out.append(f"  {name.ljust(width)} {text}")
    return "\n".join(out)


def _one_run(selector: str, what: str):
    """The one run ``selector`` names, for an option that takes one run."""
    from .api import ls_records
    from .errors import UsageError
    from .store.run import Run

    records = ls_records([selector])
    if len(records) != 1:
        raise UsageError(f"{what} needs exactly one run ({len(records)} match '{selector}')")
    return Run(records[0]["dir"])


@main.command("ops")
@click.option("-a", "--all", "show_all", is_flag=True, help="Also the private operations (named _like_this).")
def ops_cmd(show_all: bool) -> None:
    """List the operations of the project's guild.yml, with their descriptions."""
    from pathlib import Path

    from . import guildfile
    from .errors import UsageError
    from .terminal import safe

    path = guildfile.find(Path.cwd())
    if path is None:
        raise UsageError("no guild.yml in this directory")
    ops = sorted(guildfile.load(path).operations(), key=lambda o: o.display_name)
    if not show_all:
        ops = [o for o in ops if not o.private]
    names = {o.display_name: safe(o.display_name) for o in ops}  # a newline in a name is no new line
    width = max((len(n) for n in names.values()), default=0) + 2
    for o in ops:
        first = o.description.splitlines()[0] if o.description else ""
        _echo(f"{names[o.display_name].ljust(width)}{safe(first)}".rstrip())


@main.command("check")
def check_cmd() -> None:
    """Show versions, the runs home, and which optional parts (R, Dask, the view...) are usable."""
    from .check import report

    lines, ok = report()
    width = max(len(k) for k, _ in lines) + 1
    for k, v in lines:
        _echo(f"{(k + ':').ljust(width)} {v}")
    if not ok:
        sys.exit(1)


# --- runs -----------------------------------------------------------------------------------------

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


def _fmt_time(us: Any) -> str:
    if us is None:
        return ""
    from datetime import datetime

    return datetime.fromtimestamp(us / 1e6).isoformat(" ", "seconds")  # YYYY-MM-DD HH:MM:SS, fast


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
    from .api import ls_records

    sel, filters = _selection(runs, filters)
    records = ls_records(None, deleted=deleted, remote=remote, **filters)
    place = {r["id"]: i for i, r in enumerate(records, 1)}
    if sel:
        from .select.runs import select

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
    from . import terminal

    header = ["run", "operation", "started", "status", "label"]
    rows = [[f"[{place.get(r['id'], i)}:{r['id'][:8]}]", r.get("operation") or "", _fmt_time(r.get("started")),
             r.get("status") or "", r.get("label") or ""] for i, r in enumerate(records, 1)]
    lines, dropped = terminal.table(header, rows, show_header=False, cuttable=["label", "operation"],
                                    drop_order=["started", "label", "operation"], keep=["run"],
                                    styles={"status": terminal.STATUS_STYLE.get, "run": "dim"})
    click.echo("\n".join(lines))
    if dropped:
        click.echo(terminal.dropped_note(dropped), err=True)


def _say_none(runs: tuple, kw: dict, deleted: bool = False) -> None:
    """Say on stderr that nothing matched (not an error: exit 0)."""
    from . import terminal

    asked = list(runs)
    by_key = {k: opts[0] for opts, k, _, _ in _options.FILTER_OPTIONS}
    for k, v in kw.items():
        if v in (None, False, ()):
            continue
        opt = by_key.get(k, "--" + k.replace("_", "-"))
        vals = v if isinstance(v, (list, tuple)) else [v]
        asked += [opt] if v is True else [f"{opt} {x!r}" if " " in str(x) else f"{opt} {x}" for x in vals]
    if deleted:
        asked.append("--deleted")
    if asked:
        terminal.echo(f"no runs match {' '.join(terminal.safe(a) for a in asked)}", err=True)
    else:
        from .home import find_home

        terminal.echo(f"no runs yet in {find_home()}", err=True)


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
    from .api import ls_records
    from .errors import SelectError
    from .store.run import Run

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
    from .store.links import run_deps, run_steps

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
        from .environ import storable  # (a run made by Guild AI may hold what we never store)

        info["environment"] = storable(rr.get("env") or {})
    if as_json:
        import json

        click.echo(json.dumps(info, indent=2, default=str))
        return
    _echo(_format_info(info))


def _scalar_key(s: list) -> str:
    from .store.record import scalar_column

    return scalar_column(s[0], s[1])


def _format_info(info: dict, indent: str = "") -> str:
    from .terminal import safe  # each key and value on its own line, whatever it holds

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




@main.command("help")
@click.argument("topic", required=False)
@click.pass_context
def help_cmd(ctx: click.Context, topic: str | None) -> None:
    """Show help on TOPIC: 'selection' (which runs: 1, 1:3, id prefixes) or 'filters'
    (-F expressions, --started ranges, the filter options); or a command's help."""
    from .errors import UsageError
    from .help_topics import TOPICS

    if topic in TOPICS:
        _echo(TOPICS[topic].rstrip())
        return
    if topic is None:
        _echo(main.get_help(ctx.parent) + "\n\nHelp topics: " + ", ".join(TOPICS)
              + " ('runyard help TOPIC').")
        return
    cmd = main.get_command(ctx, topic)
    if cmd is None:
        raise UsageError(f"no help topic or command '{topic}' (topics: {', '.join(TOPICS)})")
    _echo(cmd.get_help(click.Context(cmd, info_name=topic, parent=ctx.parent)))


# --- managing runs ------------------------------------------------------------------------------

def _preview_runs(records: list[dict], action: str, yes: bool) -> bool:
    if not records:
        from .errors import SelectError

        raise SelectError("no runs match the selection")
    lines = [f"You are about to {action} the following runs:"]
    from .terminal import safe

    for r in records[:50]:
        lines.append(f"  [{safe(r['id'][:8])}]  {safe(r.get('operation'))}  {_fmt_time(r.get('started'))}  "
                     f"{r.get('status')}  {safe(r.get('label'))}".rstrip())
    if len(records) > 50:
        lines.append(f"  ... and {len(records) - 50} more")
    lines.append("Continue?")
    return _confirm("\n".join(lines), yes)


def _select_records(runs: tuple, filters: dict, deleted: bool = False) -> list[dict]:
    from .api import ls_records

    sel, filters = _selection(runs, filters)
    return ls_records(sel, deleted=deleted, **filters)


def _ids(records: list[dict]) -> list[str]:
    return [r["id"] for r in records]


def _act(runs: tuple, filters: dict, action: str, yes: bool, call, done: str, deleted: bool = False) -> None:
    """Select runs, show them and ask (on a terminal), then ``call(ids)`` and say what was done."""
    records = _select_records(runs, filters, deleted=deleted)
    if not _preview_runs(records, action, yes):
        sys.exit(1)
    call(_ids(records), include_batch=True)  # the exact runs selected, batch runs included
    click.echo(f"{done} {len(records)} run(s)")


@runs_group.command("delete", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--permanent", "-p", is_flag=True, help="Remove for good instead of moving to the trash.")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def runs_delete_cmd(runs: tuple, permanent: bool, yes: bool, filters: dict) -> None:
    """Delete runs (they go to the trash unless --permanent)."""
    from . import api

    _act(runs, filters, "permanently delete" if permanent else "delete", yes,
         lambda ids, **kw: api.runs_delete(ids, permanent=permanent, **kw), "Deleted")


@runs_group.command("purge", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def runs_purge_cmd(runs: tuple, yes: bool, filters: dict) -> None:
    """Remove deleted runs for good."""
    from . import api

    _act(runs, filters, "permanently remove", yes, api.runs_purge, "Purged", deleted=True)


@runs_group.command("restore", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def runs_restore_cmd(runs: tuple, yes: bool, filters: dict) -> None:
    """Restore deleted runs."""
    from . import api

    _act(runs, filters, "restore", yes, api.runs_restore, "Restored", deleted=True)


@main.command("tag", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--add", "-a", multiple=True, metavar="TAG", help="Tag to add (repeatable).")
@click.option("--delete", "-d", "remove", multiple=True, metavar="TAG", help="Tag to remove (repeatable).")
@click.option("--clear", "-c", is_flag=True, help="Remove all tags first.")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def tag_cmd(runs: tuple, add: tuple, remove: tuple, clear: bool, yes: bool, filters: dict) -> None:
    """Add or remove tags of runs."""
    from . import api

    if not (add or remove or clear):
        from .errors import UsageError

        raise UsageError("tag needs -a/--add, -d/--delete or -c/--clear")
    records = _select_records(runs, filters)
    if not _preview_runs(records, "tag", yes):
        sys.exit(1)
    api.runs_tag(_ids(records), list(add), remove=list(remove), clear=clear, include_batch=True)
    click.echo(f"Tagged {len(records)} run(s)")


@main.command("mark", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--clear", "-c", is_flag=True, help="Unmark the runs.")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def mark_cmd(runs: tuple, clear: bool, yes: bool, filters: dict) -> None:
    """Mark runs (or unmark them with --clear)."""
    from . import api

    records = _select_records(runs, filters)
    if not _preview_runs(records, "unmark" if clear else "mark", yes):
        sys.exit(1)
    api.runs_mark(_ids(records), clear=clear, include_batch=True)
    click.echo(f"{'Unmarked' if clear else 'Marked'} {len(records)} run(s)")


@main.command("label", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--set", "-s", "label", help="The new label.")
@click.option("--prepend", "-p", help="Text to put before the label.")
@click.option("--append", "-a", help="Text to put after the label.")
@click.option("--remove", "-rm", multiple=True, help="Word to remove from the label (repeatable).")
@click.option("--clear", "-c", is_flag=True, help="Remove the label.")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def label_cmd(runs: tuple, label: str | None, prepend: str | None, append: str | None, remove: tuple,
              clear: bool, yes: bool, filters: dict) -> None:
    """Set or change run labels."""
    from . import api

    if label is None and prepend is None and append is None and not remove and not clear:
        from .errors import UsageError

        raise UsageError("label needs -s/--set, -p/--prepend, -a/--append, -rm/--remove or -c/--clear")
    records = _select_records(runs, filters)
    if not _preview_runs(records, "label", yes):
        sys.exit(1)
    api.runs_label(_ids(records), label, prepend=prepend, append=append, remove=list(remove) or None, clear=clear)
    click.echo(f"Labeled {len(records)} run(s)")


@main.command("comment", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--add", "-a", "comment", help="The comment to add.")
@click.option("--list", "-l", "list_", is_flag=True, help="List the comments.")
@click.option("--delete", "-d", type=int, help="Delete comment number N (1 = first).")
@click.option("--clear", "-c", is_flag=True, help="Delete all comments.")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def comment_cmd(runs: tuple, comment: str | None, list_: bool, delete: int | None, clear: bool, yes: bool,
                filters: dict) -> None:
    """Add, list or delete comments on runs."""
    from . import api

    records = _select_records(runs, filters)
    if list_ or (comment is None and delete is None and not clear):
        for r in records:
            _echo(f"[{r['id'][:8]}]  {r.get('operation') or ''}  {r.get('label') or ''}".rstrip())
            for i, c in enumerate(r.get("comments") or [], 1):
                _echo(f"  {i}. {c.get('user', '')}@{c.get('host', '')} {_fmt_time(c.get('time'))}")
                _echo(f"     {c.get('body', '')}")
        return
    if not _preview_runs(records, "comment on", yes):
        sys.exit(1)
    api.runs_comment(_ids(records), comment, delete=delete, clear=clear)
    click.echo(f"Updated comments of {len(records)} run(s)")


@main.command("stop", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def stop_cmd(runs: tuple, yes: bool, filters: dict) -> None:
    """Stop running runs (default: the latest running run)."""
    from . import api

    filters["running"] = True
    filters["include_batch"] = True
    if not runs and not _select_records((), filters):
        _say_none((), {"running": True})  # nothing is running: say so, not "no run 1"
        return
    records = _select_records(runs or ("1",), filters)
    if not _preview_runs(records, "stop", yes):
        sys.exit(1)
    stopped = api.stop_runs(_ids(records), include_batch=True)
    click.echo(f"Stopped {len(stopped)} run(s)")


@main.command("export", cls=_Filtered)
@click.argument("location")
@click.argument("runs", nargs=-1)
@click.option("--move", "-m", is_flag=True, help="Move the runs instead of copying them.")
@click.option("--copy-links", "-L", is_flag=True, help="Store what links (pipeline steps, batch trials, linked "
              "dependencies) point at as files (default: keep them as links, in zips too).")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def export_cmd(location: str, runs: tuple, move: bool, copy_links: bool, yes: bool, filters: dict) -> None:
    """Copy (or move) runs to LOCATION: a directory or a .zip file."""
    from . import api

    records = _select_records(runs, filters)
    if not _preview_runs(records, f"{'move' if move else 'copy'} to {location}", yes):
        sys.exit(1)
    api.runs_export(_ids(records), location, move=move, include_batch=True,  # the ids are chosen already
                    links="copy" if copy_links else "keep")
    _echo(f"Exported {len(records)} run(s) to {location}")


@main.command("import")
@click.argument("archive")
@click.argument("runs", nargs=-1)
@click.option("--move", "-m", is_flag=True, help="Move the runs instead of copying them.")
@click.option("--force", is_flag=True, help="Accept entries that expand more than 1000:1 (a possible zip bomb).")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def import_cmd(archive: str, runs: tuple, move: bool, force: bool, yes: bool) -> None:
    """Import runs from ARCHIVE: a directory or a .zip file made by export."""
    from . import api
    from .store.archive import archive_run_ids

    from pathlib import Path

    ids = archive_run_ids(Path(archive).expanduser().absolute())
    if not _confirm(f"You are about to import {len(ids)} run(s) from {archive}\nContinue?", yes):
        sys.exit(1)
    done = api.runs_import(archive, list(runs) or None, move=move, force=force)
    _echo(f"Imported {len(done)} run(s)" + (f" ({len(ids) - len(done)} already present)"
                                                 if len(done) < len(ids) and not runs else ""))


@main.command("select", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--all", "-A", "all_", is_flag=True, help="Print every selected run (default: the first).")
@click.option("--short-id", "-s", is_flag=True, help="Print short ids.")
@click.option("--attr", "-a", metavar="NAME", help="Print this attribute instead of the id.")
@click.option("--path", "--dir", "-p", "path", is_flag=True, help="Print the run directory.")
@click.option("--min", "min_", metavar="SCALAR", help="Select the run with the lowest SCALAR.")
@click.option("--max", "max_", metavar="SCALAR", help="Select the run with the highest SCALAR.")
def select_cmd(runs: tuple, all_: bool, short_id: bool, attr: str | None, path: bool, min_: str | None,
               max_: str | None, filters: dict) -> None:
    """Print the id of the selected run (default: the latest)."""
    from .errors import SelectError

    records = _select_records(runs, filters)
    col = min_ or max_
    if col:
        name = col.split(":", 1)[1] if col.startswith("scalar:") else col
        have = [r for r in records if isinstance((r.get("scalars") or {}).get(name), (int, float))]
        if not have:
            raise SelectError(f"no selected run has a scalar '{name}'")
        have.sort(key=lambda r: r["scalars"][name], reverse=bool(max_))
        records = have
    if not records:
        raise SelectError("no runs match the selection")
    if not all_:
        records = records[:1]
    from .store.run import Run

    for r in records:
        if attr:
            v = Run(r["dir"]).get(attr)
            if isinstance(v, (dict, list)):
                from .store.attrs import dumps

                _echo(dumps(v).rstrip())
            else:
                _echo("" if v is None else v)
        elif path:
            _echo(r["dir"])
        else:
            _echo(r["id"][:8] if short_id else r["id"])


def _one(run: str | None, filters: dict | None = None) -> dict:
    from .errors import SelectError

    records = _select_records((run or "1",), filters or {})
    if not records:
        raise SelectError("no runs match the selection")
    return records[0]


def _safe_path(run_dir: str, rel: str):
    import posixpath
    from pathlib import Path

    from .errors import UsageError
    from .store.paths import EnvironmentFileRefused, PathRefused, resolve_in_run

    try:
        p = resolve_in_run(run_dir, posixpath.normpath(rel) if rel not in ("", ".") else "")
    except EnvironmentFileRefused:
        raise
    except PathRefused:
        raise UsageError(f"'{rel}' is outside the run directory") from None
    if not p.exists():
        raise UsageError(f"no file '{rel}' in run {Path(run_dir).name[:8]}")
    return p


@main.command("cat", cls=_Filtered)
@click.argument("run", required=False)
@click.option("--path", "-p", metavar="PATH", help="A file in the run directory to print (default: the output).")
@click.option("--output", "-O", is_flag=True, help="Print the run's output (the default).")
def cat_cmd(run: str | None, path: str | None, output: bool, filters: dict) -> None:
    """Print a run's output, or one of its files (default: the latest run)."""
    r = _one(run, filters)
    if path:
        p = _safe_path(r["dir"], path)
        if p.is_dir():
            from .errors import UsageError

            raise UsageError(f"'{path}' is a directory (use 'runyard ls')")
    import shutil

    from .store.paths import open_regular, open_run_file

    try:
        f = open_regular(p) if path else open_run_file(r["dir"], ".guild/output")
    except FileNotFoundError:
        return
    with f:
        shutil.copyfileobj(f, sys.stdout.buffer)
    sys.stdout.flush()


@main.command("ls", cls=_Filtered)
@click.argument("run", required=False)
@click.option("--path", "-p", metavar="PATH", help="List only under this path.")
@click.option("--all", "-a", "all_", is_flag=True, help="Include runyard's own files (.guild).")
@click.option("--sourcecode", "-s", is_flag=True, help="List only source code files.")
@click.option("--full-path", "-f", is_flag=True, help="Print absolute paths.")
@click.option("--follow-links", "-L", is_flag=True, help="List inside linked directories (pipeline steps, "
              "batch trials, linked dependencies).")
def ls_cmd(run: str | None, path: str | None, all_: bool, sourcecode: bool, full_path: bool, follow_links: bool,
           filters: dict) -> None:
    """List a run's files (default: the latest run)."""
    import os
    from pathlib import Path

    r = _one(run, filters)
    base = Path(r["dir"])
    if sourcecode:
        from .launch.sourcecode import manifest_files

        files = manifest_files(base)
    else:
        start = _safe_path(r["dir"], path) if path else base
        files = []
        for root, dirs, names in os.walk(start, followlinks=follow_links):
            dirs.sort()
            if not all_:
                dirs[:] = [d for d in dirs if not (Path(root) == base and d == ".guild")]
            if not follow_links:  # a linked directory (a step, a trial) shows as `name/`, as in guild ls
                for d in dirs:
                    if (Path(root) / d).is_symlink():
                        files.append((Path(root) / d).relative_to(base).as_posix() + "/")
            for n in sorted(names):
                files.append((Path(root) / n).relative_to(base).as_posix())
    if not full_path:
        _echo(f"{base}:")
    for f in files:
        _echo(str(base / f) if full_path else f"  {f}")


@main.command("watch", cls=_Filtered)
@click.argument("run", required=False)
def watch_cmd(run: str | None, filters: dict) -> None:
    """Follow a running run's output until it stops (default: the latest running run)."""
    import time

    from .store.run import status_of

    if not run and not any(filters.get(s) for s in ("running", "completed", "error", "terminated")):
        filters["running"] = True
    r = _one(run, filters)
    out_path = f"{r['dir']}/.guild/output"
    pos = 0
    try:
        while True:
            try:
                with open(out_path, "rb") as f:
                    f.seek(pos)
                    data = f.read()
            except FileNotFoundError:
                data = b""
            if data:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
                pos += len(data)
            from pathlib import Path

            if status_of(Path(r["dir"])) not in ("running", "pending", "staged"):
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        return
    _echo(f"Run {r['id'][:8]} stopped ({status_of(Path(r['dir']))})", err=True)


@main.command("diff", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--flags", "-f", "what", flag_value="flags", help="Compare flags only.")
@click.option("--sourcecode", "-s", "what", flag_value="sourcecode", help="Compare source code only.")
@click.option("--output", "-O", "what", flag_value="output", help="Compare output only.")
@click.option("--deps", "-D", "what", flag_value="deps", help="Compare dependencies only.")
@click.option("--path", "-p", "paths", multiple=True, metavar="PATH", help="Compare this file (repeatable).")
@click.option("--html", is_flag=True, help="Write a self-contained HTML diff, print its path and open it.")
@click.option("--no-open", "-n", is_flag=True, help="With --html: don't open the diff in a browser.")
def diff_cmd(runs: tuple, what: str | None, paths: tuple, html: bool, no_open: bool, filters: dict) -> None:
    """Show how two runs differ: flags, dependencies, source files and output (default: the latest two)."""
    from . import diffs

    records = _select_records(runs or ("1", "2"), filters)
    if len(records) != 2:
        from .errors import UsageError

        raise UsageError(f"diff needs exactly two runs ({len(records)} selected)")
    a, b = records[1], records[0]  # older first
    if html:
        from .report import view_runs_diff

        _echo(view_runs_diff([a["id"], b["id"]], open=not no_open))
        return
    _echo(diffs.text_diff(a, b, what=what, paths=list(paths)), nl=False)


# --- compare and scalars -------------------------------------------------------------------------------

@main.command("compare", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--csv", "csv_path", metavar="FILE", help="Write CSV to FILE ('-' for standard output).")
@click.option("--table", "-t", is_flag=True, help="Print a table (the default).")
@click.option("--min", "min_", metavar="COL", help="Sort by COL, lowest first.")
@click.option("--max", "max_", metavar="COL", help="Sort by COL, highest first.")
@click.option("--top", "-n", type=int, metavar="N", help="Show only the first N rows.")
def compare_cmd(runs: tuple, csv_path: str | None, table: bool, min_: str | None, max_: str | None,
                top: int | None, filters: dict) -> None:
    """Compare runs: flags and last scalar values, one row per run."""
    from . import compare

    records = _select_records(runs, filters)
    header, rows = compare.table(records, sort_min=min_, sort_max=max_)
    if top:
        rows = rows[:top]
    if csv_path:
        compare.write_csv(header, rows, csv_path)
    elif not rows:
        _say_none(runs, filters)
    else:
        header, rows, same = compare.constant_flags(header, rows, compare.flag_columns(header, records))
        lines, dropped = compare.table_lines(header, rows)
        click.echo("\n".join(compare.constants_line(same) + lines))
        if dropped:
            from . import terminal

            click.echo(terminal.dropped_note(dropped), err=True)


@main.command("scalars", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--csv", "csv_path", metavar="FILE", help="Write CSV to FILE ('-' for standard output).")
@click.option("--summary", "-s", is_flag=True, help="One row per run and tag: first/last/min/max/avg/total/count.")
def scalars_cmd(runs: tuple, csv_path: str | None, summary: bool, filters: dict) -> None:
    """Print every scalar of the selected runs (run, path, tag, value, step)."""
    from . import api

    sel, filters = _selection(runs, filters)
    df = api.ls_scalars(sel, summary=summary, **filters)
    if csv_path:
        df.to_csv(sys.stdout if csv_path == "-" else csv_path, index=False)
    elif not len(df):
        _echo("No scalars.")
    else:
        df = df.assign(run=df["run"].str[:8])
        _echo(df.to_string(index=False))


# --- summary: groups of runs and tests between them (issue 24) -------------------------------------

@main.command("summary", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--by", "by", multiple=True, metavar="FLAG,...",
              help="Group by these flags alone (default: every flag but the seed).")
@click.option("--scalar", "scalars", multiple=True, metavar="NAME", help="Summarize this scalar (repeatable; "
              "default: all). With --versus: the one to compare.")
@click.option("--ci", default="0.95", show_default=True, metavar="LEVEL", help="Confidence level of the intervals.")
@click.option("--csv", "csv_path", metavar="FILE", help="Write CSV to FILE ('-' for standard output).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the summary's columns (with --versus: the test).")
@click.option("--versus", nargs=2, metavar="A B", help="Test whether runs B differ from runs A in --scalar (each a "
              "filter such as 'flag:units=64', or run ids a,b,c).")
def summary_cmd(runs: tuple, by: tuple, scalars: tuple, ci: str, csv_path: str | None, as_json: bool,
                versus: tuple | None, filters: dict) -> None:
    """Summarize groups of runs: each group is the runs of an operation whose flags are equal but
    the seed; mean ± confidence half-width (n) of each scalar, sorted by the first (lowest first).
    Only completed runs count unless a status filter (--error, ...) is given."""
    from . import api, stats

    if versus:
        if len(scalars) != 1:
            from .errors import UsageError

            raise UsageError("--versus needs one --scalar NAME to compare")
        if runs:
            from .errors import UsageError

            raise UsageError("with --versus, the two selections are A and B: give no other RUNS")
        df = api.runs_versus(versus[0], versus[1], scalars[0], ci=ci, **filters)
        row = df.iloc[0].to_dict()
        if as_json:
            _json_out({k: _plain_cell(v) for k, v in row.items()})
        elif csv_path:
            _write_frame_csv(df, csv_path)
        else:
            _echo(stats.plain_words(row, str(row["a"]), str(row["b"])))
            _echo(_versus_details(row))
        return
    sel, filters = _selection(runs, filters)
    df = api.runs_summary(sel, by=list(by) or None, scalars=list(scalars) or None, ci=ci, **filters)
    if as_json:
        _json_out({c: [_plain_cell(v) for v in df[c].tolist()] for c in df.columns})
    elif csv_path:
        _write_frame_csv(df, csv_path)
    elif not len(df):
        _echo("No completed runs match." if not any(
            filters.get(k) for k in ("running", "error", "terminated", "pending", "staged")) else "No runs match.")
    else:
        header, rows = _summary_table(df)
        from . import terminal

        lines, dropped = terminal.table(header, rows, drop_order=["operation"], keep=["n"],
                                        right=[h for h in header if h not in ("operation",)])
        click.echo("\n".join(lines))
        if dropped:
            click.echo(terminal.dropped_note(dropped), err=True)


def _plain_cell(v: Any) -> Any:
    """A cell of a summary frame as plain JSON-able Python: NumPy scalars unwrapped, NaN/NA None."""
    import pandas as pd

    if isinstance(v, (list, str)):
        return v
    if hasattr(v, "item"):
        v = v.item()
    return None if v is None or pd.isna(v) else v


def _write_frame_csv(df: Any, path: str) -> None:
    out = df.copy()
    for col in ("runs", "runs_a", "runs_b"):
        if col in out.columns:
            out[col] = [" ".join(ids) for ids in out[col]]
    if path == "-":
        out.to_csv(sys.stdout, index=False)
        return
    tmp = f"{path}.{os.getpid()}.tmp"  # (atomic: a reader never sees half a file)
    out.to_csv(tmp, index=False)
    os.replace(tmp, path)


def _summary_table(df: Any) -> tuple[list[str], list[list[str]]]:
    """The summary as text: varying flags, n, then ``mean ± half-width (n)`` per scalar, sorted
    by the first scalar's mean (lowest first)."""
    from . import stats
    from .flags import format_value

    flag_cols = [c for c in df.columns if c.startswith("flags.")]
    if len(df) > 1:
        flag_cols = [c for c in flag_cols if df[c].astype(str).nunique(dropna=False) > 1]
    scalars = [c[len("scalars."):-len(".mean")] for c in df.columns if c.startswith("scalars.") and c.endswith(".mean")]
    if scalars:
        df = df.sort_values(f"scalars.{scalars[0]}.mean", kind="stable", na_position="last")
    header = ["operation", *[c[len("flags."):] for c in flag_cols], "n", *scalars]
    rows = []
    for rec in df.to_dict("records"):
        row = [rec["operation"] or ""]
        row += ["" if _plain_cell(rec[c]) is None else format_value(_plain_cell(rec[c])) for c in flag_cols]
        row.append(str(rec["n"]))
        for name in scalars:
            mean, low, high = (rec[f"scalars.{name}.{k}"] for k in ("mean", "ci_low", "ci_high"))
            n = rec[f"scalars.{name}.n"]
            if mean != mean:
                row.append("")
            elif low != low:
                row.append(f"{mean:.4g} ({n})")
            else:
                half = (high - low) / 2
                d = stats.decimals_for(half)
                row.append(f"{mean:.{d}f} ± {half:.{d}f} ({n})")
        rows.append(row)
    return header, rows


def _versus_details(row: dict) -> str:
    def num(v: float, fmt: str = ".4g") -> str:
        return "n/a" if v != v else format(v, fmt)

    return (f"  {row['scalar']}: mean {num(row['mean_b'])} vs {num(row['mean_a'])}; "
            f"Welch t-test {_p(row['p_welch'])}, Mann-Whitney U {_p(row['p_mannwhitney'])}, "
            f"Hedges' g = {num(row['hedges_g'], '+.2f')}")


def _p(p: float) -> str:
    from .stats import _p_words

    return "p = n/a" if p != p else _p_words(p)


# --- queue ----------------------------------------------------------------------------------------

@main.command("queue")
@click.option("--poll-interval", "-p", type=float, default=5.0, show_default=True, metavar="SECONDS",
              help="How often to look for new staged runs.")
@click.option("--run-once", is_flag=True, help="Exit when no staged runs are left instead of waiting for more.")
@click.option("--max-runs", "-n", type=int, metavar="N", help="Exit after starting N runs.")
@click.option("--quiet", "-q", is_flag=True, help="Don't show the runs' output.")
def queue_cmd(poll_interval: float, run_once: bool, max_runs: int | None, quiet: bool) -> None:
    """Start staged runs (runyard run --stage) oldest first, one at a time, and wait for more.

    Start several queues to run several at once: each staged run is started by exactly one.
    Ctrl-C stops the running run and the queue.
    """
    from .batch import run_queue

    started = run_queue(poll_interval=poll_interval, run_once=run_once, max_runs=max_runs, echo=not quiet)
    n = len(started)
    click.echo(f"Queue started {n} staged run{'' if n == 1 else 's'}", err=True)


# --- web view and reports -------------------------------------------------------------------------

@main.command("view", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--host", default="127.0.0.1", metavar="ADDRESS", show_default=True,
              help="Address to listen on (anything but loopback requires the printed token).")
@click.option("--port", "-p", type=int, metavar="PORT", help="Port to listen on (default: a free one).")
@click.option("--no-open", "-n", is_flag=True, help="Don't open a browser.")
def view_cmd(runs: tuple, host: str, port: int | None, no_open: bool, filters: dict) -> None:
    """Browse, compare and manage runs in the web view (until Ctrl-C)."""
    from .web.server import serve

    sel, filters = _selection(runs, filters)
    serve(sel, host=host, port=port, open=not no_open, echo=_echo, **filters)


@main.command("report", cls=_Filtered)
@click.argument("run", required=False)
@click.option("--no-open", "-n", is_flag=True, help="Don't open the report in a browser.")
def report_cmd(run: str | None, no_open: bool, filters: dict) -> None:
    """Write a self-contained HTML report of RUN (default: the latest), print its path and open it."""
    from .report import view_run_report

    r = _one(run, filters)
    _echo(view_run_report(r["id"], open=not no_open))




# --- remotes --------------------------------------------------------------------------------

@main.group("remote")
def remote_group() -> None:
    """Named remotes to push runs to and pull them from (kept in ~/.config/runyard/remotes.yml)."""


@remote_group.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="A backend option, e.g. endpoint_url=http://127.0.0.1:9000 (repeatable). Never credentials.")
def remote_add_cmd(name: str, url: str, options: tuple) -> None:
    """Add remote NAME at URL: s3://BUCKET/PREFIX, ssh://USER@HOST[:PORT]/PATH or file:///PATH."""
    from .remotes import config

    r = config.add(name, url, dict(config.parse_option(o) for o in options))
    click.echo(f"added remote {r.name}: {r.url}")


@remote_group.command("list")
def remote_list_cmd() -> None:
    """List the remotes."""
    from .remotes import config

    for r in config.all_remotes():
        opts = " ".join(f"{k}={v}" for k, v in sorted(r.options.items()))
        click.echo(f"{r.name}  {r.url}  {opts}".rstrip())


@remote_group.command("remove")
@click.argument("name")
def remote_remove_cmd(name: str) -> None:
    """Remove remote NAME (its runs stay where they are)."""
    from .remotes import config

    config.remove(name)
    click.echo(f"removed remote {name}")


def _transfer_options(f):
    f = click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")(f)
    f = click.option("--include-running", is_flag=True, help="Also copy runs that are still running.")(f)
    return click.option("--delete", is_flag=True, help="Mirror deletions (remove what the source doesn't have).")(f)


def _transfer(call, remote: str, runs: tuple, delete: bool, include_running: bool, yes: bool, filters: dict,
              delete_prompt: str) -> None:
    """Push or pull; --delete says how many runs it would remove and asks (or needs -y)."""
    from .errors import UsageError

    def confirm(n: int) -> bool:
        prompt = delete_prompt.format(n=n, runs="run" if n == 1 else "runs")
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError(f"--delete would {prompt[0].lower()}{prompt[1:-1]}: add -y to do it (nothing was done)")
        if click.confirm(prompt, default=False):
            return True
        click.echo("Cancelled.", err=True)
        sys.exit(1)

    sel, filters = _selection(runs, filters)
    call(remote, sel, delete=delete, include_running=include_running, confirm=confirm, **filters)


@main.command("push", cls=_Filtered)
@click.argument("remote")
@click.argument("runs", nargs=-1)
@_transfer_options
def push_cmd(remote: str, runs: tuple, delete: bool, include_running: bool, yes: bool, filters: dict) -> None:
    """Copy runs to REMOTE; only new or changed files are sent."""
    from . import api

    _transfer(api.runs_push, remote, runs, delete, include_running, yes, filters,
              f"Remove {{n}} {{runs}} from {remote} that this home doesn't have?")


@main.command("pull", cls=_Filtered)
@click.argument("remote")
@click.argument("runs", nargs=-1)
@_transfer_options
def pull_cmd(remote: str, runs: tuple, delete: bool, include_running: bool, yes: bool, filters: dict) -> None:
    """Copy runs from REMOTE into this home; only new or changed files are fetched."""
    from . import api

    _transfer(api.runs_pull, remote, runs, delete, include_running, yes, filters,
              f"Move {{n}} local {{runs}} that {remote} doesn't have to the trash?")


# --- api: stable JSON for programs (the R package) ------------------------------------------------

@main.group("api", cls=_Group)
def api_group() -> None:
    """Stable JSON output for programs driving runyard (the R package uses these)."""


def _json_out(data: Any) -> None:
    import json
    import math

    def clean(v: Any) -> Any:  # JSON has no NaN/Inf: write them as strings R's jsonlite reads back
        if isinstance(v, float) and not math.isfinite(v):
            return "NaN" if math.isnan(v) else ("Inf" if v > 0 else "-Inf")
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    sys.stdout.write(json.dumps(clean(data), default=str, allow_nan=False))
    sys.stdout.write("\n")


_SUMMARY_KEYS = ("path", "tag", "first_val", "first_step", "last_val", "last_step", "min_val", "min_step",
                 "max_val", "max_step", "avg_val", "total", "count")


@api_group.command("runs", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--deleted", "-d", is_flag=True, help="List deleted runs (the trash).")
def api_runs_cmd(runs: tuple, deleted: bool, filters: dict) -> None:
    """The selected runs as a JSON list, newest first: id, label, tags, marked, flags, scalars
    (one summary per path and tag), operation, started, stopped (microseconds since the epoch),
    comments, status, exit_status, deps, project_dir, dir, sourcecode_digest."""
    from .api import ls_records
    from .store.run import Run

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
    from .api import ls_records
    from .store.tfevents import run_scalars

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
    from . import api
    from .flags.values import parse_assign
    from .lang import inspect

    info = inspect(script)
    if help_op:
        click.echo(_help_op(info))
        return
    given = dict(parse_assign(f) for f in flags)
    opts = {k: v for k, v in opts.items() if v not in (None, False, ())}
    opts.pop("yes", None)
    for key in ("max_trials", "workers", "random_seed"):
        if key in opts:
            try:
                opts[key] = int(opts[key])
            except ValueError:
                raise click.BadParameter(f"--{key.replace('_', '-')} needs a whole number") from None
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
    from .home import find_home, runs_dir
    from .store.run import status_of

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

    from .errors import UsageError
    from .store.run import Run

    run_dir = run_dir or os.environ.get("RUN_DIR")
    if not run_dir or not os.path.isfile(os.path.join(run_dir, ".guild", "opref")):
        raise UsageError("write-attr works inside a run (RUN_DIR is not a run directory); use --run-dir")
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name) or name in _OWN_ATTRS:
        raise UsageError(f"cannot write attribute '{name}'" + (": runyard writes it" if name in _OWN_ATTRS else ""))
    run = Run(run_dir)
    if value is None:
        run.delete_attr(name)
    else:
        from .safedata import load_json
        from .store.attrs import MAX_BYTES

        run.set(name, load_json(value, f"the value of '{name}'", max_bytes=MAX_BYTES))
    from . import index

    index.touch(run)


if __name__ == "__main__":  # pragma: no cover
    main()
