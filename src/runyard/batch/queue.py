"""A queue: start staged runs (``runyard run --stage``, ``--stage`` batches) oldest first, one at a time.

Each run is claimed with one atomic rename (``STAGED`` -> ``PENDING``) before it starts, so
any number of queues — in several terminals, or on several machines sharing the runs
home — start every staged run exactly once. Parallelism is more queues.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from ..launch import batchrun
from ..store.run import Run


class _Terminated(BaseException):
    pass


def _raise_terminated(signum, frame):
    raise _Terminated()


def _say(line: str) -> None:
    try:
        from ..terminal import safe_block

        sys.stderr.write(safe_block(line) + "\n")  # (terminal-safe)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _describe(run: Run) -> str:
    from ..flags import format_value

    flags = run.get("flags") or {}
    inner = ", ".join(f"{k}={format_value(v)}" for k, v in flags.items())
    return f"{run.operation} ({inner})" if inner else run.operation


def _unclaim(run: Run) -> None:
    """Give a claimed run back to the queues if it never started."""
    g = run.guild_path()
    if (g / "LOCK").exists() or (g / "attrs" / "exit_status").exists():
        return
    try:
        os.rename(g / "PENDING", g / "STAGED")
    except FileNotFoundError:
        pass


def run_queue(*, poll_interval: float = 5.0, run_once: bool = False, echo: bool = True,
              home: str | os.PathLike | None = None, max_runs: int | None = None) -> list[str]:
    """Start staged runs oldest first, one at a time, waiting for more every ``poll_interval``
    seconds until stopped (Ctrl-C, SIGTERM); with ``run_once``, return when none are left.

    Returns the ids of the runs it started. Ctrl-C stops the running run (``terminated``)
    and re-raises ``KeyboardInterrupt``.
    """
    started: list[str] = []
    home_path = Path(home) if home else None
    main = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _raise_terminated) if main else None
    waiting_said = False
    try:
        while max_runs is None or len(started) < max_runs:
            took = None
            for run in batchrun.staged_runs(home_path):
                if batchrun.claim(run.dir):
                    took = run
                    break
            if took is None:
                if run_once:
                    break
                if echo and not waiting_said:
                    _say("INFO: Waiting for staged runs (Ctrl-C to stop the queue)")
                    waiting_said = True
                time.sleep(poll_interval)
                continue
            waiting_said = False
            if echo:
                _say(f"INFO: Starting staged run {took.id}: {_describe(took)}")
            try:
                status = batchrun.start_claimed(took.dir, echo=echo)
            except (KeyboardInterrupt, _Terminated):
                _unclaim(took)
                raise
            except Exception as e:  # noqa: BLE001 - a broken staged run must not stop the queue
                _say(f"ERROR: cannot start staged run {took.id}: {e}")
                batchrun.mark_stopped(took.dir, 1)
                status = 1
            started.append(took.id)
            if status == -16:
                raise KeyboardInterrupt
            if status == -15:
                break
    except _Terminated:
        pass
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return started
