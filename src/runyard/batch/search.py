"""Trials, the objective a search optimizes, and the sources that hand trials to a batch.

A *source* yields trials one at a time (``next``) and learns their results (``tell``):
:class:`FixedSource` for trials known up front (grids, tables, random samples);
:class:`TpeSource` asks Optuna's TPE sampler for each next trial, so it only knows as
many trials ahead as there are free workers.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..store.run import Run
from .trials import Space

STATS = {"first": 2, "last": 4, "min": 6, "max": 8, "avg": 10}


@dataclass(eq=False)
class Trial:
    """One trial of a batch: its flags and, once made, its run."""

    flags: dict
    values: dict | None = None
    run: Run | None = None
    status: str = "planned"  # planned, pending, running, completed, error, terminated, skipped
    exit_status: int | None = None
    objective: float | None = None
    handle: Any = None  # the optimizer's own trial object
    matched: str | None = None  # --needed: the completed run that made this trial unnecessary
    foreign: bool = False  # started by someone else (a queue claimed it first)
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.run.id if self.run else (self.matched or "")


@dataclass
class Objective:
    """What a search optimizes: a scalar's last (or first/min/max/avg) value, minimized or maximized."""

    tag: str = "loss"
    maximize: bool = False
    stat: str = "last"
    explicit: bool = False

    @classmethod
    def parse(cls, minimize: str | None, maximize: str | None) -> "Objective":
        if minimize and maximize:
            raise UsageError("use either --minimize or --maximize, not both")
        spec = maximize or minimize
        if not spec:
            return cls()
        words = str(spec).split()
        stat = "last"
        if len(words) == 2 and words[0].lower() in STATS:
            stat, words = words[0].lower(), words[1:]
        if len(words) != 1 or not words[0]:
            raise UsageError(f"invalid objective '{spec}': expected a scalar name such as loss or val/acc")
        tag = words[0]
        if tag.startswith("scalar:"):
            tag = tag[len("scalar:"):]
        return cls(tag=tag, maximize=bool(maximize), stat=stat, explicit=True)

    @property
    def colspec(self) -> str:
        """Guild's form: the scalar's name, with a leading ``-`` when maximized."""
        core = self.tag if self.stat == "last" else f"{self.stat} {self.tag}"
        return ("-" if self.maximize else "") + core

    @classmethod
    def from_colspec(cls, spec: str | None, explicit: bool = True) -> "Objective":
        if not spec:
            return cls()
        maximize = spec.startswith("-")
        o = cls.parse(None if maximize else spec, spec[1:] if maximize else None)
        o.explicit = explicit
        return o

    def value(self, run_dir: str | Path) -> float | None:
        """The objective's value for a finished run, or None if it logged no such scalar."""
        from ..store.record import scalar_column, summarize
        from ..store.tfevents import run_scalars

        try:
            summary = summarize(run_scalars(run_dir))
        except Exception:  # noqa: BLE001 - an unreadable event file gives no value
            return None
        for s in summary:
            if scalar_column(s[0], s[1]) == self.tag or s[1] == self.tag:
                v = s[STATS[self.stat]]
                return float(v) if v is not None and not math.isnan(v) else None
        return None

    def better(self, a: float | None, b: float | None) -> bool:
        """True if ``a`` beats ``b`` (None never beats anything)."""
        if a is None:
            return False
        if b is None:
            return True
        return a > b if self.maximize else a < b


class FixedSource:
    """Trials known up front, handed out in order."""

    def __init__(self, trials: list[Trial]):
        self._todo = deque(trials)
        self.total = len(trials)

    def next(self) -> Trial | None:
        return self._todo.popleft() if self._todo else None

    def exhausted(self) -> bool:
        return not self._todo

    def tell(self, trial: Trial) -> None:
        pass

    def discarded(self, trial: Trial) -> None:
        pass

    def remaining(self) -> list[Trial]:
        out = list(self._todo)
        self._todo.clear()
        return out


class TpeSource:
    """Bayesian search with Optuna's TPE sampler: ask for a trial, run it, tell its objective."""

    def __init__(self, space: Space, max_trials: int, objective: Objective, seed: int | None,
                 int_flags: set[str] = frozenset(), lookup=None, on_skip=None, seeds: list[int] | None = None,
                 seed_flag: str | None = None):
        try:
            import optuna
        except ImportError:
            raise UsageError("--optimizer tpe needs Optuna: pip install 'runyard[search]'") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.space = space
        self.total = max_trials
        self.objective = objective
        self._ints = set(int_flags)
        self._lookup = lookup  # flags -> (run id, objective) of a matching completed run, for --needed
        self._on_skip = on_skip
        startup = max(3, min(10, max_trials // 3))
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
        self.study = optuna.create_study(direction="maximize" if objective.maximize else "minimize",
                                         sampler=sampler)
        self._choices = {}
        for name, vals in space.lists.items():
            simple = all(v is None or isinstance(v, (bool, int, float, str)) for v in vals)
            self._choices[name] = (vals, simple)
        initial = {n: fn.initial for n, fn in space.functions.items() if fn.initial is not None}
        if initial:
            self.study.enqueue_trial(initial)
        self._asked = 0
        self.skipped: list[Trial] = []
        # --seeds N: an Optuna trial is N runs (one per seed), told the mean of their objectives
        self._seeds = list(seeds or [])
        self._seed_flag = seed_flag
        self._queue: deque[Trial] = deque()
        self._groups: dict[int, list[Trial]] = {}

    def _suggest(self, ot) -> dict:
        flags = dict(self.space.fixed)
        for name, (vals, simple) in self._choices.items():
            if simple:
                flags[name] = ot.suggest_categorical(name, vals)
            else:
                flags[name] = vals[ot.suggest_categorical(name, list(range(len(vals))))]
        for name, fn in self.space.functions.items():
            log = fn.name == "loguniform"
            if name in self._ints:
                flags[name] = ot.suggest_int(name, math.ceil(fn.low), math.floor(fn.high), log=log)
            else:
                flags[name] = ot.suggest_float(name, float(fn.low), float(fn.high), log=log)
        return flags

    def next(self) -> Trial | None:
        if self._queue:
            return self._queue.popleft()
        while self._asked < self.total:
            self._asked += 1
            ot = self.study.ask()
            if self._seeds:
                flags = self._suggest(ot)
                group = [Trial({**flags, self._seed_flag: s}, handle=ot, extra={"group": ot.number})
                         for s in self._seeds]
                self._groups[ot.number] = group
                self._queue.extend(group[1:])
                return group[0]
            trial = Trial(self._suggest(ot), handle=ot)
            if self._lookup is not None:
                found = self._lookup(trial.flags)
                if found is not None:
                    trial.status, trial.matched, trial.objective = "skipped", found[0], found[1]
                    self.tell(trial)
                    self.skipped.append(trial)
                    if self._on_skip is not None:
                        self._on_skip(trial)
                    continue
            return trial
        return None

    def exhausted(self) -> bool:
        return self._asked >= self.total and not self._queue

    def discarded(self, trial: Trial) -> None:
        self.study.tell(trial.handle, state=self._optuna.trial.TrialState.FAIL, skip_if_finished=True)

    def _tell_group(self, trial: Trial) -> None:
        """A run of a seeded trial ended: once all its runs have, tell Optuna their mean objective
        (over the runs that have one; a trial none of whose runs has one fails)."""
        group = self._groups.get(trial.extra.get("group"), [trial])
        if any(t.status in ("planned", "pending", "running") for t in group):
            return
        values = [t.objective for t in group if t.status == "completed" and t.objective is not None
                  and math.isfinite(t.objective)]
        if values:
            self.study.tell(trial.handle, sum(values) / len(values), skip_if_finished=True)
        else:
            self.study.tell(trial.handle, state=self._optuna.trial.TrialState.FAIL, skip_if_finished=True)

    def tell(self, trial: Trial) -> None:
        if self._seeds:
            self._tell_group(trial)
            return
        ok = trial.status in ("completed", "skipped") and trial.objective is not None \
            and math.isfinite(trial.objective)
        if ok:
            self.study.tell(trial.handle, trial.objective)
        else:
            self.study.tell(trial.handle, state=self._optuna.trial.TrialState.FAIL)

    def remaining(self) -> list[Trial]:
        self._asked = self.total
        out = list(self._queue)
        self._queue.clear()
        return out
