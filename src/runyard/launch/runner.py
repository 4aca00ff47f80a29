"""Make a run and supervise its process. Nothing else writes runs.

``prepare`` validates flags *before* anything is made, then builds the run
directory (attributes, source snapshot, flag values written into the copy) and
writes ``.guild/opref`` last, so a half-made directory is never a run.
``supervise`` starts the process, tees and indexes its output, records output
scalars and finalizes the status; it runs in-process (foreground) or in a
detached ``python -m runyard.launch.runner RUN_DIR`` (background).
"""

from __future__ import annotations

import os
import select
import selectors
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import home as _home
from .. import opdef as _opdef
from ..flags import canonical_names, default_label
from ..flags import validate as _validate
from ..guildfile import resolve
from ..lang import Script, for_script
from ..store.run import Run, timestamp, write_lock, write_opref
from . import deps as _deps
from .. import environ as _environ
from . import forked as _forked

EXIT_SIGTERM = -15
EXIT_KEYBOARD_INTERRUPT = -16


@dataclass
class Prepared:
    """A run made and ready to start."""

    run: Run
    argv: list[str]
    env: dict[str, str]
    script: Script
    values: dict[str, Any]
    user_flags: dict[str, Any] = field(default_factory=dict)


def _platform() -> dict:
    u = os.uname()
    return {
        "architecture": u.machine,
        "cpus": os.cpu_count(),
        "python_version": sys.version.split()[0],
        "uname": f"{u.sysname} {u.nodename} {u.release} {u.version} {u.machine}",
    }


def resolve_values(script: Script, flags: dict | None, force: bool = False) -> dict[str, Any]:
    """Every flag's value for a run of ``script``: defaults overlaid with ``flags``, validated."""
    given = _deps.normalize_flags(script, dict(flags or {}))
    return _validate.resolve(script.flags, given, script.name, force=force, hint=script.hint,
                             not_flags=script.not_flags)


def prepare(
    script: Script | str | os.PathLike,
    flags: dict | None = None,
    *,
    label: str | None = None,
    tags: list[str] | tuple = (),
    comment: str | None = None,
    force_flags: bool = False,
    home: Path | None = None,
    stage: bool = False,
    extra_attrs: dict | None = None,
    values: dict | None = None,
    gpus: str | None = None,
    proto_dir: Path | None = None,
) -> Prepared:
    """Validate and make a run directory for ``script`` with ``flags``."""
    if not isinstance(script, Script):
        script = resolve(script)
    lang = for_script(script)
    user_flags = _deps.normalize_flags(script, dict(flags or {}))  # prepare=ID -> operation:prepare=ID
    user_flags = canonical_names(script.flags, user_flags)
    if values is None:
        values = resolve_values(script, user_flags, force_flags)
    lang.ready()
    lang.check_values(script, values)  # language-specific limits (R complex literals)
    from .scalars import OutputScalars

    OutputScalars(None, script.options.get("output-scalars"))  # a bad pattern: one line, and no run made
    home = Path(home) if home else _home.find_home()
    sources = _deps.resolve(script, values, home)  # guild.yml or front-matter `requires`
    run_id = new_run_id()
    run_dir = _home.runs_dir(home) / run_id
    (run_dir / ".guild" / "attrs").mkdir(parents=True)
    run = Run(run_dir, run_id)
    try:
        return _build(run, script, lang, values, user_flags, label, tags, comment, home, stage, extra_attrs,
                      sources, gpus, proto_dir)
    except BaseException:
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)  # no half-made run
        raise


def _build(run, script, lang, values, user_flags, label, tags, comment, home, stage, extra_attrs,
           sources=(), gpus=None, proto_dir=None) -> Prepared:
    from . import projectdata, sourcecode

    opts = script.options
    project = script.project_dir
    snap = sourcecode.checked_plan(*sourcecode.rules_for(script))
    skip = _deps.snapshot_excludes(script)
    files = [f for f in snap.files if f not in skip]
    if proto_dir is not None:  # --proto RUN: that run's source code, not the project's
        files = sourcecode.manifest_files(proto_dir)
        digest = sourcecode.snapshot(proto_dir, run.dir, files)
    else:
        digest = sourcecode.snapshot(project, run.dir, files, _opdef.sourcecode_dest(opts.get("sourcecode")))
    if proto_dir is None:  # what of the project's data the run gets (launch/projectdata.py)
        projectdata.make_empty_dirs(project, run.dir)
        note = projectdata.size_note(snap.skipped)
        if note:
            print(note, file=sys.stderr)
    deps_attr = _deps.apply(sources, run.dir)
    lang.apply_flags(script, run.dir, values)
    argv, extra_env = lang.command(script, run.dir, values)

    now = timestamp()
    tags = list(tags or ()) + [t for t in (opts.get("tags") or []) if t not in (tags or ())]
    shown = _null_labels(script, values)
    if label is None:
        label = opts.get("label")
        if label is not None:
            label = _render_label(str(label), shown)
    if label is None:
        label = default_label(shown)
    elif "${" in label:
        label = _render_label(label, shown)

    env = _environ.process_env(os.environ)
    env.update(extra_env)
    if script.op is None:
        env.update(_opdef.env_of(opts, values))  # front-matter `env` (a guild.yml op's: in its command)
    ours = {
        "RUN_DIR": str(run.dir),
        "RUN_ID": run.id,
        "GUILD_HOME": str(home),
        "GUILD_OP": script.name,
        "PROJECT_DIR": str(project),
        "CMD_DIR": str(project),
        "FLAGS_DEST": script.flags_dest,
    }
    for name, val in values.items():
        ours["FLAG_" + "".join(c if c.isalnum() else "_" for c in name).upper()] = _flag_env(val)
    env.update(ours)
    if gpus is not None:  # --gpus 0,1 / --no-gpus
        env["CUDA_VISIBLE_DEVICES"] = gpus

    a = run.set
    a("id", run.id)
    a("initialized", now)
    a("flags", values)
    a("user_flags", user_flags)
    if label:
        a("label", label)  # Guild writes no label for a run without one
    if tags:
        a("tags", tags)
    if comment:
        a("comments", [{"body": comment, "host": _host(), "time": now, "user": _user()}])
    a("cmd", argv)
    a("interpreter", argv[0])  # the program that ran it: the user's python (lang/runtime.py), Rscript
    a("env", _environ.storable(env, keep=ours))  # never a secret (runyard/environ.py)
    a("host", _host())
    a("user", _user())
    a("platform", _platform())
    a("random_seed", lang.random_seed())  # in [0, 2**32), as Guild draws it (R: its integer range)
    a("sourcecode_digest", digest)
    a("op", {
        "op-cmd": {"cmd-args": argv, "flags-dest": script.flags_dest},
        "language": script.language,
        "script": script.relpath,
        "flags-dest": script.flags_dest,
        "output-scalars": opts.get("output-scalars"),
        "label-template": opts.get("label"),
        "sourcecode": {"dest": ".", "root": str(project)},
        "echo": opts.get("echo", True),
    })
    vcs = sourcecode.vcs_commit(project)
    if vcs:
        a("vcs_commit", vcs)
    a("deps", deps_attr or {})
    if script.op is not None:
        if opts.get("steps"):
            a("steps", opts["steps"])
    for k, v in (extra_attrs or {}).items():
        a(k, v)
    if stage:
        a("started", now)
        (run.dir / ".guild" / "STAGED").touch()  # its environment is the `env` attribute: see staged_env
    else:
        # Running from the moment it is a run: this process holds it until a supervisor takes over.
        write_lock(run.dir, os.getpid())
    if script.op is not None:
        gf = script.op.guildfile
        write_opref(run.dir, f"guildfile:{gf.path}", gf.digest, script.op.model, script.op.name)
    else:
        write_opref(run.dir, f"script:{project}", "", "", script.relpath)
    return Prepared(run, argv, env, script, values, user_flags)


def new_run_id() -> str:
    """A run id: a random (version 4) UUID as 32 lowercase hex digits, as Guild AI makes them."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    return b.hex()


def _host() -> str:
    return os.uname().nodename


def _user() -> str:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):  # no user name in some containers
        return ""


def _flag_env(val: Any) -> str:
    if val is True:
        return "1"
    if val is False or val is None:
        return ""
    return str(val)


def _null_labels(script: Script, values: dict) -> dict:
    """``values`` for labels: a guild.yml flag's ``null-label`` stands for its null value."""
    out = dict(values)
    for name, fd in script.flags.items():
        if out.get(name) is None and "guild-null-label" in fd.extra:
            out[name] = fd.extra["guild-null-label"]
    return out


def _render_label(template: str, values: dict) -> str:
    import re

    def sub(m):
        name = m.group(1)
        if name == "default_label":
            return default_label(values)
        from ..flags import label_value

        return label_value(values[name]) if name in values else ""

    return re.sub(r"\$\{([^}|]+)\}", sub, template)


def staged_env(run: Run) -> dict[str, str]:
    """The environment a claimed staged run starts with: its stored ``env`` attribute (no
    secrets) plus the secrets of this process's environment (runyard/environ.py).

    A run staged by Guild AI keeps its whole environment in ``.guild/ENV``; that is read
    instead, and the file is removed, so no environment file stays in the run.
    """
    import shlex

    path = run.guild_path("ENV")
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        stored = run.get("env")
        return _environ.for_staged(stored) if isinstance(stored, dict) and stored else _environ.process_env(os.environ)
    stored = {}
    for line in text.splitlines():
        if line.startswith("export "):
            k, _, v = line[len("export "):].partition("=")
            try:
                stored[k] = shlex.split(v)[0] if v else ""
            except (ValueError, IndexError):
                stored[k] = v
    try:
        os.unlink(path)
    except OSError:
        pass
    return _environ.for_staged(stored)


class _LazyEvents:
    """An event writer created on the first scalar (runs without scalars get no events file)."""

    def __init__(self, logdir: Path):
        self._logdir = logdir
        self._w = None

    def _get(self):
        if self._w is None:
            from ..store.tfevents import EventWriter

            self._w = EventWriter(self._logdir)
        return self._w

    def add_scalar(self, *a, **kw):
        self._get().add_scalar(*a, **kw)

    def add_scalars(self, *a, **kw):
        self._get().add_scalars(*a, **kw)

    def add_column(self, *a, **kw):
        self._get().add_column(*a, **kw)

    def flush(self):
        if self._w is not None:
            self._w.flush()

    def close(self):
        if self._w is not None:
            self._w.close()


_EARLY_TERM: dict[str, int | None] = {"signal": None}


def catch_early_sigterm() -> None:
    """Called by the ``runyard run`` command just before it makes a single foreground run: a
    SIGTERM from then on, even before the run's process starts, ends the run ``terminated``
    (``prepare`` writes the run's LOCK; without this, a SIGTERM in between killed runyard and
    the run read ``error``)."""
    if _main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: _EARLY_TERM.__setitem__("signal", signum))


def supervise(run: Run, argv: list[str], env: dict[str, str] | None = None, echo: bool = True,
              stdin: Any = None, output_scalars: Any = ..., flag_names: list[str] | None = None,
              fork_python: bool = False) -> int:
    """Run the process in the run directory; tee output; record scalars; finalize. Returns exit_status."""
    from ..launch.scalars import OutputScalars, no_scalars_hint
    from ..store.output import OutputWriter

    g = run.guild_path()
    stopping: dict[str, Any] = {"signal": None}
    proc = None

    def on_term(signum, frame):
        stopping["signal"] = signum
        if proc is not None:
            _terminate_tree(proc.pid)

    # Caught from before the run is 'running': a SIGTERM at any moment after makes it 'terminated'.
    old_term = signal.signal(signal.SIGTERM, on_term) if _main_thread() else None
    write_lock(run.dir, os.getpid())  # before the markers go: never a moment without status
    for marker in ("STAGED", "PENDING"):
        try:
            os.unlink(g / marker)
        except FileNotFoundError:
            pass
    run.set("started", timestamp())
    if output_scalars is ...:
        output_scalars = (run.get("op") or {}).get("output-scalars")
    if flag_names is None:
        flag_names = list(run.get("flags") or {})
    events = _LazyEvents(g)
    scalars = OutputScalars(events, output_scalars, ignore_keys=flag_names)
    out = OutputWriter(run.dir)
    exit_status = 1
    if _EARLY_TERM["signal"] is not None:  # stopped before its process could start
        stopping["signal"], _EARLY_TERM["signal"] = _EARLY_TERM["signal"], None
    try:
        if stopping["signal"] is not None:
            exit_status = EXIT_SIGTERM
            return exit_status
        try:
            if fork_python and stdin is None and _forked.usable(argv, str(run.dir), env):
                proc = _forked.start(argv, str(run.dir), env if env is not None else dict(os.environ),
                                     hooks_dir=_hooks_dir(env))
            else:
                import subprocess

                proc = subprocess.Popen(argv, cwd=run.dir, env=env, stdin=stdin,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        preexec_fn=_forked.preexec_die_with_parent())
        except OSError as e:
            msg = f"runyard: cannot start {argv[0]}: {e.strerror}\n".encode()
            out.write(msg, 1)
            if echo:
                sys.stderr.write(msg.decode())
            exit_status = 127
            return exit_status
        if stopping["signal"] is not None:  # stopped while it was starting
            _terminate_tree(proc.pid)
        try:
            _pump(proc, out, scalars, echo)
            proc.wait()
        except KeyboardInterrupt:
            stopping["signal"] = signal.SIGINT
            _interrupt(proc)
            try:
                _pump(proc, out, scalars, echo, timeout=5)
            except KeyboardInterrupt:
                _terminate_tree(proc.pid, kill=True)
            proc.wait()
        code = proc.returncode
        if stopping["signal"] == signal.SIGTERM:
            exit_status = EXIT_SIGTERM
        elif stopping["signal"] == signal.SIGINT:
            exit_status = EXIT_KEYBOARD_INTERRUPT
        else:
            exit_status = code
        return exit_status
    finally:
        for chunk in out.close():
            scalars.feed(chunk)
        scalars.close()
        events.close()
        run.set("exit_status", exit_status)
        run.set("stopped", timestamp())
        try:
            os.unlink(g / "LOCK")
        except FileNotFoundError:
            pass
        hint = no_scalars_hint(scalars) if echo and exit_status == 0 else None
        if hint and not _has_event_files(run.dir):
            _echo(sys.stderr, hint.encode())
        if old_term is not None:  # (kept until the run is final: a SIGTERM now can't cut it short)
            signal.signal(signal.SIGTERM, old_term)
        # No index update needed: an unfinished run is re-read by every listing.


def _has_event_files(run_dir: Path) -> bool:
    """True if the script wrote TensorBoard event files of its own (its scalars are there)."""
    from ..store.tfevents import event_files

    try:
        return any(True for _ in event_files(run_dir))
    except OSError:
        return False


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# The supervisor reads what the pipes hold in big pieces: each pipe is enlarged to PIPE_BYTES
# (Linux), and after a read that found the pipe less than half full it waits COALESCE_SECONDS
# before reading that pipe again, so a script printing many small lines (or a progress bar
# redrawing 1,000 times a second) wakes it at most ~100 times a second, never once per line.
# A script writing faster than that finds the pipe half full, and the supervisor then reads
# without pausing. Output on the other pipe, or the process's exit, ends the pause.
PIPE_BYTES = 1 << 20
COALESCE_SECONDS = 0.01


def _pump(proc, out, scalars, echo: bool, timeout: float | None = None) -> None:
    """Copy the process's stdout/stderr to the run (and the console) until both close: each
    piece as it came to the console, whole lines to ``out``, those lines' scalars to ``scalars``."""
    import time

    sel = selectors.DefaultSelector()
    streams = {proc.stdout.fileno(): 0, proc.stderr.fileno(): 1}
    size = {fd: _enlarge_pipe(fd) for fd in streams}
    for fd in streams:
        sel.register(fd, selectors.EVENT_READ)
    console = (sys.stdout, sys.stderr)
    deadline = None if timeout is None else time.monotonic() + timeout
    read, feed, write = os.read, scalars.feed, out.write
    try:  # the pause ends at once when the process exits (no added wait at the end of a run)
        exited = [os.pidfd_open(proc.pid)]
    except (AttributeError, OSError):
        exited = []
    try:
        while streams:
            wait = None
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    break
            elif proc.poll() is not None:
                wait = 1.0  # the process is gone; give lingering children a moment
            events = sel.select(wait)
            if not events and proc.poll() is not None:
                break
            pause = True
            for key, _ in events:
                fd = key.fd
                data = read(fd, size[fd])
                if not data:
                    sel.unregister(fd)
                    del streams[fd]
                    continue
                stream = streams[fd]
                if echo:
                    _echo(console[stream], data)
                for lines in write(data, stream):
                    feed(lines)
                if len(data) * 2 >= size[fd]:
                    pause = False
            if pause and streams and events:
                # Wake at once if the other stream (or the process's exit) has news, so the
                # order between stdout and stderr is kept as closely as without the pause.
                read_now = {key.fd for key, _ in events}
                select.select(exited + [fd for fd in streams if fd not in read_now], [], [], COALESCE_SECONDS)
    finally:
        sel.close()
        for fd in exited:
            os.close(fd)


def _enlarge_pipe(fd: int) -> int:
    """Make the pipe ``fd`` hold PIPE_BYTES if the system lets us; the bytes one read takes."""
    try:
        import fcntl

        return max(fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES), 65536)
    except (ImportError, AttributeError, OSError):
        try:
            import fcntl

            return max(fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ), 65536)
        except (ImportError, AttributeError, OSError):
            return 65536


def _echo(f, data: bytes) -> None:
    try:
        buf = getattr(f, "buffer", None)
        if buf is not None:
            buf.write(data)
        else:  # Jupyter and other text-only streams
            f.write(data.decode("utf-8", "replace"))
        f.flush()
    except (OSError, ValueError):
        pass


def _interrupt(proc) -> None:
    """Ctrl-C: the child got SIGINT from the terminal too; make sure it did."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    except OSError:
        pass


def _terminate_tree(pid: int, kill: bool = False) -> None:
    """SIGTERM (or SIGKILL) a process and all its descendants."""
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill() if kill else p.terminate()
        except psutil.NoSuchProcess:
            pass


def start(prepared: Prepared, echo: bool = True) -> int:
    """Supervise a prepared run in this process; returns its exit_status. A run that failed
    opening a project file the snapshot left out gets one line saying so (launch/projectdata.py)."""
    code = supervise(prepared.run, prepared.argv, prepared.env, echo=echo,
                     output_scalars=prepared.script.options.get("output-scalars"),
                     flag_names=list(prepared.values), fork_python=prepared.script.language in ("python", "guildfile"))
    if code not in (0, EXIT_SIGTERM, EXIT_KEYBOARD_INTERRUPT):
        from .projectdata import missing_file_hint

        try:
            hint = missing_file_hint(prepared.run.dir, prepared.script)
        except Exception:  # noqa: BLE001 - a hint must never hide the run's own failure
            hint = None
        if hint:
            print(hint, file=sys.stderr)
    return code


def _hooks_dir(env: dict[str, str] | None) -> str | None:
    """The pyhooks directory a Python run's PYTHONPATH starts with, if any."""
    first = ((env or {}).get("PYTHONPATH") or "").split(os.pathsep)[0]
    return first if first.endswith("pyhooks") else None


def start_background(prepared: Prepared) -> int:
    """Supervise a prepared run in a detached process; returns its PID at once."""
    import subprocess

    log = open(prepared.run.guild_path("supervisor.log"), "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "runyard.launch.runner", str(prepared.run.dir)],
        env=prepared.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        start_new_session=True, close_fds=True,
    )
    log.close()
    write_lock(prepared.run.dir, proc.pid)  # running from this moment on
    return proc.pid


def _background_main(run_dir: str) -> int:
    run = Run(Path(run_dir))
    argv = run.get("cmd")
    # a claimed staged run (a queue's or a batch's trial, e.g. on a Dask worker) starts with its
    # stored environment; a background run with the environment it was given
    env = staged_env(run) if run.guild_path("PENDING").exists() else _environ.process_env(os.environ)
    import subprocess

    return supervise(run, argv, env, echo=False, stdin=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(0 if _background_main(sys.argv[1]) == 0 else 1)
