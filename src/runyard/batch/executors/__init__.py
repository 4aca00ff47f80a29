"""Executors start a batch's trials (pending runs, made and claimed by the batch) and report them done.

An executor is chosen by name with ``--executor NAME[:ARG]`` (saved in the batch's run
parameters, so a resumed batch uses it again); ``--workers N`` and ``--dask ADDRESS`` are
shorthands for ``local:N`` and ``dask:ADDRESS``. Each executor is one module of this package:

- ``inline`` — one trial at a time, supervised in this process's main thread (output can be
  echoed; a terminal's Ctrl-C reaches the trial as for a single run). The default.
- ``local:N`` — N trials at once in N worker processes on this machine.
- ``dask:ADDRESS`` — trials on a dask.distributed cluster, with or without a disk shared with
  the runs home.

Adding one (Slurm through dask-jobqueue, say) is one file here with a ``create(arg, batch,
echo, options)`` function returning an object with: ``free()`` (how many more trials may
start now), ``submit(trial)``, ``busy()``, ``wait(timeout) -> finished trials``,
``running()``, ``stop(signum) -> finished trials`` and ``close()``; and, optionally,
``check(arg, options)`` to refuse bad input before anything is made.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import signal
from typing import Any, Protocol

from ...errors import UsageError
from ...store.run import Run
from ..search import Trial

STOP_GRACE = 40.0  # seconds a stopped trial gets to finish before its tree is killed


class OutputTail:
    """The complete lines a run adds to its ``.guild/output``, read as they are written."""

    def __init__(self, run_dir: Any):
        from pathlib import Path

        self.path = Path(run_dir) / ".guild" / "output"
        self._pos = 0
        self._rest = b""

    def lines(self, final: bool = False) -> list[str]:
        """New lines since the last call (with ``final``, an unfinished last line too)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._pos)
                data = f.read(1 << 20)
        except OSError:
            data = b""
        self._pos += len(data)
        buf = self._rest + data
        cut = len(buf) if final else buf.rfind(b"\n") + 1
        done, self._rest = buf[:cut], buf[cut:]
        return [ln.rstrip(b"\r").decode("utf-8", "replace") for ln in done.splitlines()]


class Executor(Protocol):
    """What the batch driver needs of an executor."""

    def free(self) -> int: ...
    def submit(self, trial: Trial) -> None: ...
    def busy(self) -> bool: ...
    def running(self) -> int: ...
    def wait(self, timeout: float) -> list[Trial]: ...
    def stop(self, signum: int) -> list[Trial]: ...
    def close(self) -> None: ...


def names() -> list[str]:
    """The executors there are (one module each)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def _module(name: str):
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name or "") or name not in names():
        raise UsageError(f"unknown executor {name!r}: choose from {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{name}")


def split(spec: str) -> tuple[str, str]:
    """``"dask:tcp://h:8786"`` -> ("dask", "tcp://h:8786")."""
    name, _, arg = str(spec).partition(":")
    return name.strip(), arg.strip()


def check(spec: str, options: dict[str, Any] | None = None) -> None:
    """Refuse an unknown executor or a bad argument, before anything is made."""
    name, arg = split(spec)
    mod = _module(name)
    if hasattr(mod, "check"):
        mod.check(arg, options or {})


def create(spec: str, batch: Run, echo: bool, options: dict[str, Any] | None = None) -> Executor:
    """The executor ``spec`` names, ready for ``batch``'s trials."""
    name, arg = split(spec)
    return _module(name).create(arg, batch, echo, options or {})


def exit_signal_status(signum: int) -> int:
    """The exit status a trial stopped by ``signum`` records (Guild's convention)."""
    return -16 if signum == signal.SIGINT else -15


def collect(trial: Trial) -> None:
    """Read a finished trial's status from its run."""
    from ...store.run import status_of

    trial.exit_status = trial.run.get("exit_status")
    trial.status = status_of(trial.run.dir, trial.exit_status)


def kill_tree(pid: int) -> None:
    from ...launch.runner import _terminate_tree

    _terminate_tree(pid, kill=True)
