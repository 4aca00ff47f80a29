"""Executors start a batch's trials (pending runs, made and claimed by the batch) and report them done.

- :class:`InProcess` — one trial at a time, supervised in this process's main thread
  (output can be echoed; a terminal's Ctrl-C reaches the trial as for a single run).
- :class:`LocalPool` — N trials at once in N worker processes (``python -m runyard.batch.worker``,
  sessions of their own); stopping sends each busy worker SIGINT (Ctrl-C) or SIGTERM.
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
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..launch import batchrun
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


class _Worker:
    """A ``python -m runyard.batch.worker`` process: run dirs in on stdin, exit statuses out on stdout."""

    def __init__(self, log_path: Path | None = None):
        log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "runyard.batch.worker"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log, start_new_session=True, close_fds=True)
        finally:
            if log_path:
                log.close()
        self.trial: Trial | None = None
        self._buf = b""

    def give(self, trial: Trial) -> None:
        self.trial = trial
        self.proc.stdin.write(str(trial.run.dir).encode() + b"\n")
        self.proc.stdin.flush()

    def read(self) -> bool:
        """Read what the worker wrote; True once its trial is done (or the worker died)."""
        data = os.read(self.proc.stdout.fileno(), 4096)
        if not data:
            return True
        self._buf += data
        if b"\n" in self._buf:
            self._buf = self._buf.split(b"\n", 1)[1]
            return True
        return False

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass


class LocalPool:
    """Run up to ``workers`` trials at once, each in one of ``workers`` long-lived worker processes
    (sessions of their own: a terminal's Ctrl-C reaches trials only as the batch passes it on)."""

    def __init__(self, workers: int, log_path: Path | None = None):
        self.workers = workers
        self._log = log_path  # the workers' own errors, if any
        self._idle = [_Worker(log_path) for _ in range(workers)]
        self._busy: list[_Worker] = []

    def free(self) -> int:
        return self.workers - len(self._busy)

    def submit(self, trial: Trial) -> None:
        trial.status = "running"
        w = self._idle.pop() if self._idle else _Worker(self._log)
        if w.proc.poll() is not None:
            w = _Worker(self._log)
        try:
            w.give(trial)
        except (BrokenPipeError, OSError):
            w = _Worker(self._log)
            w.give(trial)
        self._busy.append(w)

    def busy(self) -> bool:
        return bool(self._busy)

    def running(self) -> int:
        return len(self._busy)

    def _finish(self, w: _Worker, status_if_lost: int) -> Trial:
        self._busy.remove(w)
        trial, w.trial = w.trial, None
        if w.proc.poll() is None:
            self._idle.append(w)
        batchrun.mark_stopped(trial.run.dir, status_if_lost)  # no-op when the worker finalized it
        _collect(trial)
        return trial

    def wait(self, timeout: float, status_if_lost: int = 1) -> list[Trial]:
        import selectors

        if not self._busy:
            return []
        sel = selectors.DefaultSelector()
        try:
            for w in self._busy:
                sel.register(w.proc.stdout.fileno(), selectors.EVENT_READ, w)
            ready = sel.select(timeout)
        finally:
            sel.close()
        return [self._finish(key.data, status_if_lost) for key, _ in ready if key.data.read()]

    def stop(self, signum: int) -> list[Trial]:
        """Signal every busy worker (its trial stops); wait for them (a second Ctrl-C kills at once)."""
        for w in self._busy:
            try:
                w.proc.send_signal(signum)
            except OSError:
                pass
        status = _exit_signal_status(signum)
        done: list[Trial] = []
        deadline = time.monotonic() + STOP_GRACE
        try:
            while self._busy and time.monotonic() < deadline:
                done += self.wait(0.2, status)
        except KeyboardInterrupt:
            pass
        for w in list(self._busy):
            _kill_tree(w.proc.pid)
            try:
                w.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            done.append(self._finish(w, status))
        return done

    def close(self) -> None:
        for w in self._idle + self._busy:
            w.close()
        for w in self._idle + self._busy:
            try:
                w.proc.wait(5)
            except subprocess.TimeoutExpired:
                _kill_tree(w.proc.pid)
        self._idle, self._busy = [], []


def _kill_tree(pid: int) -> None:
    from ..launch.runner import _terminate_tree

    _terminate_tree(pid, kill=True)


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
