"""``inline``: one trial at a time, supervised in this process's main thread."""

from __future__ import annotations

from typing import Any

from ...launch import batchrun
from ...store.run import Run
from ..search import Trial
from . import collect


def create(arg: str, batch: Run, echo: bool, options: dict[str, Any]) -> "InProcess":
    return InProcess(echo=echo)


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
            collect(trial)
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


