"""Run-directory writes for batches and queues: the batch run, claiming and starting staged runs.

A batch run is an ordinary run directory whose opref is ``builtin:runyard <version> ''
<script>+<optimizer>``; it records its trials (``trials``, ``trial_ids``) and links
each one as ``<batch>/<trial_id> -> ../<trial_id>`` (as Guild AI does).

Starting a run made by :func:`runyard.launch.runner.prepare` with ``stage=True`` takes two
steps: :func:`claim` renames its ``STAGED`` marker to ``PENDING`` (one atomic rename, so
of several queues or workers exactly one wins), then :func:`start_claimed` supervises
it in this process or :func:`spawn_supervisor` in a child process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from .. import home as _home
from ..store.run import Run, timestamp, write_lock, write_opref

STOP_FILE = "STOP"  # in a batch's .guild: a stop request (the signal number), read by remote workers


def _touch_index(run: Run) -> None:
    try:
        from ..index import touch

        touch(run)
    except Exception:  # noqa: BLE001 - the index is a cache; reads reconcile
        pass


# --- the batch run --------------------------------------------------------------------------------

def create_batch(script_relpath: str, optimizer: str | None, attrs: dict[str, Any], home: Path | None = None,
                 pid: int | None = None) -> Run:
    """Make a batch run (``<script>+`` or ``<script>+<optimizer>``) holding ``attrs``; running while ``pid`` lives."""
    from .runner import _platform, _user

    import socket

    from ..version import __version__

    home = Path(home) if home else _home.find_home()
    run_id = uuid.uuid4().hex
    run_dir = _home.runs_dir(home) / run_id
    (run_dir / ".guild" / "attrs").mkdir(parents=True)
    run = Run(run_dir, run_id)
    try:
        now = timestamp()
        run.set("id", run_id)
        run.set("initialized", now)
        run.set("started", now)
        run.set("flags", {})
        run.set("host", socket.gethostname())
        run.set("user", _user())
        run.set("platform", _platform())
        for k, v in attrs.items():
            if v is not None:
                run.set(k, v)
        (run.dir / ".guild" / "output").touch()
        (run.dir / ".guild" / "output.index").touch()
        set_lock(run, pid or os.getpid())
        write_opref(run_dir, "builtin:runyard", __version__, "", f"{script_relpath}+{optimizer or ''}")
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    _touch_index(run)
    return run


def set_lock(run: Run, pid: int) -> None:
    """Mark ``run`` as supervised by process ``pid`` (its status reads ``running`` while it lives)."""
    write_lock(run.dir, pid)


def set_attrs(run: Run, attrs: dict[str, Any]) -> None:
    """Write several attributes of a run, then refresh the index."""
    for k, v in attrs.items():
        run.set(k, v)
    _touch_index(run)


def link_trial(batch: Run, trial: Run) -> None:
    """``<batch>/<trial_id> -> ../<trial_id>`` (a relative link, as Guild AI makes)."""
    link = batch.dir / trial.id
    try:
        os.symlink(os.path.join("..", trial.id), link)
    except FileExistsError:
        pass
    except OSError:  # filesystems without symlinks: the trial_ids attribute still records it
        pass


def finish_batch(batch: Run, exit_status: int) -> None:
    """Record the batch's end: ``exit_status``, ``stopped``; drop its lock and stop request."""
    batch.set("exit_status", int(exit_status))
    batch.set("stopped", timestamp())
    for name in ("LOCK", STOP_FILE):
        try:
            os.unlink(batch.guild_path(name))
        except FileNotFoundError:
            pass
    _touch_index(batch)


class BatchLog:
    """Lines a batch writes about itself to its own ``.guild/output`` (``runyard cat`` shows them)."""

    def __init__(self, batch: Run):
        from ..store.output import OutputWriter

        self._w = OutputWriter(batch.dir)

    def write(self, line: str, stream: int = 0) -> None:
        self._w.write((line.rstrip("\n") + "\n").encode("utf-8", "replace"), stream)
        self._w.flush()

    def close(self) -> None:
        self._w.close()


def request_stop(batch: Run, signum: int) -> None:
    """Ask every worker running this batch's trials to stop them (a file on the shared filesystem)."""
    path = batch.guild_path(STOP_FILE)
    tmp = path.with_name(f".{STOP_FILE}-{os.getpid()}.tmp")
    tmp.write_text(str(int(signum)))
    os.replace(tmp, path)


def stop_requested(batch_dir: str | os.PathLike) -> int | None:
    """The signal a batch asked its trials to stop with, or None."""
    try:
        return int(Path(batch_dir, ".guild", STOP_FILE).read_text().strip() or signal.SIGTERM)
    except (FileNotFoundError, ValueError):
        return None


# --- staged runs ----------------------------------------------------------------------------------

def claim(run_dir: str | os.PathLike) -> bool:
    """Take a staged run for starting: ``STAGED`` -> ``PENDING``, atomically. False if another took it."""
    g = Path(run_dir, ".guild")
    try:
        os.rename(g / "STAGED", g / "PENDING")
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True


def start_claimed(run_dir: str | os.PathLike, echo: bool = True, stdin: Any = None) -> int:
    """Supervise a claimed run in this process with its saved environment; returns its exit_status."""
    from .runner import staged_env, supervise

    run = Run(Path(run_dir))
    argv = run.get("cmd")
    env = staged_env(run)
    return supervise(run, argv, env, echo=echo, stdin=stdin)


def spawn_supervisor(run_dir: str | os.PathLike, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Supervise a claimed run in a child process of its own session (so a terminal's Ctrl-C
    reaches it only through its parent, which signals it on purpose)."""
    run = Run(Path(run_dir))
    log = open(run.guild_path("supervisor.log"), "ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "runyard.launch.runner", str(run.dir)], env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True)
    finally:
        log.close()


def discard(run_dir: str | os.PathLike) -> None:
    """Remove a run that was made for a batch but never started (pending or staged, no output)."""
    g = Path(run_dir, ".guild")
    if (g / "LOCK").exists() or (g / "attrs" / "exit_status").exists():
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        from ..index import touch

        touch(Run(Path(run_dir)))
    except Exception:  # noqa: BLE001
        pass


def mark_stopped(run_dir: str | os.PathLike, exit_status: int) -> bool:
    """Finalize a run whose supervisor died before finalizing it; False if it was already final."""
    run = Run(Path(run_dir))
    if run.get("exit_status") is not None:
        return False
    for marker in ("STAGED", "PENDING", "LOCK"):
        try:
            os.unlink(run.guild_path(marker))
        except FileNotFoundError:
            pass
    run.set("exit_status", int(exit_status))
    run.set("stopped", timestamp())
    _touch_index(run)
    return True


def staged_runs(home: Path | None = None) -> list[Run]:
    """Staged runs in the runs home, oldest first (by the time they were staged)."""
    from ..store.attrs import AttrError

    home = Path(home) if home else _home.find_home()
    base = _home.runs_dir(home)
    found = []
    try:
        entries = list(os.scandir(base))
    except FileNotFoundError:
        return []
    for e in entries:
        g = os.path.join(e.path, ".guild")
        if not os.path.exists(os.path.join(g, "STAGED")) or not os.path.exists(os.path.join(g, "opref")):
            continue
        run = Run(Path(e.path))
        try:
            when = run.get("started") or run.get("initialized") or 0
        except AttrError:
            when = 0
        found.append((when, run.id, run))
    found.sort(key=lambda x: (x[0], x[1]))
    return [r for _, _, r in found]
