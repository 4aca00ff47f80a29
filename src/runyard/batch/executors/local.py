"""``local:N``: N trials at once, each in one of N long-lived worker processes on this machine
(``python -m runyard.batch.worker``, in sessions of their own: a terminal's Ctrl-C reaches
trials only as the batch passes it on; stopping sends each busy worker SIGINT or SIGTERM)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ...errors import UsageError
from ...launch import batchrun
from ...store.run import Run
from ..search import Trial
from . import STOP_GRACE, collect, exit_signal_status, kill_tree


def _workers(arg: str) -> int:
    try:
        n = int(arg or os.cpu_count() or 1)
    except ValueError:
        raise UsageError(f"executor local needs a number of workers (local:N), not {arg!r}") from None
    if n < 1:
        raise UsageError("executor local needs at least 1 worker")
    return n


def check(arg: str, options: dict[str, Any]) -> None:
    _workers(arg)


def create(arg: str, batch: Run, echo: bool, options: dict[str, Any]) -> "LocalPool":
    return LocalPool(_workers(arg), batch.guild_path("workers.log"))


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
        collect(trial)
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
        status = exit_signal_status(signum)
        done: list[Trial] = []
        deadline = time.monotonic() + STOP_GRACE
        try:
            while self._busy and time.monotonic() < deadline:
                done += self.wait(0.2, status)
        except KeyboardInterrupt:
            pass
        for w in list(self._busy):
            kill_tree(w.proc.pid)
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
                kill_tree(w.proc.pid)
        self._idle, self._busy = [], []


