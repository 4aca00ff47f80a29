"""Options shared by the CLI and the Python API, defined once.

The CLI turns these specs into click options; the API parses the same strings
when a user passes terminal syntax from Python (``ls_runs("--marked", started="last hour")``).
"""

from __future__ import annotations

from typing import Any, Iterable

from .errors import UsageError

# (option strings, keyword, kind, help). kind: "flag" (bool), "value", "multi" (repeatable)
FILTER_OPTIONS: list[tuple[tuple[str, ...], str, str, str]] = [
    (("--running", "-Sr"), "running", "flag", "Runs still running."),
    (("--completed", "-Sc"), "completed", "flag", "Runs that completed."),
    (("--error", "-Se"), "error", "flag", "Runs that exited with an error."),
    (("--terminated", "-St"), "terminated", "flag", "Runs that were stopped."),
    (("--pending", "-Sp"), "pending", "flag", "Runs waiting to start."),
    (("--staged", "-Ss"), "staged", "flag", "Staged runs."),
    (("--marked", "-Fm"), "marked", "flag", "Marked runs."),
    (("--unmarked", "-Fn"), "unmarked", "flag", "Unmarked runs."),
    (("--label", "-Fl"), "label", "multi", "Runs whose label contains TEXT ('-' for unlabeled)."),
    (("--unlabeled", "-Fu"), "unlabeled", "flag", "Runs without a label."),
    (("--tag", "-Ft"), "tag", "multi", "Runs with TAG."),
    (("--operation", "-Fo"), "operation", "multi", "Runs whose operation contains TEXT (^/$ for a regex)."),
    (("--comment", "-Fc"), "comment", "multi", "Runs with a comment containing TEXT."),
    (("--started", "-Fs"), "started", "value", "Runs started in RANGE ('last hour', 'today', 'after 2026-01-02')."),
    (("--digest", "-Fd"), "digest", "value", "Runs whose source digest starts with PREFIX."),
    (("--filter", "-F"), "filter", "value", "A filter expression, e.g. 'flag:lr < 0.01 and scalar:loss <= 0.3'."),
    (("--include-batch",), "include_batch", "flag", "Include batch runs."),
]


# The options of ``runyard run`` / ``runyard.run(...)``.
RUN_OPTIONS: list[tuple[tuple[str, ...], str, str, str]] = [
    (("--label", "-l"), "label", "value", "Run label (default: name=value for every flag)."),
    (("--tag", "-t"), "tags", "multi", "Tag the run (repeatable)."),
    (("--comment", "-c"), "comment", "value", "Comment on the run."),
    (("--force-flags", "-f"), "force_flags", "flag", "Accept unknown flags and invalid values."),
    (("--quiet", "-q"), "quiet", "flag", "Don't show the run's output."),
    (("--background", "-b"), "background", "flag", "Return at once; the run goes on in the background."),
    (("--stage",), "stage", "flag", "Make a staged run for a queue to start later."),
    (("--yes", "-y"), "yes", "flag", "Don't ask for confirmation."),
    (("--max-trials", "-m"), "max_trials", "value", "Run at most N trials."),
    (("--optimizer", "-o"), "optimizer", "value", "Search: grid, random or tpe (Bayesian)."),
    (("--minimize", "-N"), "minimize", "value", "Scalar to minimize in a search."),
    (("--maximize", "-X"), "maximize", "value", "Scalar to maximize in a search."),
    (("--random-seed",), "random_seed", "value", "Seed for trial sampling (and for drawing --seeds)."),
    (("--seeds",), "seeds", "value", "Run each setting N times, once per seed (the script's seed flag)."),
    (("--seed-flag",), "seed_flag", "value", "The flag --seeds sets (default: seed, random_seed or rng_seed)."),
    (("--workers", "-w"), "workers", "value", "Run N trials at once on this machine."),
    (("--dask",), "dask", "value", "Run trials on a dask.distributed scheduler at ADDRESS."),
    (("--fail-fast",), "fail_fast", "flag", "Stop a batch at its first failed trial."),
    (("--needed",), "needed", "flag", "Skip trials whose flags match a completed run."),
    (("--executor",), "executor", "value", "Run trials with NAME[:ARG]: inline, local:N or dask:ADDRESS."),
    (("--dask-no-shared-fs",), "dask_no_shared_fs", "flag", "Dask workers don't see the runs home: run trials in their scratch directories."),
    (("--sync",), "sync", "value", "Push the run to remote NAME while it runs and when it ends."),
    (("--sync-interval",), "sync_interval", "value", "Seconds between pushes with --sync (default 30)."),
    (("--restart",), "restart", "value", "Run RUN again in its own directory (a terminated or failed run)."),
    (("--proto",), "proto", "value", "A new run with RUN's operation, flags and source code."),
    (("--gpus",), "gpus", "value", "GPUs the run may use, e.g. 0,1 (sets CUDA_VISIBLE_DEVICES)."),
    (("--no-gpus",), "no_gpus", "flag", "Hide every GPU from the run (CUDA_VISIBLE_DEVICES='')."),
    (("--python",), "python", "value",
     "Run a Python script with this interpreter (default: the active or the project's virtualenv)."),
    (("--rscript",), "rscript", "value", "Run an R script with this Rscript (default: Rscript on PATH)."),
    (("--print-cmd",), "print_cmd", "flag", "Print the command the run would start, and exit."),
    (("--test-flags",), "test_flags", "flag", "Print the run's flag values and where they go, and exit."),
    (("--test-output-scalars",), "test_output_scalars", "value",
     "Print the scalars the run would find in FILE ('-': standard input), and exit."),
]


def parse(args: Iterable[Any], specs: list[tuple[tuple[str, ...], str, str, str]]) -> tuple[list[str], dict]:
    """Split terminal-style ``args`` into positionals and keyword options per ``specs``.

    Each element may hold several words (``"--marked --started 'last hour'"``).
    """
    import shlex

    words: list[str] = []
    for a in args:
        if isinstance(a, str) and a.startswith("-") and " " in a:
            words.extend(shlex.split(a))
        elif isinstance(a, (list, tuple)):
            words.extend(str(x) for x in a)
        else:
            words.append(a if isinstance(a, str) else str(a))
    by_opt = {opt: (kw, kind) for opts, kw, kind, _ in specs for opt in opts}
    pos: list[str] = []
    kw: dict[str, Any] = {}
    i = 0
    while i < len(words):
        w = words[i]
        name, eq, val = w.partition("=") if w.startswith("--") else (w, "", "")
        if name in by_opt:
            key, kind = by_opt[name]
            if kind == "flag":
                kw[key] = True
            else:
                if not eq:
                    i += 1
                    if i >= len(words):
                        raise UsageError(f"option {name} needs a value")
                    val = words[i]
                if kind == "multi":
                    kw.setdefault(key, []).append(val)
                else:
                    kw[key] = val
        elif w.startswith("-") and len(w) > 1 and not w[1:].replace(".", "").isdigit():
            raise UsageError(f"unknown option {w}")
        else:
            pos.append(w)
        i += 1
    return pos, kw


# What each option's value is, for help texts (``--workers N``); the rest take TEXT.
METAVARS = {"tag": "TAG", "tags": "TAG", "started": "RANGE", "digest": "PREFIX", "filter": "EXPR",
            "max_trials": "N", "workers": "N", "random_seed": "N", "optimizer": "NAME", "minimize": "SCALAR",
            "maximize": "SCALAR", "dask": "ADDRESS", "restart": "RUN", "proto": "RUN", "sync": "REMOTE",
            "sync_interval": "SECONDS", "gpus": "IDS", "test_output_scalars": "FILE", "python": "PATH",
            "rscript": "PATH", "executor": "NAME[:ARG]", "label": "TEXT", "comment": "TEXT", "seeds": "N",
            "seed_flag": "NAME"}


def click_options(specs: list[tuple[tuple[str, ...], str, str, str]], dest_prefix: str = "",
                  taken: frozenset[str] = frozenset()):
    """A decorator adding ``specs`` as click options.

    ``dest_prefix`` puts their values in a namespace of their own (``dest_prefix + keyword``);
    option strings in ``taken`` are left out (an option left with none is skipped)."""
    import click

    def deco(f):
        for opts, kw, kind, help_ in reversed(specs):
            opts = tuple(o for o in opts if o not in taken)
            if not opts:
                continue
            dest = dest_prefix + kw
            if kind == "flag":
                f = click.option(*opts, dest, is_flag=True, default=False, help=help_)(f)
            elif kind == "multi":
                f = click.option(*opts, dest, multiple=True, metavar=METAVARS.get(kw, "TEXT"), help=help_)(f)
            else:
                f = click.option(*opts, dest, metavar=METAVARS.get(kw, "TEXT"), help=help_)(f)
        return f

    return deco
