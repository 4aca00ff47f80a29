"""Batches: trials from grids, data frames, random and Bayesian search; local and Dask executors.

A batch is a run of its own (operation ``train.py+``, ``train.py+random`` or
``train.py+tpe``, hidden from listings unless ``include_batch``) that records its
trials; each trial is an ordinary run of the script. See ``docs/batches.md``.

- :func:`run_batch` — what ``runyard.run()`` / ``runyard run`` call for a batch.
- :func:`runyard.batch.queue.run_queue` — start staged runs as they appear (``runyard queue``).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["run_batch", "run_queue"]


def run_batch(script: str | os.PathLike, flags: Any, *, echo: bool = True, wait: bool = True,
              tags: list[str] | tuple = (), label: str | None = None, comment: str | None = None,
              force_flags: bool = False, max_trials: int | None = None, optimizer: str | None = None,
              minimize: str | None = None, maximize: str | None = None, random_seed: int | None = None,
              workers: int | None = None, dask: Any = None, fail_fast: bool = False, needed: bool = False,
              stage: bool = False, executor: str | None = None, dask_no_shared_fs: bool = False,
              sync: str | None = None, seeds: Any = None, seed_flag: str | None = None,
              **unknown: Any) -> list[str]:
    """Run a batch of trials of ``script``; returns the trial run ids.

    ``flags``: a dict whose values may be lists (a grid: every combination), search
    functions (``uniform[a:b]``, ``loguniform[a:b]``, as :class:`~runyard.flags.values.Function`
    or as those strings) and batch files (``"@trials.csv"`` from the command line); or a
    DataFrame / list of dicts / batch file path (one trial per row).

    ``optimizer``: ``grid`` (default for lists), ``random`` (default with functions; 20 trials
    unless ``max_trials``) or ``tpe`` (Bayesian, Optuna), optimizing ``minimize`` (default
    ``loss``) or ``maximize``. ``max_trials`` on a grid runs a random sample of it.
    ``workers``: trials at once on this machine; ``dask``: a scheduler address (or a
    ``distributed`` Client / cluster); ``executor``: ``NAME[:ARG]`` (``inline``, ``local:N``,
    ``dask:ADDRESS``; see :mod:`runyard.batch.executors`); ``dask_no_shared_fs``: Dask workers
    run trials in their scratch directories (found out when not given); ``sync``: the remote such
    trials come back through (else as task results). ``fail_fast``: stop
    at the first failed trial; ``needed``: skip trials whose flags match a completed run;
    ``seeds``: run every setting N times, once per seed (drawn from ``random_seed``), the
    seeds going to the script's seed flag (``seed_flag``, else ``#| seed-flag:``, else a flag
    named ``seed``, ``random_seed`` or ``rng_seed``; see :mod:`runyard.batch.seeds`);
    ``stage``: make staged trials for ``runyard queue`` and return; ``wait=False``: run the
    batch in a detached process and return at once (trials known up front are returned,
    pending). Bad flags or options raise :class:`~runyard.errors.UsageError` before anything
    is made. Ctrl-C stops every running trial (they read ``terminated``) and re-raises
    ``KeyboardInterrupt``.
    """
    from ..errors import UsageError
    from . import runner

    bad = [k for k, v in unknown.items() if v not in (None, False, (), [])]
    if bad:
        raise UsageError(f"unknown option '{bad[0]}' for run()")
    if stage and not wait:
        raise UsageError("--stage and --background don't go together: staged trials wait for a queue")
    if dask is not None and not wait and not isinstance(dask, str):
        from .executors.dask import dask_address

        dask = dask_address(dask)
    p = runner.plan(script, flags, label=label, tags=tags, comment=comment, force_flags=force_flags,
                    max_trials=max_trials, optimizer=optimizer, minimize=minimize, maximize=maximize,
                    random_seed=random_seed, workers=workers, dask=dask, fail_fast=fail_fast, needed=needed,
                    executor=executor, dask_no_shared_fs=dask_no_shared_fs, sync=sync, seeds=seeds,
                    seed_flag=seed_flag)
    if stage and p.optimizer == "tpe":
        raise UsageError("--stage can't be used with --optimizer tpe: each trial depends on the ones before")
    if p.dask is not None and wait:
        from .executors.dask import connect

        p.dask_client = connect(p.dask)  # fail now, before anything is made
    batch, made = runner.make(p, stage=stage)
    if p.seeds and echo and (stage or not wait):  # (a batch that runs here says it as it starts)
        import sys

        print(runner.seeds_line(p), file=sys.stderr)
    if stage:
        from ..launch import batchrun

        batchrun.finish_batch(batch, 0)
        return [t.run.id for t in made]
    if not wait:
        runner.start_background(batch)
        return [t.run.id for t in made]
    return runner.drive(p, batch, made, echo=echo)


def run_queue(*args: Any, **kwargs: Any) -> list[str]:
    """Start staged runs oldest first, one at a time; see :func:`runyard.batch.queue.run_queue`."""
    from .queue import run_queue as _run_queue

    return _run_queue(*args, **kwargs)
