"""Executors start a batch's trials (pending runs, made and claimed by the batch) and report them done.

- :class:`InProcess` — one trial at a time, supervised in this process's main thread
  (output can be echoed; a terminal's Ctrl-C reaches the trial as for a single run).
- :class:`LocalPool` — N trials at once, each supervised by ``python -m runyard.run.launch``
  in a session of its own; stopping sends each supervisor SIGINT (Ctrl-C) or SIGTERM.
- :class:`DaskPool` — trials on a dask.distributed cluster whose workers share the runs
  home; each worker task supervises its trial in a child process and stops it when the
  batch writes a stop request (``<batch>/.guild/STOP``).

All share: ``free()`` (how many more trials may start now), ``submit(trial)``,
``busy()``, ``wait(timeout) -> finished trials``, ``running()`` and ``stop(signum)``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..run import batchrun
from ..store.run import Run
from .search import Trial

STOP_GRACE = 40.0  # seconds a stopped trial gets to finish before its tree is killed


def _exit_signal_status(signum: int) -> int:
    return -16 if signum == signal.SIGINT else -15


def _collect(trial: Trial) -> None:
    """Read a finished trial's status from its run."""
    from ..store.run import status_of

    trial.exit_status = trial.run.get("exit_status")
    trial.status = status_of(trial.run.dir, trial.exit_status)


class InProcess:
    """Run trials one by one in this process (the main thread)."""

    def __init__(self, echo: bool = False):
        self.echo = echo
        self._done: list[Trial] = []

    def free(self) -> int:
        return 0 if self._done else 1

    def submit(self, trial: Trial) -> None:
        trial.status = "running"
        try:
            batchrun.start_claimed(trial.run.dir, echo=self.echo)
        finally:
            _collect(trial)
            self._done.append(trial)

    def busy(self) -> bool:
        return bool(self._done)

    def running(self) -> int:
        return 0

    def wait(self, timeout: float) -> list[Trial]:
        done, self._done = self._done, []
        return done

    def stop(self, signum: int) -> list[Trial]:
        return self.wait(0)

    def close(self) -> None:
        pass


class LocalPool:
    """Run up to ``workers`` trials at once, each in a supervisor process of its own."""

    def __init__(self, workers: int):
        self.workers = workers
        self._procs: dict[Trial, subprocess.Popen] = {}

    def free(self) -> int:
        return self.workers - len(self._procs)

    def submit(self, trial: Trial) -> None:
        trial.status = "running"
        self._procs[trial] = batchrun.spawn_supervisor(trial.run.dir)

    def busy(self) -> bool:
        return bool(self._procs)

    def running(self) -> int:
        return len(self._procs)

    def _reap(self, default_status: int = 1) -> list[Trial]:
        done = []
        for trial, proc in list(self._procs.items()):
            if proc.poll() is not None:
                del self._procs[trial]
                batchrun.mark_stopped(trial.run.dir, default_status)  # no-op when the supervisor finalized it
                _collect(trial)
                done.append(trial)
        return done

    def wait(self, timeout: float) -> list[Trial]:
        deadline = time.monotonic() + timeout
        while True:
            done = self._reap()
            if done or not self._procs or time.monotonic() >= deadline:
                return done
            time.sleep(0.02)

    def stop(self, signum: int) -> list[Trial]:
        """Signal every running trial's supervisor; wait for them (a second Ctrl-C kills at once)."""
        for proc in self._procs.values():
            try:
                proc.send_signal(signum)
            except OSError:
                pass
        status = _exit_signal_status(signum)
        done: list[Trial] = []
        deadline = time.monotonic() + STOP_GRACE
        try:
            while self._procs and time.monotonic() < deadline:
                done += self._reap(status)
                time.sleep(0.05)
        except KeyboardInterrupt:
            pass
        for trial, proc in list(self._procs.items()):
            _kill_tree(proc.pid)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        done += self._reap(status)
        for trial in list(self._procs):  # unkillable: record what we know
            del self._procs[trial]
            batchrun.mark_stopped(trial.run.dir, status)
            _collect(trial)
            done.append(trial)
        return done

    def close(self) -> None:
        pass


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


# --- Dask ---------------------------------------------------------------------------------------

def run_trial_on_worker(run_dir: str, batch_dir: str, poll: float = 0.25) -> int | None:
    """Dask task: supervise a pending trial in a child process; stop it on the batch's request.

    Runs on a dask worker that sees the runs home at the same path. Returns the trial's
    exit_status (None if the batch was stopped before the trial started).
    """
    if batchrun.stop_requested(batch_dir) is not None:
        return None
    proc = batchrun.spawn_supervisor(run_dir)
    sent = None
    while True:
        try:
            proc.wait(timeout=poll)
            break
        except subprocess.TimeoutExpired:
            pass
        if sent is None:
            sig = batchrun.stop_requested(batch_dir)
            if sig is not None:
                sent = sig
                try:
                    proc.send_signal(sig)
                except OSError:
                    pass
    if proc.returncode:
        batchrun.mark_stopped(run_dir, _exit_signal_status(sent) if sent else 1)
    return Run(Path(run_dir)).get("exit_status")


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


class DaskPool:
    """Run trials as tasks on a dask.distributed cluster (one task per worker thread at a time)."""

    def __init__(self, dask: Any, batch: Run, workers: int | None = None):
        """``dask``: an address, cluster or Client, or a ``(client, owned)`` pair from :func:`connect`."""
        self.client, self._own = dask if isinstance(dask, tuple) else connect(dask)
        self.batch = batch
        try:
            nthreads = sum(self.client.nthreads().values())
        except Exception:  # noqa: BLE001
            nthreads = 0
        self.workers = workers or max(nthreads, 1)
        self._futs: dict[Any, Trial] = {}

    def free(self) -> int:
        return self.workers - len(self._futs)

    def submit(self, trial: Trial) -> None:
        trial.status = "running"
        fut = self.client.submit(run_trial_on_worker, str(trial.run.dir), str(self.batch.dir),
                                 pure=False, key=f"runyard-trial-{trial.run.id}")
        self._futs[fut] = trial

    def busy(self) -> bool:
        return bool(self._futs)

    def running(self) -> int:
        return sum(1 for t in self._futs.values() if t.run.guild_path("LOCK").exists())

    def _finish(self, fut, status_if_lost: int = 1) -> Trial:
        trial = self._futs.pop(fut)
        try:
            result = fut.result(timeout=5)
            never_started = result is None
        except Exception:  # noqa: BLE001 - a task that failed or was cancelled
            never_started = fut.cancelled()
        g = trial.run.guild_path()
        if never_started and not (g / "LOCK").exists() and not (g / "attrs" / "exit_status").exists():
            batchrun.discard(trial.run.dir)
            trial.status = "discarded"
            return trial
        batchrun.mark_stopped(trial.run.dir, status_if_lost)
        _collect(trial)
        return trial

    def _done(self) -> list:
        return [f for f in self._futs if f.done()]

    def wait(self, timeout: float) -> list[Trial]:
        deadline = time.monotonic() + timeout
        while self._futs:
            done = self._done()
            if done:
                return [self._finish(f) for f in done]
            if time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        return []

    def stop(self, signum: int) -> list[Trial]:
        batchrun.request_stop(self.batch, signum)
        status = _exit_signal_status(signum)
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
        if self._own:
            try:
                self.client.close(timeout=5)
            except Exception:  # noqa: BLE001
                pass
