"""What a batch shows while it runs.

- ``Lines`` (one trial at a time, echo on, stderr not a terminal): an ``INFO: Running trial
  <id>: train.py (x=1)`` header before each trial, whose own output is echoed as for a single
  run (Guild AI's way).
- ``Bar`` (on a terminal, and for several trials at once): a rich progress bar — trial k of N,
  elapsed time, running and failed counts, the best objective so far. Trials run one at a
  time show their header and output above it; trials run at once on the local executor don't
  (each trial's output is in its run directory); Dask trials' output lines come as they run,
  prefixed with the trial's id (:func:`trial_output_line`).
- ``Quiet`` (echo off): nothing.

Every kind also writes one line per event to the batch run's own output.
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

from ..flags import format_value
from .search import Objective, Trial

FAILED = ("error", "terminated")


def trial_output_line(run_id: str, text: str) -> str:
    """A line of a trial's output as a batch running several trials at once shows it:
    ``[<first 8 digits of its id>] <line>``, so interleaved trials stay apart."""
    return f"[{run_id[:8]}] {text}"


def show_trial_output(run_id: str, lines: list[str]) -> None:
    """Print trial output lines on the batch's stdout (above a progress bar on a terminal)."""
    if lines:
        sys.stdout.write("".join(trial_output_line(run_id, ln) + "\n" for ln in lines))
        sys.stdout.flush()


def trial_desc(script_rel: str, flags: dict) -> str:
    from ..terminal import safe

    inner = ", ".join(f"{safe(k)}={safe(format_value(v))}" for k, v in flags.items())
    return f"{safe(script_rel)} ({inner})" if inner else safe(script_rel)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.6g}"



class Quiet:
    """Counts trials and logs to the batch's output; shows nothing."""

    def __init__(self, script_rel: str, total: int, objective: Objective, log: Any = None):
        self.script_rel = script_rel
        self.total = total
        self.objective = objective
        self.log = log
        self.done = 0
        self.failed = 0
        self.best: Trial | None = None
        # --seeds: runs of one setting share a group; the best is the group with the best mean
        self.groups: dict[Any, list[float]] = {}
        self.best_group: Any = None

    def _log(self, line: str, stream: int = 0) -> None:
        if self.log is not None:
            self.log.write(line, stream)

    def started(self, trial: Trial) -> None:
        self._log(f"INFO: Running trial {trial.run.id}: {trial_desc(self.script_rel, trial.flags)}")

    def skipped(self, trial: Trial) -> None:
        self.done += 1
        self._log(f"INFO: Skipping trial {trial_desc(self.script_rel, trial.flags)}: "
                  f"completed run {trial.matched} has the same flags")

    def finished(self, trial: Trial) -> None:
        self.done += 1
        if trial.status in FAILED:
            self.failed += 1
        if trial.status == "completed" and self.objective.better(trial.objective, self.best and self.best.objective):
            self.best = trial
        group = trial.extra.get("group")
        if group is not None and trial.status == "completed" and trial.objective is not None:
            self.groups.setdefault(group, []).append(trial.objective)
            sign = -1 if self.objective.maximize else 1
            self.best_group = min(self.groups, key=lambda g: sign * statistics.fmean(self.groups[g]))
        obj = "" if trial.objective is None else f", {self.objective.tag}={_fmt(trial.objective)}"
        self._log(f"INFO: Trial {trial.run.id} {trial.status} (exit status {trial.exit_status}{obj})",
                  1 if trial.status in FAILED else 0)

    def _say(self, line: str) -> None:
        try:
            from ..terminal import safe_block

            sys.stderr.write(safe_block(line) + "\n")  # (terminal-safe)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def warn(self, line: str) -> None:
        """A warning about the batch as a whole: logged, and shown on stderr (even when quiet)."""
        self._log(line, 1)
        self._say(line)

    def tick(self, running: int) -> None:
        pass

    def summary(self) -> str:
        parts = [f"{self.done} of {self.total} trials done"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        word = "max" if self.objective.maximize else "min"
        if self.best_group is not None:
            parts.append(f"best {self.objective.tag} ({word}, mean of seeds) {self.group_text()}")
        elif self.best is not None:
            parts.append(f"best {self.objective.tag} ({word}) {_fmt(self.best.objective)} in {self.best.run.id[:8]}")
        return ", ".join(parts)

    def group_text(self) -> str:
        """The best group's objective: ``mean ± sample standard deviation (n runs)``."""
        values = self.groups[self.best_group]
        n = len(values)
        spread = _fmt(statistics.stdev(values)) if n > 1 else "?"
        return f"{_fmt(statistics.fmean(values))} ± {spread} ({n} run{'s' * (n != 1)})"

    def close(self, note: str | None = None) -> None:
        self._log(f"INFO: Batch {note or 'finished'}: {self.summary()}")


class Lines(Quiet):
    """Guild AI's console: a header line before each trial's echoed output."""

    def started(self, trial: Trial) -> None:
        super().started(trial)
        self._say(f"INFO: Running trial {trial.run.id}: {trial_desc(self.script_rel, trial.flags)}")

    def skipped(self, trial: Trial) -> None:
        super().skipped(trial)
        self._say(f"INFO: Skipping trial {trial_desc(self.script_rel, trial.flags)}: "
                  f"completed run {trial.matched[:8]} has the same flags")

    def finished(self, trial: Trial) -> None:
        super().finished(trial)
        if trial.status in FAILED:
            self._say(f"WARNING: Trial {trial.run.id} {trial.status} (exit status {trial.exit_status})")

    def close(self, note: str | None = None) -> None:
        super().close(note)
        if self.total > 1:
            self._say(f"INFO: Batch {note or 'finished'}: {self.summary()}")


def _lines_above(console: Any) -> None:
    """Route this process's stdout and stderr (the trials' echoed output) through ``console``,
    line by line above the bar. rich's own proxies hand out the real file's ``buffer``, which
    the supervisor would write to directly, under the bar; these don't (rich restores the
    streams when the bar stops)."""
    from rich.file_proxy import FileProxy

    class TextOnly(FileProxy):
        def __getattr__(self, name: str) -> Any:
            if name == "buffer":
                raise AttributeError(name)
            return super().__getattr__(name)

    for name in ("stdout", "stderr"):
        cur = getattr(sys, name)
        raw = getattr(cur, "rich_proxied_file", cur)
        setattr(sys, name, TextOnly(console, raw))


def on_terminal() -> bool:
    """True when stderr (the bar) and stdout (the trials' output, shown above it) are both a
    terminal: output sent to a file or a pipe stays there, with Guild's header lines."""
    from ..terminal import is_terminal

    return is_terminal(sys.stderr) and is_terminal(sys.stdout)


class Bar(Quiet):
    """A rich progress bar on stderr: trial k of N, elapsed time, running / failed counts and
    the best objective so far. With ``headers`` (trials run one at a time with their output
    shown), each trial's header line and output scroll above the bar."""

    def __init__(self, script_rel: str, total: int, objective: Objective, log: Any = None,
                 headers: bool = False):
        super().__init__(script_rel, total, objective, log)
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.headers = headers
        self._console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description}", markup=False), BarColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[info]}", markup=False),
            console=self._console, refresh_per_second=4, transient=False,
        )
        self._running = 0
        self._task = self._progress.add_task(self._desc(), total=total, info=self._info())
        self._progress.start()
        if headers and self._console.is_terminal:
            _lines_above(self._console)

    def _desc(self) -> str:
        from ..terminal import safe

        k = min(self.done + max(self._running, 0 if self.done >= self.total else 1), self.total)
        return f"{safe(self.script_rel)}: trial {k} of {self.total}"

    def _info(self) -> str:
        parts = []
        if self._running > 1:
            parts.append(f"{self._running} running")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.best_group is not None:
            parts.append(f"best {self.objective.tag} {self.group_text()}")
        elif self.best is not None:
            parts.append(f"best {self.objective.tag} {_fmt(self.best.objective)}")
        return " · ".join(parts)

    def _say(self, line: str) -> None:
        self._console.print(line, markup=False, highlight=False)

    def _update(self) -> None:
        self._progress.update(self._task, completed=self.done, description=self._desc(), info=self._info())

    def started(self, trial: Trial) -> None:
        super().started(trial)
        self._running += 1
        if self.headers:
            self._say(f"INFO: Running trial {trial.run.id}: {trial_desc(self.script_rel, trial.flags)}")
        self._update()

    def skipped(self, trial: Trial) -> None:
        super().skipped(trial)
        if self.headers:
            self._say(f"INFO: Skipping trial {trial_desc(self.script_rel, trial.flags)}: "
                      f"completed run {trial.matched[:8]} has the same flags")
        self._update()

    def finished(self, trial: Trial) -> None:
        super().finished(trial)
        self._running = max(self._running - 1, 0)
        if self.headers and trial.status in FAILED:
            self._say(f"WARNING: Trial {trial.run.id} {trial.status} (exit status {trial.exit_status})")
        self._update()

    def tick(self, running: int) -> None:
        if running != self._running:
            self._running = running
            self._update()

    def close(self, note: str | None = None) -> None:
        super().close(note)
        self._running = 0
        self._update()
        self._progress.stop()
        self._say(f"Batch {note or 'finished'}: {self.summary()}")
