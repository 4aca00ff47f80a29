"""Run again: ``--restart RUN`` (the same run directory) and ``--proto RUN`` (a new run like RUN),
plus the look-before-you-run options ``--print-cmd``, ``--test-flags`` and
``--test-output-scalars``. Scripts and guild.yml operations alike.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UsageError
from ..guildfile import resolve
from ..lang import Script, for_script
from ..store.run import Run, status_of
from .. import environ as _environ


def script_of_run(run: Run) -> Script:
    """The operation a run ran, resolved again from its project (script path or guild.yml op)."""
    pkg, _ver, model, op = run.opref
    kind, _, where = pkg.partition(":")
    if kind == "guildfile":
        from .. import guildfile

        if not Path(where).is_file():
            raise UsageError(f"the guild.yml of run {run.short_id} is gone: {where}")
        return guildfile.load(Path(where)).script(f"{model}:{op}" if model else op)
    if kind == "script":
        path = Path(where) / op
        if not path.is_file():
            raise UsageError(f"the script of run {run.short_id} is gone: {path}")
        cwd = Path.cwd()
        try:
            os.chdir(where)  # the script's project is where it ran from
            return resolve(path)
        finally:
            os.chdir(cwd)
    raise UsageError(f"run {run.short_id} ({run.operation}) cannot be run again by runyard")


def restart(run: Run, flags: dict | None = None, *, echo: bool = True, gpus: str | None = None,
            wait: bool = True) -> str:
    """Run a terminated or failed run again in its own directory, keeping its files.
    New flag values are written into its copy; its output starts over (scalars add up, as in Guild)."""
    from . import runner

    status = status_of(run.dir)
    if status in ("running", "pending"):
        raise UsageError(f"run {run.short_id} is {status}: stop it first")
    if status == "completed":
        raise UsageError(f"run {run.short_id} completed: use --proto {run.short_id} for a new run like it")
    argv = run.get("cmd") or []
    values = dict(run.get("flags") or {})
    if flags:
        script = script_of_run(run)
        lang = for_script(script)
        values = runner.resolve_values(script, {**values, **flags})
        lang.check_values(script, values)
        lang.apply_flags(script, run.dir, values)
        argv, _ = lang.command(script, run.dir, values)
        run.set("flags", values)
        run.set("user_flags", {**(run.get("user_flags") or {}), **flags})
        run.set("cmd", argv)
        from ..flags import default_label

        template = (run.get("op") or {}).get("label-template")
        run.set("label", runner._render_label(str(template), values) if template else default_label(values))
    if not argv:
        raise UsageError(f"run {run.short_id} has no command to run again")
    env = _environ.process_env(os.environ)
    for k, v in (run.get("env") or {}).items():
        if k in ("RUN_DIR", "RUN_ID", "GUILD_HOME", "GUILD_OP", "PROJECT_DIR", "CMD_DIR", "FLAGS_DEST",
                 "PYTHONPATH", "MPLBACKEND", "RUNYARD_PLOTS_DIR") or k.startswith("FLAG_"):
            env[k] = v
    for name, val in values.items():
        env["FLAG_" + "".join(c if c.isalnum() else "_" for c in name).upper()] = runner._flag_env(val)
    apply_gpus(env, gpus)
    for name in ("exit_status", "stopped"):
        run.delete_attr(name)
    for name in ("output", "output.index"):
        try:
            os.unlink(run.guild_path(name))
        except FileNotFoundError:
            pass
    run.set("env", _environ.storable(env, keep=[k for k in env if k.startswith("FLAG_")]))  # (no secret)
    from .. import index

    if wait:
        from ..store.run import write_lock

        write_lock(run.dir, os.getpid())  # running from now on, for every listing
        index.touch(run)
        runner.supervise(run, argv, env, echo=echo)
    else:
        runner.start_background(runner.Prepared(run, argv, env, Script(Path(argv[0]), "python"), values))
    index.touch(run)
    return run.id


def proto_source(run: Run) -> tuple[Script, dict, Path]:
    """(operation, flags, run dir) of ``--proto RUN``: the new run copies RUN's source code."""
    return script_of_run(run), dict(run.get("flags") or {}), run.dir


def apply_gpus(env: dict[str, str], gpus: str | None) -> None:
    """``--gpus 0,1`` / ``--no-gpus`` (gpus == ""): ``CUDA_VISIBLE_DEVICES``, as Guild sets it."""
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpus


def print_cmd(script: Script, values: dict) -> str:
    """The command a run of ``script`` with ``values`` would start (nothing is made)."""
    import shlex

    argv, _ = for_script(script).command(script, Path("."), values)
    return " ".join(shlex.quote(a) for a in argv)


def test_flags(script: Script, values: dict) -> str:
    """The flags a run would get, one ``name: value`` line each, and where they go."""
    from ..flags import format_value

    lines = [f"flags-dest: {script.flags_dest}", "flags:"]
    lines += [f"  {k}: {format_value(v)}" for k, v in sorted(values.items())]
    return "\n".join(lines)


class _Collect:
    """Where --test-output-scalars puts the scalars it finds."""

    def __init__(self) -> None:
        self.items: list[tuple[str, float, int]] = []

    def add_scalars(self, items, wall_time=None) -> None:
        self.items.extend(items)

    def flush(self) -> None:
        pass


def test_output_scalars(script: Script, text: str) -> str:
    """Each line of ``text`` and the scalars the operation's output-scalars find in it."""
    from .scalars import OutputScalars

    sink = _Collect()
    parser = OutputScalars(sink, script.options.get("output-scalars"), ignore_keys=list(script.flags))
    out = []
    for line in text.splitlines():
        before = len(sink.items)
        parser.feed(line + "\n")
        found = ", ".join(f"{tag}={value:g} (step {step})" for tag, value, step in sink.items[before:])
        out.append(f"{line}\n  {found or '-'}")
    parser.close()
    return "\n".join(out)
