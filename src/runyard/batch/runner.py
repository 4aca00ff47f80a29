"""Plan a batch (validate everything, make nothing), make its runs, drive its trials.

Flow: :func:`plan` checks every trial's flags → :func:`make` writes the batch run and
the trials known up front as pending runs (``--stage``: staged runs, for queues) →
:func:`drive` hands trials to an executor, feeding results back to the search, until
all are done, a trial fails under ``--fail-fast``, or the batch is stopped (Ctrl-C,
SIGTERM), when running trials are stopped (they read ``terminated``) and trials that
never started are removed. ``wait=False`` runs :func:`drive` in a detached
``python -m runyard.batch BATCH_DIR``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .. import opdef
from ..guildfile import resolve
from ..lang import Script, inspect
from ..launch import batchrun
from ..store.run import Run
from . import seeds as _seeds
from . import trials as _trials
from .search import FixedSource, Objective, TpeSource, Trial


class _Terminated(BaseException):
    """SIGTERM reached the batch process."""


@dataclass
class Plan:
    """Everything a batch will do, checked before anything is made."""

    script: Script
    space: _trials.Space
    optimizer: str  # grid, random, tpe
    objective: Objective
    seed: int
    max_trials: int | None = None
    trials: list[Trial] | None = None  # known up front (grid, random, tables); None for tpe
    skipped: list[Trial] = field(default_factory=list)  # --needed
    workers: int = 1
    dask: Any = None
    fail_fast: bool = False
    needed: bool = False
    label: str | None = None
    tags: list[str] = field(default_factory=list)
    comment: str | None = None
    force_flags: bool = False
    dask_client: Any = None  # (Client, owned) once connected
    executor: str | None = None  # NAME[:ARG] (see batch/executors); None = from workers/dask
    no_shared_fs: bool = False  # dask: run trials in the workers' scratch directories
    sync: str | None = None  # a remote trials come back through (dask without a shared disk)
    seeds: list[int] = field(default_factory=list)  # --seeds N: each setting runs once per seed
    seed_flag: str | None = None  # the flag the seeds go to
    warned_blind: bool = False  # said once that a trial recorded no objective scalar

    @property
    def executor_spec(self) -> str:
        """The executor, as ``NAME[:ARG]``: ``--executor``, else the ``--dask``/``--workers`` shorthands."""
        if self.executor:
            return self.executor
        if self.dask is not None:
            return "dask:" + _dask_address(self.dask)
        return f"local:{self.workers}" if self.workers > 1 else "inline"

    @property
    def total(self) -> int:
        """Runs the batch will start (a trial of a search with --seeds N is N runs)."""
        if self.trials is not None:
            return len(self.trials)
        return (self.max_trials or 0) * max(1, len(self.seeds))

    @property
    def run_attrs(self) -> dict | None:
        """Attributes each trial's run gets beyond the usual ones (Guild AI ignores them)."""
        return {"seed_flag": self.seed_flag} if self.seed_flag else None


def _int_option(name: str, v: Any, low: int | None = None) -> int | None:
    if v is None or v is False or v == "":
        return None
    try:
        if isinstance(v, bool):
            raise ValueError
        n = int(v)
        if isinstance(v, float) and not v.is_integer():
            raise ValueError
    except (TypeError, ValueError):
        raise UsageError(f"--{name.replace('_', '-')} needs a whole number, not {v!r}") from None
    if low is not None and n < low:
        raise UsageError(f"--{name.replace('_', '-')} must be at least {low}")
    return n


def _flags_key(values: dict) -> tuple:
    def k(v):
        if isinstance(v, list):
            return ("l", tuple(k(x) for x in v))
        if isinstance(v, dict):
            return ("d", tuple(sorted((str(a), k(b)) for a, b in v.items())))
        return v
    return tuple(sorted((n, k(v)) for n, v in values.items()))


def _completed_runs_by_flags(script: Script) -> dict[tuple, tuple[str, str]]:
    """Completed runs of ``script`` (same project), keyed by their flag values -> (id, dir)."""
    from .. import home as _home
    from .. import index

    out: dict[tuple, tuple[str, str]] = {}
    project = str(script.project_dir)
    for rec in index.sync(_home.find_home(), "runs"):
        if rec.get("is_batch") or rec.get("status") != "completed" or rec.get("operation") != script.name:
            continue
        if rec.get("project_dir") not in (project, None):
            continue
        out.setdefault(_flags_key(rec.get("flags") or {}), (rec["id"], rec["dir"]))
    return out


def plan(script: str | os.PathLike | Script, flags: Any, *, label: str | None = None, tags: Any = (),
         comment: str | None = None, force_flags: bool = False, max_trials: Any = None, optimizer: str | None = None,
         minimize: str | None = None, maximize: str | None = None, random_seed: Any = None, workers: Any = None,
         dask: Any = None, fail_fast: bool = False, needed: bool = False, executor: str | None = None,
         dask_no_shared_fs: bool = False, sync: str | None = None, seeds: Any = None,
         seed_flag: str | None = None) -> Plan:
    """Check a batch and work out its trials. Raises UsageError/FlagError; makes nothing.
    ``seeds``: run every setting once per seed, N seeds drawn from the batch's seed."""
    from ..launch.runner import resolve_values

    info = script if isinstance(script, Script) else resolve(script)
    if minimize is None and maximize is None:  # the operation's `objective` (guild.yml or front matter)
        minimize, maximize = opdef.objective(info.options.get("objective"))
    space = _trials.space_of(flags)
    opt = _trials.choose_optimizer(space, optimizer)
    if max_trials is None and opt != "grid":  # a search's length: the operation's default-max-trials
        max_trials = info.options.get("default-max-trials")
    max_trials = _int_option("max_trials", max_trials, 1)
    workers = _int_option("workers", workers, 1)
    seed = _int_option("random_seed", random_seed, 0)
    if seed is None:
        seed = random.randint(0, 2**32 - 1)
    objective = Objective.parse(minimize, maximize)
    tags = [tags] if isinstance(tags, str) else list(tags or ())
    if dask is False or (isinstance(dask, str) and not dask.strip()):
        dask = None
    p = Plan(script=info, space=space, optimizer=opt, objective=objective, seed=seed, max_trials=max_trials,
             workers=workers or 1, dask=dask, fail_fast=bool(fail_fast), needed=bool(needed),
             label=label, tags=tags, comment=comment, force_flags=bool(force_flags),
             executor=str(executor).strip() if executor else None, no_shared_fs=bool(dask_no_shared_fs), sync=sync)
    if p.executor and p.executor.startswith("dask:") and dask is None:
        p.dask = p.executor.split(":", 1)[1]
    if seed >= 2**32:
        raise UsageError("--random-seed must be less than 2**32")
    n_seeds = _seeds.count(seeds)
    if n_seeds is None and seed_flag:
        raise UsageError("--seed-flag goes with --seeds N")
    if n_seeds:
        p.seed_flag = _seeds.seed_flag(info, seed_flag)
        if _seeds.given_in(space, p.seed_flag):
            raise UsageError(f"--seeds sets flag '{p.seed_flag}' itself: don't give it values too")
        p.seeds = _seeds.draw(n_seeds, seed)
    from . import executors

    executors.check(p.executor_spec, {"client": p.dask_client})
    rng = random.Random(seed)
    if opt == "tpe":
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise UsageError("--optimizer tpe needs Optuna: pip install 'runyard[search]'") from None
        _trials.check_space(info, space, p.force_flags)
        p.max_trials = max_trials or _trials.DEFAULT_SEARCH_TRIALS
        return p
    if opt == "grid":
        flag_sets = _trials.sample_grid(_trials.grid_trials(space), max_trials, rng)
    else:
        _trials.check_space(info, space, p.force_flags)
        n = max_trials or _trials.DEFAULT_SEARCH_TRIALS
        flag_sets = _trials.random_trials(space, n, rng, _trials.int_flags(info, space))
    groups = list(range(len(flag_sets)))
    if p.seeds:  # each setting once per seed; runs of one setting share a group number
        groups = [g for g in groups for _ in p.seeds]
        flag_sets = _seeds.expand(flag_sets, p.seed_flag, p.seeds)
    trials = [Trial(f, values=resolve_values(info, f, p.force_flags), extra={"group": g} if p.seeds else {})
              for f, g in zip(flag_sets, groups)]
    if needed:
        done = _completed_runs_by_flags(info)
        keep = []
        for t in trials:
            match = done.get(_flags_key(t.values))
            if match:
                t.status, t.matched = "skipped", match[0]
                t.objective = objective.value(match[1])
                p.skipped.append(t)
            else:
                keep.append(t)
        trials = keep
    p.trials = trials
    return p


def _run_params(p: Plan) -> dict:
    return {
        "script": p.script.relpath,
        "script_path": str(p.script.path),
        "opspec": p.script.name if p.script.op is not None else None,  # a guild.yml operation
        "interpreters": _overrides(p.script),  # --python / --rscript
        "cwd": os.getcwd(),
        "space": p.space.to_attr(),
        "optimizer": p.optimizer,
        "max_trials": p.max_trials,
        "objective": p.objective.colspec,
        "random_seed": p.seed,
        "workers": p.workers,
        "dask": None if p.dask is None else _dask_address(p.dask),
        "executor": p.executor_spec,
        "dask_no_shared_fs": p.no_shared_fs,
        "sync": p.sync,
        "fail_fast": p.fail_fast,
        "needed": p.needed,
        "label": p.label,
        "tags": p.tags,
        "comment": p.comment,
        "force_flags": p.force_flags,
        "seeds": p.seeds or None,
        "seed_flag": p.seed_flag,
    }


def _overrides(script: Script) -> dict:
    from ..lang.runtime import overrides

    return overrides(script)


def _dask_address(dask: Any) -> str:
    from .executors.dask import dask_address

    return dask_address(dask)


def stage_trial(p: Plan, batch: Run | None, trial: Trial, claim: bool = True) -> None:
    """Make a trial's run (staged), link it from the batch and, unless it is for a queue, claim it."""
    from ..launch.runner import prepare

    prepared = prepare(p.script, trial.flags, label=p.label, tags=p.tags, comment=p.comment,
                       force_flags=p.force_flags, stage=True, values=trial.values, extra_attrs=p.run_attrs)
    trial.run = prepared.run
    trial.values = prepared.values
    if batch is not None:
        batchrun.link_trial(batch, trial.run)
    if claim:
        if batchrun.claim(trial.run.dir):
            trial.status = "pending"
        else:
            trial.foreign = True  # a queue took it first; it runs there
    else:
        trial.status = "staged"


def make(p: Plan, stage: bool = False) -> tuple[Run, list[Trial]]:
    """Write the batch run and the trials known up front; returns (batch, trials made)."""
    opt_suffix = "" if p.optimizer == "grid" else p.optimizer
    attrs = {
        "label": p.space.describe(),
        "tags": p.tags or None,
        "random_seed": p.seed,
        "max_trials": p.max_trials,
        "objective": p.objective.colspec,
        "optimizer": p.optimizer,
        "run_params": _run_params(p),
        "trials": [t.flags for t in p.trials] if p.trials is not None else [],
        "trial_ids": [],
    }
    if stage:
        attrs["stage_trials"] = True
    if p.seeds:
        attrs["seeds"] = list(p.seeds)
        attrs["seed_flag"] = p.seed_flag
    if p.skipped:
        attrs["skipped_trials"] = [{"flags": t.flags, "run": t.matched} for t in p.skipped]
    batch = batchrun.create_batch(p.script.name, opt_suffix, attrs)
    made: list[Trial] = []
    try:
        for t in p.trials or []:
            stage_trial(p, batch, t, claim=not stage)
            made.append(t)
    except BaseException:
        for t in made:
            batchrun.discard(t.run.dir)
        batchrun.finish_batch(batch, 1)
        raise
    batchrun.set_attrs(batch, {"trial_ids": [t.run.id for t in made]})
    return batch, made


# --- driving ----------------------------------------------------------------------------------

def _executor(p: Plan, batch: Run, echo: bool):
    from . import executors

    return executors.create(p.executor_spec, batch, echo, {"client": p.dask_client, "workers": p.workers,
                                                           "no_shared_fs": p.no_shared_fs, "sync": p.sync})


def _progress(p: Plan, ex, echo: bool, log):
    from . import progress
    from .executors.inline import InProcess

    if not echo:
        cls = progress.Quiet
    elif isinstance(ex, InProcess):
        if progress.on_terminal():  # a bar, with each trial's output scrolling above it
            return progress.Bar(p.script.relpath, p.total + len(p.skipped), p.objective, log, headers=True)
        cls = progress.Lines
    else:  # several at once: a bar on a terminal, Guild's INFO lines elsewhere (a pipe, CI)
        cls = progress.Bar if progress.on_terminal() else progress.Lines
    return cls(p.script.name, p.total + len(p.skipped), p.objective, log)


def _watch_foreign(trial: Trial) -> bool:
    """True once a trial started by someone else has finished."""
    from ..store.run import status_of

    st = status_of(trial.run.dir)
    if st in ("completed", "error", "terminated"):
        trial.status = st
        trial.exit_status = trial.run.get("exit_status")
        return True
    return False


def drive(p: Plan, batch: Run, made: list[Trial], echo: bool = True) -> list[str]:
    """Run the batch's trials to the end; returns the ids of the trials that ran."""
    from .executors.inline import InProcess

    log = batchrun.BatchLog(batch)
    if p.seeds:
        _announce_seeds(p, log, echo)
    ex = None
    try:
        ex = _executor(p, batch, echo)
        show = _progress(p, ex, echo, log)
        if p.trials is not None:
            source: Any = FixedSource(made)
        else:
            lookup = _needed_lookup(p) if p.needed else None
            source = TpeSource(p.space, p.max_trials, p.objective, p.seed, _trials.int_flags(p.script, p.space),
                               lookup, on_skip=show.skipped, seeds=p.seeds, seed_flag=p.seed_flag)
    except BaseException:
        for t in made:
            batchrun.discard(t.run.dir)
        if ex is not None:
            ex.close()
        log.close()
        batchrun.finish_batch(batch, 1)
        raise
    for t in p.skipped:
        show.skipped(t)
    ran: list[Trial] = []
    foreign: list[Trial] = []
    stop_sig: int | None = None
    failed_fast = False
    crashed: str | None = None
    main = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _raise_terminated) if main else None
    try:
        try:
            while True:
                while stop_sig is None and not failed_fast and ex.free() > 0:
                    t = source.next()
                    if t is None:
                        break
                    if t.run is None:
                        stage_trial(p, batch, t)
                        _record(batch, ran + foreign + [t], source)
                    if t.foreign:
                        foreign.append(t)
                        continue
                    show.started(t)
                    ran.append(t)
                    ex.submit(t)
                    if isinstance(ex, InProcess) and t.exit_status in (-15, -16):
                        # stopped together with this process (Ctrl-C, SIGTERM): stop the batch
                        stop_sig = signal.SIGINT if t.exit_status == -16 else signal.SIGTERM
                for t in ex.wait(0.2):
                    _finished(p, t, source, show)
                    if t.status == "error" and p.fail_fast:
                        failed_fast = True
                for t in [f for f in foreign if _watch_foreign(f)]:
                    foreign.remove(t)
                    _finished(p, t, source, show)
                show.tick(ex.running())
                if failed_fast and ex.busy():
                    for t in ex.stop(signal.SIGTERM):
                        _finished(p, t, source, show)
                if stop_sig is not None or failed_fast:
                    break
                if not ex.busy() and not foreign and source.exhausted():
                    break
        except KeyboardInterrupt:
            stop_sig = signal.SIGINT
        except _Terminated:
            stop_sig = signal.SIGTERM
        except BaseException as e:
            crashed = f"{type(e).__name__}: {e}"
            try:
                for t in ex.stop(signal.SIGTERM):  # don't leave trials running behind an unexpected error
                    _finished(p, t, source, show)
            except BaseException:  # noqa: BLE001 - the first error is the one to report
                pass
            raise
        if stop_sig is not None:
            try:
                for t in ex.stop(stop_sig):
                    _finished(p, t, source, show)
            except (KeyboardInterrupt, _Terminated):
                pass
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        status = -16 if stop_sig == signal.SIGINT else -15
        for t in ran:  # trials caught between claim and start
            if t.status in ("pending", "running"):
                g = t.run.guild_path()
                if (g / "PENDING").exists() and not (g / "LOCK").exists():
                    batchrun.discard(t.run.dir)
                    t.status = "discarded"
                else:
                    batchrun.mark_stopped(t.run.dir, status)
                    t.status = "terminated"
        for t in source.remaining():
            if t.run is not None:
                batchrun.discard(t.run.dir)
        ex.close()
        exit_status, note = 0, "finished"
        if stop_sig is not None:
            exit_status, note = (-16 if stop_sig == signal.SIGINT else -15), "stopped"
        elif failed_fast:
            exit_status, note = 1, "stopped at a failed trial (--fail-fast)"
        elif crashed:
            exit_status, note = 1, f"failed ({crashed})"
        show.close(note)
        log.close()
        kept = [t for t in ran if t.status != "discarded"] + foreign
        _record(batch, kept, source)
        batchrun.finish_batch(batch, exit_status)
    if stop_sig == signal.SIGINT:
        raise KeyboardInterrupt
    if stop_sig == signal.SIGTERM:
        raise SystemExit(128 + signal.SIGTERM)
    return [t.run.id for t in kept]


def seeds_line(p: Plan) -> str:
    """What a batch with --seeds says first: the flag, the seeds and the batch seed they came from."""
    return (f"INFO: Seeds for flag '{p.seed_flag}': {', '.join(str(s) for s in p.seeds)} "
            f"(drawn from batch seed {p.seed}; --random-seed {p.seed} draws them again)")


def _announce_seeds(p: Plan, log, echo: bool) -> None:
    line = seeds_line(p)
    log.write(line)
    if echo:
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def _raise_terminated(signum, frame):
    raise _Terminated()


def _finished(p: Plan, t: Trial, source, show) -> None:
    if t.status == "discarded":
        source.discarded(t)
        return
    t.objective = p.objective.value(t.run.dir) if t.status == "completed" else None
    source.tell(t)
    show.finished(t)
    if t.status == "completed" and t.objective is None and p.objective.explicit and not p.warned_blind:
        p.warned_blind = True  # once: the search can't tell better from worse
        show.warn(_blind_warning(p, t))


def _blind_warning(p: Plan, t: Trial) -> str:
    from ..store.record import scalar_column
    from ..store.tfevents import run_scalars

    try:
        tags = sorted({scalar_column(path, tag) for path, tag, _, _ in run_scalars(t.run.dir)})
    except Exception:  # noqa: BLE001 - an unreadable event file: say so without the list
        tags = []
    verb = "maximize" if p.objective.maximize else "minimize"
    has = f"it recorded {', '.join(tags)}" if tags else "it recorded no scalars"
    return (f"WARNING: trial {t.run.id[:8]} recorded no scalar '{p.objective.tag}' to {verb} ({has}); "
            f"the search can't tell better trials from worse: check --{verb} or the script's output")


def _record(batch: Run, trials: list[Trial], source) -> None:
    attrs: dict[str, Any] = {"trials": [t.flags for t in trials], "trial_ids": [t.run.id for t in trials]}
    if getattr(source, "skipped", None):
        attrs["skipped_trials"] = [{"flags": t.flags, "run": t.matched} for t in source.skipped]
    batchrun.set_attrs(batch, attrs)


def _needed_lookup(p: Plan):
    from ..launch.runner import resolve_values

    done = _completed_runs_by_flags(p.script)

    def lookup(flags: dict):
        match = done.get(_flags_key(resolve_values(p.script, flags, p.force_flags)))
        if match is None:
            return None
        return match[0], p.objective.value(match[1])

    return lookup


# --- background -------------------------------------------------------------------------------

def start_background(batch: Run) -> int:
    """Drive a made batch in a detached ``python -m runyard.batch BATCH_DIR``; returns its PID."""
    log = open(batch.guild_path("supervisor.log"), "ab")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "runyard.batch", str(batch.dir)], cwd=os.getcwd(),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                close_fds=True)
    finally:
        log.close()
    batchrun.set_lock(batch, proc.pid)
    return proc.pid


def resume(batch_dir: str | os.PathLike) -> list[str]:
    """Drive a batch made by another process (the background half of ``wait=False``)."""
    from ..store.run import status_of

    batch = Run(Path(batch_dir))
    rp = batch.get("run_params") or {}
    cwd = rp.get("cwd")
    if cwd:
        os.chdir(cwd)
    info = resolve(rp["opspec"]) if rp.get("opspec") else inspect(rp["script_path"])
    if rp.get("interpreters"):  # --python / --rscript
        from ..lang.runtime import override

        override(info, **rp["interpreters"])
    space = _trials.space_from_attr(rp.get("space") or {})
    p = Plan(script=info, space=space, optimizer=rp.get("optimizer") or "grid",
             objective=Objective.from_colspec(rp.get("objective")), seed=int(rp.get("random_seed") or 0),
             max_trials=rp.get("max_trials"), workers=int(rp.get("workers") or 1), dask=rp.get("dask"),
             fail_fast=bool(rp.get("fail_fast")), needed=bool(rp.get("needed")), label=rp.get("label"),
             tags=list(rp.get("tags") or []), comment=rp.get("comment"), force_flags=bool(rp.get("force_flags")),
             executor=rp.get("executor"), no_shared_fs=bool(rp.get("dask_no_shared_fs")), sync=rp.get("sync"),
             seeds=[int(s) for s in rp.get("seeds") or []], seed_flag=rp.get("seed_flag"))
    made = []
    if p.optimizer != "tpe":
        flags_list = batch.get("trials") or []
        ids = batch.get("trial_ids") or []
        for flags, rid in zip(flags_list, ids):
            t = Trial(flags, run=Run(batch.dir.parent / rid))
            st = status_of(t.run.dir)
            if st == "pending":
                t.status = "pending"
                made.append(t)
        p.trials = made
    batchrun.set_lock(batch, os.getpid())
    return drive(p, batch, made, echo=False)
