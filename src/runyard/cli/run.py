"""``runyard run``, ``ops``, ``check`` and ``queue``: start runs and what they start from."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .. import options as _options
from ..terminal import echo as _echo
from . import _confirm, _whole_numbers, main


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
                from ..errors import UsageError

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
    from ..guildfile import resolve

    if script is not None and "=" in script and not os.path.exists(script):
        flags, script = (script, *flags), None  # `runyard run lr=0.1`: the guild.yml default operation
    again = opts.get("restart") or opts.get("proto")
    if again and script is not None:
        raise click.UsageError("--restart and --proto take the operation from the run: give only FLAGS")
    if again:
        from ..launch import rerun

        info, again_flags, _ = rerun.proto_source(_one_run(again, "--proto")) if opts.get("proto") \
            else (None, {}, None)
        if info is None:  # --restart: straight to the run (its own command, or new flag values)
            from ..flags.values import parse_assign

            opts = {k: v for k, v in opts.items() if v not in (None, False, ())}
            opts.pop("yes", None)
            from .. import api

            quiet = opts.pop("quiet", False)
            background = opts.pop("background", False)
            ids = api.run_ids(None, dict(parse_assign(f) for f in flags) or None, echo=not quiet,
                              wait=not background, **opts)
            from ..home import find_home, runs_dir

            _exit_now(0 if background else _exit_code([runs_dir(find_home()) / ids[0]]))
    else:
        info = resolve(script)
    if script is None:
        script = info.name
    if opts.get("python") or opts.get("rscript"):
        from ..lang.runtime import override

        override(info, python=opts.get("python"), rscript=opts.get("rscript"))
    if help_op:
        _echo(_help_op(info))
        return
    if test_sourcecode:
        from ..launch import sourcecode

        from ..launch.projectdata import empty_dirs

        _echo(sourcecode.plan(*sourcecode.rules_for(info), explain=True).explain())
        made = empty_dirs(info.project_dir)
        if made:
            _echo("Empty folders made in the run: " + ", ".join(f"{d}/" for d in made))
        return
    from ..flags import list_values
    from ..flags.values import parse_assign

    given = dict(parse_assign(f) for f in flags)
    if info.op is not None:
        from ..launch.deps import keep_ids_raw

        given = keep_ids_raw(info, list(flags), given)
    opts = {k: v for k, v in opts.items() if v not in (None, False, ())}
    yes = opts.pop("yes", False)
    from ..flags.values import is_batch

    # (as api.run takes them: a list flag's layers=[128,64] is one value; `given` goes to it as typed)
    meant = list_values(info.flags, given)
    if not is_batch(meant) and not any(k in opts for k in ("optimizer", "max_trials", "seeds")):
        from ..launch.runner import resolve_values

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
    from .. import api
    from ..launch import forked

    forked.allow()  # this process is runyard's own: a Python run may start as a fork of it
    _whole_numbers(opts)
    quiet = opts.pop("quiet", False)
    background = opts.pop("background", False)
    if opts.get("proto"):
        script, given = None, {k: v for k, v in given.items() if k not in again_flags or again_flags[k] != v}
    if not background and not opts.get("stage") and not is_batch(meant) and not any(
            k in opts for k in ("optimizer", "max_trials", "workers", "dask", "executor", "sync", "seeds")):
        from ..launch.runner import catch_early_sigterm

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
        from ..home import find_home, runs_dir
        from ..store.run import status_of

        each = [status_of(runs_dir(find_home()) / i) for i in ids]
        code = _exit_code([runs_dir(find_home()) / i for i in ids], each)
        if not quiet:
            _say_made(ids, each, runs_dir(find_home()))
    _exit_now(code)


def _exit_code(run_dirs: list, statuses: list[str] | None = None) -> int:
    """``runyard run``'s exit status, one rule for a run and a batch: 0 when every run completed,
    1 when one failed, 130 after Ctrl-C (the shell's convention), 2 when one was stopped otherwise
    (``runyard stop``, SIGTERM)."""
    from ..store.run import Run, status_of

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
    from ..launch import rerun

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
    from ..batch.runner import plan
    from ..launch.runner import resolve_values

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
    main_file = getattr(sys.modules.get("__main__"), "__file__", "") or ""
    ours = os.path.basename(main_file) == "runyard" or (  # the entry point, or python -m runyard.cli
        os.path.abspath(main_file) == os.path.join(os.path.dirname(os.path.abspath(__file__)), "__main__.py"))
    if threading_active() > 1 or not ours:
        sys.exit(code)  # someone else's threads, or runyard called in-process: exit normally
    os._exit(code)


def threading_active() -> int:
    import threading

    return threading.active_count()


def _preview(info, values: dict) -> str:
    from ..flags import format_value

    from ..terminal import safe

    lines = [f"You are about to run {safe(info.name)}"]
    for k in sorted(values):
        lines.append(f"  {safe(k)}: {safe(format_value(values[k]))}")
    lines.append("Continue?")
    return "\n".join(lines)


def _help_op(info) -> str:
    from ..flags import format_value, is_list_flag, typed_name

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
    from ..api import ls_records
    from ..errors import UsageError
    from ..store.run import Run

    records = ls_records([selector])
    if len(records) != 1:
        raise UsageError(f"{what} needs exactly one run ({len(records)} match '{selector}')")
    return Run(records[0]["dir"])


@main.command("ops")
@click.option("-a", "--all", "show_all", is_flag=True, help="Also the private operations (named _like_this).")
def ops_cmd(show_all: bool) -> None:
    """List the operations of the project's guild.yml, with their descriptions."""
    from pathlib import Path

    from .. import guildfile
    from ..errors import UsageError
    from ..terminal import safe

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
    from ..check import report

    lines, ok = report()
    width = max(len(k) for k, _ in lines) + 1
    for k, v in lines:
        _echo(f"{(k + ':').ljust(width)} {v}")
    if not ok:
        sys.exit(1)


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
    from ..batch import run_queue

    started = run_queue(poll_interval=poll_interval, run_once=run_once, max_runs=max_runs, echo=not quiet)
    n = len(started)
    click.echo(f"Queue started {n} staged run{'' if n == 1 else 's'}", err=True)
