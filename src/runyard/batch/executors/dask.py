"""``dask:ADDRESS``: trials as tasks on a dask.distributed cluster.

- **Shared disk** (every worker sees the runs home at the same path): each task supervises its
  trial in place, in a child process, and stops it when the batch writes a stop request
  (``<batch>/.guild/STOP``).
- **No shared disk** (detected — a worker can't see the batch's run directory — or
  ``--dask-no-shared-fs``): the staged trial travels to the worker as a zip, runs in the worker's
  scratch directory under a home of its own, and comes back whole: as the task's result (up to
  ``RUNYARD_DASK_RESULT_MAX`` bytes, default 512 MiB), or through a remote when ``--sync
  REMOTE`` is given (the worker pushes it while it runs; the batch pulls it when it ends). Stop
  requests reach such workers through a ``distributed.Event``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from ...errors import UsageError
from ...launch import batchrun
from ...store.paths import link_refused
from ...store.run import Run
from ..search import Trial
from . import STOP_GRACE, OutputTail, collect, exit_signal_status

RESULT_MAX = int(os.environ.get("RUNYARD_DASK_RESULT_MAX", 512 * 1024 * 1024))


def check(arg: str, options: dict[str, Any]) -> None:
    if not arg and options.get("client") is None:
        raise UsageError("executor dask needs a scheduler address: --executor dask:tcp://HOST:8786")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError("--dask needs dask.distributed: pip install 'runyard[dask]'") from None


def create(arg: str, batch: Run, echo: bool, options: dict[str, Any]) -> "DaskPool":
    workers = options.get("workers")
    return DaskPool(options.get("client") or arg, batch, workers if workers and workers > 1 else None,
                    shared_fs=False if options.get("no_shared_fs") else None, sync=options.get("sync"), echo=echo)


def connect(address: Any):
    """A dask.distributed Client for an address (``tcp://host:8786``), a cluster, or a Client."""
    try:
        import distributed
    except ImportError:
        raise UsageError("--dask needs dask.distributed: pip install 'runyard[dask]'") from None
    if isinstance(address, distributed.Client):
        return address, False
    try:
        if hasattr(address, "scheduler_address"):
            return distributed.Client(address, set_as_default=False), True
        return distributed.Client(str(address), timeout="10s", set_as_default=False), True
    except (OSError, TimeoutError) as e:
        raise UsageError(f"cannot connect to the Dask scheduler at {address}: {e}") from None


def dask_address(dask: Any) -> str:
    """The scheduler address of ``dask`` (an address, a cluster or a Client), for a background batch."""
    if hasattr(dask, "scheduler_address"):
        return dask.scheduler_address
    if hasattr(dask, "scheduler") and hasattr(dask.scheduler, "address"):
        return dask.scheduler.address
    return str(dask)


# --- tasks (these run on the workers) -------------------------------------------------------

def run_trial_on_worker(run_dir: str, batch_dir: str, poll: float = 0.25, output_topic: str | None = None) -> int | None:
    """Dask task: supervise a pending trial in a child process; stop it on the batch's request.

    Runs on a dask worker that sees the runs home at the same path. Returns the trial's
    exit_status (None if the batch was stopped before the trial started). With
    ``output_topic``, the trial's output lines go to the batch as they come (see :func:`_send_output`).
    """
    if batchrun.stop_requested(batch_dir) is not None:
        return None
    proc = batchrun.spawn_supervisor(run_dir)
    sent = _wait_or_stop(proc, lambda: batchrun.stop_requested(batch_dir), poll, _send_output(run_dir, output_topic))
    if proc.returncode:
        batchrun.mark_stopped(run_dir, exit_signal_status(sent) if sent else 1)
    return Run(Path(run_dir)).get("exit_status")


def _send_output(run_dir: str | Path, topic: str | None) -> Any:
    """``send(final=False)``: send the trial's new output lines to the batch's client, as a
    ``distributed`` event on ``topic`` (``{"run": id, "lines": [...]}``); None without a topic."""
    if not topic:
        return None
    import distributed

    tail = OutputTail(run_dir)
    run_id = Path(run_dir).name

    def send(final: bool = False) -> None:
        lines = tail.lines(final)
        if lines:
            try:
                distributed.get_worker().log_event(topic, {"run": run_id, "lines": lines})
            except Exception:  # noqa: BLE001 - output is also in the run directory
                pass

    return send


def _wait_or_stop(proc: subprocess.Popen, stop_signal: Any, poll: float, on_poll: Any = None) -> int | None:
    """Wait for a trial's supervisor; pass on the first stop request (``stop_signal()`` gives a
    signal number once the batch asks); call ``on_poll()`` between waits and ``on_poll(final=True)``
    at the end. Returns the signal sent, if any."""
    sent = None
    while True:
        try:
            proc.wait(timeout=poll)
            if on_poll is not None:
                on_poll(final=True)
            return sent
        except subprocess.TimeoutExpired:
            pass
        if on_poll is not None:
            on_poll()
        if sent is None:
            sig = stop_signal()
            if sig is not None:
                sent = sig
                try:
                    proc.send_signal(sig)
                except OSError:
                    pass


def sees_path(path: str) -> bool:
    """Dask task: can this worker see ``path``?"""
    return os.path.isdir(path)


def run_trial_in_scratch(run_id: str, payload: bytes, stop_event: str, remote: dict | None = None,
                         interval: float = 30.0, poll: float = 0.25, output_topic: str | None = None) -> dict:
    """Dask task: run a trial (its staged directory as a zip) in this worker's scratch directory.

    Returns ``{"exit_status": ..., "zip": bytes}`` (the whole run directory), or with
    ``remote`` (a :class:`~runyard.remotes.config.Remote` as a dict) pushes it there while it runs
    and returns ``{"exit_status": ..., "via": "remote"}``. ``{"exit_status": None}`` if the
    batch was stopped before the trial started.
    """
    import tempfile

    import distributed

    try:
        base = distributed.get_worker().local_directory
    except ValueError:
        base = None
    scratch = Path(tempfile.mkdtemp(prefix="runyard-trial-", dir=base))
    keep = False
    try:
        stop = distributed.Event(stop_event)
        if stop.is_set():
            return {"exit_status": None}
        home = scratch / ".guild"
        run_dir = home / "runs" / run_id
        unzip_run(payload, run_dir)
        _local_python(Run(run_dir))
        env = dict(os.environ, GUILD_HOME=str(home))
        syncer = None
        if remote:
            from ...remotes import config, sync

            r = config.Remote(**remote)
            syncer = sync.LiveSync(r, lambda: _records(home, run_id), home / "runs", interval)
            syncer.__enter__()
        try:
            proc = batchrun.spawn_supervisor(run_dir, env=env)
            sent = _wait_or_stop(proc, lambda: _stop_signal(stop_event) if stop.is_set() else None, poll,
                                 _send_output(run_dir, output_topic))
            if proc.returncode:
                batchrun.mark_stopped(run_dir, exit_signal_status(sent) if sent else 1)
        finally:
            if syncer is not None:
                syncer.__exit__(None, None, None)
        status = Run(run_dir).get("exit_status")
        if remote:
            return {"exit_status": status, "via": "remote"}
        size = sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file() and not p.is_symlink())
        if size > RESULT_MAX:
            keep = True
            return {"exit_status": status, "error": f"run directory is {size / 1e6:.0f} MB, over the task-result "
                    f"limit (RUNYARD_DASK_RESULT_MAX): give --sync REMOTE; it is kept on the worker in {run_dir}"}
        return {"exit_status": status, "zip": zip_run(run_dir)}
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


def _stop_signal(stop_event: str) -> int:
    import signal

    import distributed

    try:
        return int(distributed.Variable(stop_event + "-signal").get(timeout=1))
    except Exception:  # noqa: BLE001
        return signal.SIGTERM


def _records(home: Path, run_id: str) -> list[dict]:
    from ... import index

    return [r for r in index.sync(home, "runs") if r["id"] == run_id]


def _local_python(run: Run) -> None:
    """A trial made on another machine names that machine's Python: use this worker's instead."""
    cmd = run.get("cmd")
    if isinstance(cmd, list) and cmd and not os.access(str(cmd[0]), os.X_OK) \
            and os.path.basename(str(cmd[0])).startswith("python"):
        run.set("cmd", [sys.executable, *cmd[1:]])


# --- run directories as bytes ---------------------------------------------------------------

def zip_run(run_dir: Path) -> bytes:
    """A run directory as zip bytes (links kept as links)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(run_dir.rglob("*")):
            rel = p.relative_to(run_dir).as_posix()
            if p.is_symlink():
                info = zipfile.ZipInfo(rel)
                info.external_attr = (0o120777 << 16)
                zf.writestr(info, os.readlink(p))
            elif p.is_dir():
                zf.writestr(rel + "/", b"")
            elif p.is_file():
                zf.write(p, rel)
    return buf.getvalue()


def unzip_run(data: bytes, run_dir: Path, run_id: str | None = None) -> None:
    """Make ``run_dir`` from :func:`zip_run` bytes; every entry must stay inside it. ``run_id``:
    the run's id when ``run_dir`` is a temporary name in the runs folder."""
    import stat
    from pathlib import PurePosixPath

    run_dir.mkdir(parents=True)
    base = str(run_dir.resolve()) + os.sep
    links: list[tuple[str, str]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            parts = PurePosixPath(info.filename).parts
            if info.filename.startswith("/") or ".." in parts:
                raise UsageError(f"refusing trial entry {info.filename!r}: outside the run")
            target = run_dir / info.filename
            if not str(target.resolve().parent).startswith(base[:-1]):
                raise UsageError(f"refusing trial entry {info.filename!r}: outside the run")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                links.append((info.filename, zf.read(info).decode(errors="replace")))
            elif info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.chmod(target, 0o755 if mode & 0o111 else 0o644)
                t = time.mktime(info.date_time + (0, 0, -1))
                os.utime(target, (t, t))
    for rel, dest in links:  # made last, each judged on the filesystem by the one rule for links
        target = run_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(dest, target)
        if link_refused(run_dir, rel, run_id=run_id) is not None:
            os.unlink(target)  # a link out of its run (or the runs folder) is not kept


# --- the executor ---------------------------------------------------------------------------

class DaskPool:
    """Run trials as tasks on a dask.distributed cluster (one task per worker thread at a time)."""

    def __init__(self, dask: Any, batch: Run, workers: int | None = None, shared_fs: bool | None = None,
                 sync: str | None = None, echo: bool = False):
        """``dask``: an address, cluster or Client, or a ``(client, owned)`` pair from :func:`connect`.
        ``shared_fs``: None = find out; ``sync``: a remote trials come back through (no shared disk);
        ``echo``: show the trials' output lines on this console as they run."""
        self.client, self._own = dask if isinstance(dask, tuple) else connect(dask)
        self.batch = batch
        try:
            nthreads = sum(self.client.nthreads().values())
        except Exception:  # noqa: BLE001
            nthreads = 0
        self.workers = workers or max(nthreads, 1)
        self._futs: dict[Any, Trial] = {}
        if shared_fs is None:
            try:
                seen = self.client.run(sees_path, str(batch.dir))
                shared_fs = bool(seen) and all(seen.values())
            except Exception:  # noqa: BLE001 - no answer: don't count on a shared disk
                shared_fs = False
        self.shared_fs = shared_fs
        self._remote = None
        if sync and not shared_fs:
            from ...remotes import config

            r = config.get(sync)
            self._remote = {"name": r.name, "url": r.url, "options": r.options}
        self._stop_name = f"runyard-stop-{batch.id}"
        self._topic = None
        if echo:
            import queue

            self._topic = f"runyard-output-{batch.id}"
            self._output: Any = queue.Queue()
            self.client.subscribe_topic(self._topic, self._output.put)  # called with (time, message)
        batchrun.set_attrs(batch, {"executor_mode": "shared-fs" if shared_fs else
                                   ("scratch+remote" if self._remote else "scratch")})

    def free(self) -> int:
        return self.workers - len(self._futs)

    def submit(self, trial: Trial) -> None:
        trial.status = "running"
        key = f"runyard-trial-{trial.run.id}"
        if self.shared_fs:
            fut = self.client.submit(run_trial_on_worker, str(trial.run.dir), str(self.batch.dir),
                                     output_topic=self._topic, pure=False, key=key)
        else:
            fut = self.client.submit(run_trial_in_scratch, trial.run.id, zip_run(trial.run.dir), self._stop_name,
                                     self._remote, output_topic=self._topic, pure=False, key=key)
        self._futs[fut] = trial

    def busy(self) -> bool:
        return bool(self._futs)

    def running(self) -> int:
        if not self.shared_fs:
            return sum(1 for f in self._futs if not f.done())
        return sum(1 for t in self._futs.values() if t.run.guild_path("LOCK").exists())

    def _show_output(self) -> None:
        """Print the output lines the trials have sent so far."""
        if self._topic is None:
            return
        from ..progress import show_trial_output

        while True:
            try:
                _time, msg = self._output.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty
                return
            if isinstance(msg, dict) and isinstance(msg.get("lines"), (list, tuple)):  # msgpack gives tuples
                show_trial_output(str(msg.get("run", "")), [str(ln) for ln in msg["lines"]])

    def _finish(self, fut, status_if_lost: int = 1) -> Trial:
        self._show_output()
        trial = self._futs.pop(fut)
        result: Any = None
        try:
            result = fut.result(timeout=5)
            never_started = result is None or (isinstance(result, dict) and result.get("exit_status") is None
                                               and not result.get("zip"))
        except Exception:  # noqa: BLE001 - a task that failed or was cancelled
            never_started = fut.cancelled()
        if isinstance(result, dict) and not never_started:
            self._bring_back(trial, result)
        g = trial.run.guild_path()
        if never_started and not (g / "LOCK").exists() and not (g / "attrs" / "exit_status").exists():
            batchrun.discard(trial.run.dir)
            trial.status = "discarded"
            return trial
        batchrun.mark_stopped(trial.run.dir, status_if_lost)
        collect(trial)
        return trial

    def _bring_back(self, trial: Trial, result: dict) -> None:
        """Put a trial that ran in a worker's scratch directory into the home, whole."""
        run_dir = trial.run.dir
        runs = run_dir.parent
        new = runs / f".trial-{trial.run.id}"
        old = runs / f".trial-old-{trial.run.id}"
        shutil.rmtree(new, ignore_errors=True)
        if result.get("zip"):
            unzip_run(result["zip"], new, trial.run.id)
        elif result.get("via") == "remote":
            from ...remotes import config, sync

            t = sync.pull(config.Remote(**self._remote), [trial.run.id], new.parent / f".trial-pull-{trial.run.id}",
                          include_running=True)
            got = new.parent / f".trial-pull-{trial.run.id}" / trial.run.id
            if trial.run.id not in t.sent or not got.is_dir():
                batchrun.BatchLog(self.batch).write(f"trial {trial.run.id[:8]}: not on the remote: "
                                                    + "; ".join(t.notes) + "\n", 1)
                return
            os.rename(got, new)
            shutil.rmtree(new.parent / f".trial-pull-{trial.run.id}", ignore_errors=True)
        else:
            if result.get("error"):
                batchrun.BatchLog(self.batch).write(f"trial {trial.run.id[:8]}: {result['error']}\n", 1)
            return
        os.rename(run_dir, old)
        os.rename(new, run_dir)
        shutil.rmtree(old, ignore_errors=True)
        batchrun._touch_index(trial.run)

    def _done(self) -> list:
        return [f for f in self._futs if f.done()]

    def wait(self, timeout: float) -> list[Trial]:
        deadline = time.monotonic() + timeout
        while self._futs:
            self._show_output()
            done = self._done()
            if done:
                return [self._finish(f) for f in done]
            if time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        return []

    def stop(self, signum: int) -> list[Trial]:
        batchrun.request_stop(self.batch, signum)
        if not self.shared_fs:
            import distributed

            distributed.Variable(self._stop_name + "-signal", client=self.client).set(int(signum))
            distributed.Event(self._stop_name, client=self.client).set()
        status = exit_signal_status(signum)
        done: list[Trial] = []
        deadline = time.monotonic() + STOP_GRACE + 5
        try:
            while len(self._done()) < len(self._futs) and time.monotonic() < deadline:
                time.sleep(0.05)
        except KeyboardInterrupt:
            pass
        for fut in list(self._futs):
            if not fut.done():
                fut.cancel()
            done.append(self._finish(fut, status))
        return done

    def close(self) -> None:
        if self._topic is not None:
            self._show_output()
            try:
                self.client.unsubscribe_topic(self._topic)
            except Exception:  # noqa: BLE001
                pass
        if self._own:
            try:
                self.client.close(timeout=5)
            except Exception:  # noqa: BLE001
                pass
