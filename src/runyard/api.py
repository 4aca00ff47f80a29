"""The Python API: the seed's functions (minus the ``guild_`` prefix).

Every function that takes ``runs`` accepts the selectors of :mod:`runyard.select.runs`
plus keyword filters, and the terminal's syntax as extra strings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import home as _home
from . import options as _options
from .errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

RUN_COLUMNS = ["id", "operation", "started", "stopped", "status", "exit_status", "label", "tags", "marked",
               "comments", "dir", "project_dir", "sourcecode_digest"]


# --- selection ------------------------------------------------------------------------------

def _runs_home() -> Path:
    return _home.find_home()


def _records(runs: Any = None, args: tuple = (), filters: dict | None = None, *, deleted: bool = False,
             want_summary: bool = False, remote: str | None = None, keep_all: list | None = None) -> list[dict]:
    """Records of the selected runs, newest first (of a remote's index with ``remote``).
    ``keep_all``: a list that gets every record of the runs home (before filters and selection)."""
    from .select.runs import Filters, select

    if isinstance(runs, str) and runs.startswith("-") or (
            isinstance(runs, (list, tuple)) and any(isinstance(r, str) and r.startswith("-") for r in runs)):
        args, runs = (runs, *args), None  # terminal syntax in the first argument: ls_runs("--marked")
    pos, kw = _options.parse(args, _options.FILTER_OPTIONS + [(("--deleted", "-d"), "deleted", "flag", "")])
    kw.update(filters or {})
    deleted = bool(kw.pop("deleted", False)) or deleted
    f = Filters.from_kwargs(**kw)
    home = _runs_home()
    location = "trash" if deleted else "runs"
    if remote is not None:
        from .remotes import config, sync

        records = sync.remote_records(config.get(remote))
        want_summary = False
    else:
        from . import index

        with _gc_paused():
            records = index.sync(home, location)
        if keep_all is not None and not deleted:
            keep_all.append(records)
    pred = f.predicate()
    if pred is not None:
        records = [r for r in records if pred(r)]
    if pos:
        runs = pos if runs is None else [runs, *pos] if not isinstance(runs, list) else runs + pos
    records = select(records, runs)
    if want_summary:
        from . import index

        sums = index.summaries(home, location, [r["id"] for r in records])
        records = [{**r, "summary": sums.get(r["id"], [])} for r in records]
    return records


def _one_run(selector: str, what: str):
    """The one run ``selector`` names (a :class:`runyard.store.run.Run`), for ``what`` (an option
    that takes one run); a one-line UsageError otherwise."""
    from .store.run import Run

    records = _records([selector], (), {})
    if len(records) != 1:
        raise UsageError(f"{what} needs exactly one run ({len(records)} match '{selector}')")
    return Run(records[0]["dir"])


def ls_records(runs: Any = None, *args: Any, deleted: bool = False, summary: bool = False,
               remote: str | None = None, **filters: Any) -> list[dict]:
    """The selected runs as plain dicts, newest first, with no pandas (what the CLI lists):
    the ``ls_runs`` fields, ``flags`` and ``scalars`` as dicts; ``summary=True`` adds each
    run's scalar summaries. ``deleted=True`` selects from the trash, ``remote`` from the index
    of that remote."""
    return _records(runs, args, filters, deleted=deleted, want_summary=summary, remote=remote)


def resolve_run_ids(runs: Any = None, *args: Any, **filters: Any) -> list[str]:
    """Full ids of the selected runs, newest first."""
    return [r["id"] for r in _records(runs, args, filters)]


# --- listing --------------------------------------------------------------------------------

_last_frame: tuple[list[dict], Any] | None = None  # (records, DataFrame) of the last listing


def _frame(records: list[dict], keep: bool = False, copy: bool = True) -> "pd.DataFrame":
    """Records -> the ``ls_runs`` DataFrame. Records are immutable (a changed run gets a new
    record), so the very same record objects in the same order give the same frame: that is
    cached. (The cache holds the records, so their identities can't be reused meanwhile.)
    ``keep``: the default listing, whose frame the index keeps for the next process. ``copy=False``:
    the cached frame itself, for callers that only read it."""
    global _last_frame
    import operator

    if _last_frame is not None and len(_last_frame[0]) == len(records) and all(
            map(operator.is_, _last_frame[0], records)):
        return _last_frame[1].copy() if copy else _last_frame[1]
    from . import index

    with _gc_paused():
        blob = index.snapshot_frame(records)  # (a new process, nothing changed: as last stored)
        df = None if blob is None else _frame_from_columns(blob)
        if df is None:
            df = _build_frame(records)
            if keep:
                index.store_snapshot_frame(records, lambda: _frame_columns(df))
    _last_frame = (list(records), df)
    return df.copy() if copy else df


def _frame_columns(df: "pd.DataFrame") -> bytes | None:
    """The ``ls_runs`` frame as JSON columns that :func:`_frame_from_columns` turns back into the
    very same frame (checked here), or None if it can't."""
    import orjson
    import pandas as pd

    cols = []
    for name in df.columns:
        s = df[name]
        kind = s.dtype.kind
        if kind == "M":
            ns = s.to_numpy(dtype="datetime64[us]").astype("int64").tolist()
            cols.append((name, "datetime", [None if na else v for v, na in zip(ns, s.isna().tolist())]))
        elif kind == "f":
            cols.append((name, "float", [None if v != v else v for v in s.tolist()]))
        elif str(s.dtype) == "Int64":
            cols.append((name, "Int64", [None if v is None or v is pd.NA else int(v)
                                        for v in s.astype(object).tolist()]))
        else:
            cols.append((name, "list", s.tolist()))
    try:
        blob = orjson.dumps(cols)
    except TypeError:
        return None
    back = _frame_from_columns(blob)
    if back is None or list(back.columns) != list(df.columns) or not back.dtypes.equals(df.dtypes) or \
            not back.equals(df):
        return None
    return blob


def _frame_from_columns(blob: bytes) -> "pd.DataFrame | None":
    """The frame :func:`_frame_columns` encoded (None if the blob is unreadable)."""
    import orjson
    import pandas as pd

    try:
        cols = orjson.loads(blob)
        data: dict[str, Any] = {}
        for name, kind, values in cols:
            if kind == "datetime":
                data[name] = pd.to_datetime(pd.Series(values, dtype="float64"), unit="us")
            elif kind == "float":
                data[name] = pd.Series(values, dtype="float64")
            elif kind == "Int64":
                data[name] = pd.array(values, dtype="Int64")
            else:
                data[name] = values
        return pd.DataFrame(data)
    except (ValueError, TypeError, KeyError, OverflowError):  # (a damaged blob is no frame)
        return None


class _gc_paused:
    """Pause the cyclic garbage collector while building many small objects at once (it would
    otherwise rescan every cached record, again and again)."""

    def __enter__(self) -> None:
        import gc

        self._was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: Any) -> None:
        import gc

        if self._was:
            gc.enable()


_PLAIN_FIELDS = ("id", "operation", "started", "stopped", "status", "exit_status", "label", "tags", "marked",
                 "comments", "dir", "project_dir", "sourcecode_digest")


def _build_frame(records: list[dict]) -> "pd.DataFrame":
    """Records -> the ``ls_runs`` DataFrame (column by column: this is the hot path)."""
    import pandas as pd

    flag_names: dict[str, None] = {}
    scalar_names: dict[str, None] = {}
    flags = [r.get("flags") or {} for r in records]
    scalars = [r.get("scalars") or {} for r in records]
    for f in flags:
        flag_names.update(dict.fromkeys(f))
    for sc in scalars:
        scalar_names.update(dict.fromkeys(sc))
    nan = float("nan")
    import numpy as np

    # The plain fields in one pass of pandas' own reader of dicts (missing keys become NaN), as
    # objects; then each column gets its type.
    base = pd.DataFrame(records, columns=list(_PLAIN_FIELDS), dtype=object)

    def col(name: str) -> list:
        return base[name].to_numpy().tolist()

    missing = np.nan  # what pandas puts for a missing key (this very object)

    def no_nan(values: list) -> list:
        return [None if v is missing else v for v in values]

    data: dict[str, Any] = {
        "id": col("id"),
        "operation": no_nan(col("operation")),
        "started": pd.to_datetime(pd.Series(no_nan(col("started")), dtype="float64"), unit="us"),
        "stopped": pd.to_datetime(pd.Series(no_nan(col("stopped")), dtype="float64"), unit="us"),
        "status": no_nan(col("status")),
        "exit_status": pd.array(no_nan(col("exit_status")), dtype="Int64"),
        "label": [v if v is not missing and v else "" for v in col("label")],
        "tags": [list(v) if v is not missing and v else [] for v in col("tags")],
        "marked": [v is not missing and bool(v) for v in col("marked")],
        "comments": [list(v) if v is not missing and v else [] for v in col("comments")],
        "dir": no_nan(col("dir")),
        "project_dir": no_nan(col("project_dir")),
        "sourcecode_digest": no_nan(col("sourcecode_digest")),
    }
    for k in sorted(flag_names):
        data[f"flags.{k}"] = _column([f.get(k) for f in flags])
    for k in sorted(scalar_names):
        data[f"scalars.{k}"] = pd.Series([sc.get(k, nan) for sc in scalars], dtype="float64")
    df = pd.DataFrame(data)
    errors = [r.get("error") for r in records]
    if any(errors):
        df["error"] = errors
    return df


def _column(values: list) -> Any:
    """A flag column: integers (pandas' nullable ``Int64`` when some runs lack the flag),
    floats when any value is a float, else objects."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values if v is not None):
        if all(isinstance(v, int) for v in values if v is not None):
            if None not in values:
                return values
            import pandas as pd

            if any(v is not None for v in values):
                try:
                    return pd.array(values, dtype="Int64")
                except (OverflowError, TypeError, ValueError):  # beyond 64 bits
                    return values
        return [float("nan") if v is None else v for v in values]
    return values


def ls_runs(runs: Any = None, *args: Any, remote: str | None = None, **filters: Any) -> "pd.DataFrame":
    """A DataFrame of runs, newest first: one row per run, ``flags.*`` and ``scalars.*`` columns.

    ``runs``: None (all), ``1`` (latest), ``"1:3"``, ids or prefixes, a list, or a DataFrame
    with an ``id``/``run`` column. Filters: ``running, completed, error, terminated, pending,
    staged, marked, unmarked, label, tag, operation, started, digest, filter, deleted,
    include_batch``. Terminal syntax works too: ``ls_runs("--marked", started="last hour")``.
    ``remote``: list a remote's runs (from the index that push keeps there) without pulling them.
    """
    default = runs is None and not args and not filters and remote is None
    if default and _last_frame is None:  # (a new process: the kept frame, if nothing changed since)
        from . import index

        blob = index.kept_frame(_runs_home())
        if blob is not None:
            with _gc_paused():
                df = _frame_from_columns(blob)
            if df is not None:
                return df
    return _frame(_records(runs, args, filters, remote=remote), keep=default)


def ls_scalars(runs: Any = None, *args: Any, summary: bool = False, **filters: Any) -> "pd.DataFrame":
    """Scalars of the selected runs: long (``run, path, tag, value, step``) or, with
    ``summary=True``, one row per run and tag with first/last/min/max/avg/total/count."""
    import pandas as pd

    records = _records(runs, args, filters, want_summary=summary)
    if summary:
        rows = []
        for r in records:
            for s in r.get("summary") or []:
                rows.append([r["id"], *s])
        cols = ["run", "path", "tag", "first_val", "first_step", "last_val", "last_step", "min_val", "min_step",
                "max_val", "max_step", "avg_val", "total", "count"]
        frame = pd.DataFrame(rows, columns=cols)
        if not rows:  # the same dtypes as with rows: text columns stay text
            frame = frame.astype({c: "object" if c in ("run", "path", "tag") else
                                  "int64" if c.endswith("_step") or c == "count" else "float64" for c in cols})
        return frame
    from .store.tfevents import run_scalars

    run_col, path_col, tag_col, val_col, step_col = [], [], [], [], []
    for r in records:
        for path, tag, value, step in run_scalars(r["dir"]):
            run_col.append(r["id"])
            path_col.append(path)
            tag_col.append(tag)
            val_col.append(value)
            step_col.append(step)
    return pd.DataFrame({"run": pd.Series(run_col, dtype="object"), "path": pd.Series(path_col, dtype="object"),
                         "tag": pd.Series(tag_col, dtype="object"),
                         "value": pd.Series(val_col, dtype="float64"), "step": pd.Series(step_col, dtype="int64")})


# --- groups and statistics ----------------------------------------------------------------------

_STATUS_FILTERS = ("running", "completed", "error", "terminated", "pending", "staged")


def _statistics_selection(runs: Any, args: tuple, filters: dict) -> tuple[Any, tuple, dict, bool]:
    """(runs, args, filters, only_completed): the terminal syntax parsed, and whether to keep only
    the completed runs of the selection — unless it names a status, statistics leave out runs that
    failed or still run (their values are no results)."""
    if isinstance(runs, str) and runs.startswith("-") or (
            isinstance(runs, (list, tuple)) and any(isinstance(r, str) and r.startswith("-") for r in runs)):
        args, runs = (runs, *args), None
    if _is_groups(runs):
        runs = _group_ids(runs)
    pos, kw = _options.parse(args, _options.FILTER_OPTIONS)
    kw.update(filters)
    return runs, tuple(pos), kw, not any(kw.get(k) for k in _STATUS_FILTERS)


def _is_groups(selection: Any) -> bool:
    """True for rows of ``runs_summary()`` (a ``runs`` column of id lists, no ``id`` column)."""
    cols = getattr(selection, "columns", ())
    return "runs" in cols and "id" not in cols and "run" not in cols


def _group_ids(groups: Any) -> list[str]:
    return [i for ids in groups["runs"] for i in ids]


def _completed(records: list[dict], only: bool) -> list[dict]:
    return [r for r in records if r.get("status") == "completed"] if only else records


def _selected_frame(records: list[dict], everything: list) -> "pd.DataFrame":
    """The ``ls_runs`` frame of ``records``: rows of the whole home's frame (kept between calls),
    so a summary costs no new frame however it selects."""
    if not everything or len(records) == len(everything[0]):
        return _frame(records, copy=False)
    full = _frame(everything[0], keep=True, copy=False)  # (read only: the rows taken are a new frame)
    ids = [r["id"] for r in records]
    df = full[full["id"].isin(ids)]
    if len(df) != len(ids):  # (ids twice in a selection: as selected)
        return _frame(records)
    return df.reset_index(drop=True)


def runs_summary(runs: Any = None, *args: Any, by: Any = None, scalars: Any = None, ci: float = 0.95,
                 **filters: Any) -> "pd.DataFrame":
    """One row per group of runs: the runs of one operation whose flags are equal except their
    seed flag (or, with ``by=["units"]``, whose listed flags are equal).

    Columns: ``operation``, the group's ``flags.*``, ``n``, ``runs`` (their ids), then for each
    scalar (``scalars``: which; default all) ``scalars.NAME.mean``, ``.std``, ``.ci_low``,
    ``.ci_high`` (a Student-t interval at level ``ci``; NaN for a group of one), ``.min``,
    ``.max``, ``.n`` (the runs with a value) — a run's value being its last, as in ``ls_runs``.
    ``runs`` and filters select as in ``ls_runs`` (rows of ``runs_summary()`` select their runs);
    only completed runs count unless a status filter says otherwise.
    """
    from . import stats

    runs, args, filters, only = _statistics_selection(runs, args, filters)
    everything: list = []
    with _gc_paused():  # (many objects made at once: no collector passes over the cached records)
        selected = _records(runs, args, filters, keep_all=everything)
        if only and runs is None and not args and not filters and everything \
                and len(selected) == len(everything[0]):  # all runs, the completed ones: by the status column
            full = _frame(everything[0], keep=True, copy=False)
            df = full[full["status"].to_numpy() == "completed"].reset_index(drop=True)
            records = [r for r in selected if r.get("status") == "completed"]
        else:
            records = _completed(selected, only)
            df = _selected_frame(records, everything)
        recorded = {r["id"]: r["seed_flag"] for r in records if "seed_flag" in r and isinstance(r["seed_flag"], str)}
        seeds = stats.seed_flags(df, recorded) if len(df) else None
        return stats.summarize(df if len(df) else _empty_frame(), seeds, by=by, scalars=scalars, ci=ci)


def _empty_frame() -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame({c: [] for c in RUN_COLUMNS})


def _side(selection: Any, args: tuple, filters: dict, only: bool) -> tuple[list[dict], str]:
    """The records one side of ``runs_versus`` selects, and a text naming it."""
    records, text = _side_records(selection, args, filters)
    return _completed(records, only), text


def _side_records(selection: Any, args: tuple, filters: dict) -> tuple[list[dict], str]:
    import re

    if _is_groups(selection):  # rows of runs_summary()
        return _records(_group_ids(selection), args, filters), f"{len(selection)} group{'s' * (len(selection) != 1)}"
    if isinstance(selection, str) and re.fullmatch(r"[0-9a-fA-F:]+(,[0-9a-fA-F:]+)+", selection.strip()):
        return _records(selection.strip().split(","), args, filters), selection  # ids: 3c87,5abb
    if isinstance(selection, str) and not selection.startswith("-") and not re.fullmatch(
            r"\d*:?\d*|[0-9a-fA-F]{1,32}", selection.strip()):
        own = filters.get("filter")  # a filter expression: flag:units=64
        expr = selection if not own else f"({own}) and ({selection})"
        return _records(None, args, {**filters, "filter": expr}), selection
    label = selection if isinstance(selection, str) else "selection"
    return _records(selection, args, filters), label


def runs_versus(a: Any, b: Any, scalar: str, *args: Any, ci: float = 0.95, **filters: Any) -> "pd.DataFrame":
    """Is ``b`` really different from ``a``? Compares a scalar (its last value per run) between
    two selections of runs — each a selector (ids, ``"1:5"``, a DataFrame of ``ls_runs`` or
    ``runs_summary`` rows) or a filter expression (``"flag:units=128"``).

    Returns one row: ``scalar``, ``a``, ``b`` (what each side is: its differing flags), ``n_a,
    mean_a, std_a, n_b, mean_b, std_b``, ``diff`` (``mean_b - mean_a``) with its Welch
    confidence interval ``ci_low, ci_high`` at level ``ci``, ``p_welch`` (Welch's t-test),
    ``p_mannwhitney`` (Mann-Whitney U, two-sided), ``hedges_g``, ``ci``, and ``runs_a``,
    ``runs_b`` (ids). Filters apply to both sides; only completed runs count unless a status
    filter says otherwise. Computed with scipy.stats.
    """
    import pandas as pd

    from . import stats

    if not scalar:
        raise UsageError("runs_versus needs the scalar to compare")
    name = stats.scalar_name(str(scalar))
    level = stats.check_ci(ci)
    _, args, filters, only = _statistics_selection(None, args, filters)
    (ra, text_a), (rb, text_b) = _side(a, args, filters, only), _side(b, args, filters, only)
    for recs, text in ((ra, text_a), (rb, text_b)):
        if not recs:
            from .errors import SelectError

            raise SelectError(f"no completed runs match {text!r}" if only else f"no runs match {text!r}")
    va = [(r.get("scalars") or {}).get(name) for r in ra]
    vb = [(r.get("scalars") or {}).get(name) for r in rb]
    if all(v is None for v in va + vb):
        raise UsageError(f"none of the selected runs has a scalar '{name}'")
    label_a, label_b = stats.side_labels([r.get("flags") or {} for r in ra], [r.get("flags") or {} for r in rb],
                                         text_a, text_b)
    result = stats.versus([float(v) for v in va if isinstance(v, (int, float))],
                          [float(v) for v in vb if isinstance(v, (int, float))], level)
    row = {"scalar": name, "a": label_a, "b": label_b, **result, "ci": level,
           "runs_a": [r["id"] for r in ra], "runs_b": [r["id"] for r in rb]}
    return pd.DataFrame([row], columns=[*stats.VERSUS_COLUMNS, "runs_a", "runs_b"])


# --- running --------------------------------------------------------------------------------

RUN_OPTIONS = _options.RUN_OPTIONS


def _is_batch(flags: Any) -> bool:
    from .flags.values import is_batch

    return is_batch(flags)


def run(script: str | os.PathLike, flags: Any = None, *args: Any, echo: bool = True, wait: bool = True,
        check: bool = False, **options: Any) -> "pd.DataFrame":
    """Run ``script`` in a new run directory and return the runs it made (``ls_runs`` rows).

    ``flags``: a dict of values (lists expand to a grid), a DataFrame or list of dicts (one run
    per row). Terminal syntax works in ``args``: ``run("train.py", None, "units=[64,128]", "--label", "x")``.
    Options: ``label, tags, comment, force_flags, stage, gpus, no_gpus, restart, proto``,
    ``python`` / ``rscript`` (the interpreter; default: the user's, see :mod:`runyard.lang.runtime`), and for
    batches ``max_trials, optimizer, minimize, maximize, random_seed, workers, dask, fail_fast, needed``,
    and ``seeds`` (``seeds=5``: each setting runs 5 times, once per seed; ``seed_flag`` names the flag).
    ``script`` may also name a guild.yml operation (``"train"``, ``"model:train"``).
    ``check=True`` raises :class:`~runyard.errors.RunFailed` when a run ended in error or was
    terminated (by default the returned rows' ``status`` says so).
    """
    if check and not wait:
        raise UsageError("check=True needs wait=True: a run in the background has not ended yet")
    ids = run_ids(script, flags, *args, echo=echo, wait=wait, **options)
    if check and ids:
        _check_runs(ids)
    return ls_runs(ids) if ids else _frame([])


def _check_runs(ids: list[str]) -> None:
    """Raise RunFailed for the first of ``ids`` that ended in error or was terminated."""
    from .errors import RunFailed
    from .store.output import read_lines
    from .store.run import Run, status_of

    runs = _home.runs_dir(_runs_home())
    for rid in ids:
        status = status_of(runs / rid)
        if status in ("error", "terminated"):
            run = Run(runs / rid, rid)
            tail = [text for _, _, text in read_lines(run.dir)][-10:]
            try:
                exit_status = run.get("exit_status")
            except Exception:  # noqa: BLE001 - an unreadable attribute: still report the failure
                exit_status = None
            raise RunFailed(rid, status, exit_status, tail, operation=_operation(run))


def _operation(run: Any) -> str:
    try:
        return str((run.get("op") or {}).get("script") or "")
    except Exception:  # noqa: BLE001
        return ""


def run_ids(script: str | os.PathLike, flags: Any = None, *args: Any, echo: bool = True, wait: bool = True,
            **options: Any) -> list[str]:
    """Like :func:`run` (without ``check``), returning the new runs' ids: no pandas."""
    from .flags.values import parse_assign
    from .launch import runner as launch

    pos, kw = _options.parse(args, RUN_OPTIONS)
    for k, v in kw.items():
        options.setdefault(k, v)
    cli_flags = dict(parse_assign(p) for p in pos)
    if cli_flags:
        if flags is None:
            flags = cli_flags
        elif isinstance(flags, dict):
            flags = {**flags, **cli_flags}
        else:
            raise UsageError("pass flags either as a table or as NAME=VALUE arguments, not both")
    if options.pop("quiet", False):
        echo = False
    if options.pop("background", False):
        wait = False
    options.pop("yes", None)
    sync_to = options.pop("sync", None)
    sync_every = options.pop("sync_interval", None)
    if sync_to:
        return _run_synced(script, flags, sync_to, sync_every, echo=echo, wait=wait, **options)
    batch_sync = options.pop("_sync", None)  # set by _run_synced: Dask trials without a shared disk use it
    gpus = options.pop("gpus", None)
    if options.pop("no_gpus", False):
        gpus = ""
    proto_dir = None
    restart, proto = options.pop("restart", None), options.pop("proto", None)
    if restart or proto:
        from .launch import rerun

        if restart and proto:
            raise UsageError("use --restart or --proto, not both")
        if flags is not None and not isinstance(flags, dict):
            raise UsageError("--restart and --proto take NAME=VALUE flags, not a table")
        if restart:
            return [rerun.restart(_one_run(str(restart), "--restart"), flags, echo=echo, gpus=gpus, wait=wait)]
        script, proto_flags, proto_dir = rerun.proto_source(_one_run(str(proto), "--proto"))
        flags = {**proto_flags, **(flags or {})}
    interpreters = {k: options.pop(k, None) for k in ("python", "rscript")}
    if any(interpreters.values()):
        from .guildfile import resolve
        from .lang import Script
        from .lang.runtime import override

        script = override(script if isinstance(script, Script) else resolve(script), **interpreters)
    if isinstance(flags, dict) and any(isinstance(v, (list, tuple)) for v in flags.values()):
        from .flags import list_values
        from .guildfile import resolve
        from .lang import Script

        script = script if isinstance(script, Script) else resolve(script)
        flags = list_values(script.flags, flags)  # a list flag's [128,64] is one value, not a grid
    tags = options.pop("tags", None) or options.pop("tag", None) or ()
    if isinstance(tags, str):
        tags = [tags]
    if _is_batch(flags) or any(options.get(k) for k in ("optimizer", "max_trials", "workers", "dask", "executor")) \
            or options.get("seeds") is not None:  # (--seeds 0 is refused there)
        from .batch import run_batch

        return list(run_batch(script, flags, echo=echo, wait=wait, tags=list(tags), sync=batch_sync, **options))
    stage = bool(options.pop("stage", False))
    if options.get("seed_flag"):
        raise UsageError("--seed-flag goes with --seeds N")
    unknown = [k for k, v in options.items()
               if k not in ("label", "comment", "force_flags") and v not in (None, False)]
    if unknown:
        raise UsageError(f"unknown option '{unknown[0]}' for run()")
    prepared = launch.prepare(
        script, flags if isinstance(flags, dict) else None,
        label=options.pop("label", None), tags=list(tags), comment=options.pop("comment", None),
        force_flags=bool(options.pop("force_flags", False)), stage=stage, gpus=gpus, proto_dir=proto_dir,
    )
    if not stage:
        if wait:
            launch.start(prepared, echo=echo)
        else:
            launch.start_background(prepared)
    return [prepared.run.id]


def _run_synced(script: Any, flags: Any, remote: str, interval: Any, echo: bool, wait: bool,
                **options: Any) -> list[str]:
    """``run(..., sync=REMOTE)``: push the new runs while they run and when they end."""
    import time as _time

    from .home import runs_dir
    from .remotes import config, sync

    if not wait or options.get("stage"):
        raise UsageError("--sync needs a run in the foreground (use nohup or a terminal multiplexer on a "
                         "remote machine), not --background or --stage")
    try:
        every = float(interval) if interval is not None else 30.0
    except (TypeError, ValueError):
        raise UsageError(f"--sync-interval needs a number of seconds, not {interval!r}") from None
    if every <= 0:
        raise UsageError("--sync-interval needs a positive number of seconds")
    r = config.get(remote)
    since = int(_time.time() * 1_000_000) - 1

    def mine() -> list[dict]:
        return [x for x in _records(None, (), {"include_batch": True}) if (x.get("started") or 0) >= since]

    with sync.LiveSync(r, mine, runs_dir(_runs_home()), every):
        return run_ids(script, flags, echo=echo, wait=wait, _sync=remote, **options)


# --- managing -------------------------------------------------------------------------------

def _each(runs: Any, args: tuple, filters: dict, deleted: bool = False):
    """(Run, record) for each selected run; a selector that matches nothing is an error."""
    from .errors import SelectError
    from .store.run import Run

    records = _records(runs, args, filters, deleted=deleted)
    if not records and (runs is not None or args):
        raise SelectError("no runs match the selection")
    return [(Run(r["dir"]), r) for r in records]


def _touch(run) -> None:
    from . import index

    index.touch(run)


def _update(run, name: str, change: Callable[[Any], Any]) -> Any:
    """Set annotation attribute ``name`` to ``change(value in its file now)``, holding the run's
    lock, and refresh the index. Reading the file (not the cached record, which can be seconds
    old) under the lock means no concurrent change, by runyard or Guild AI, is lost. An empty
    result removes the attribute."""
    from .store.lock import read_fresh, run_lock

    with run_lock(run.dir):
        value = change(read_fresh(run.attrs_dir / name))
        if value:
            run.set(name, value)
        else:
            run.delete_attr(name)
        _touch(run)
    return value


def _user_host() -> tuple[str, str]:
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001
        user = ""
    return user, socket.gethostname()


def _as_list(value: Any) -> list:
    """An attribute that should hold a list, as a list (Guild AI may have written one value)."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def runs_tag(runs: Any = None, add: Any = None, *args: Any, remove: Any = None, clear: bool = False,
             **filters: Any) -> Any:
    """Add and/or remove tags (``clear`` removes all first). Returns ``runs``."""
    add_l = [add] if isinstance(add, str) else list(add or [])
    rm_l = [remove] if isinstance(remove, str) else list(remove or [])
    if not (add_l or rm_l or clear):
        raise UsageError("runs_tag needs tags to add or remove, or clear=True")

    def change(tags: Any) -> list:
        tags = [] if clear else [t for t in _as_list(tags) if t not in rm_l]
        return tags + [t for t in dict.fromkeys(add_l) if t not in tags]

    for run, _ in _each(runs, args, filters):
        _update(run, "tags", change)
    return runs


def runs_mark(runs: Any = None, *args: Any, clear: bool = False, **filters: Any) -> Any:
    """Mark runs (``clear=True`` unmarks them). Returns ``runs``."""
    for run, _ in _each(runs, args, filters):
        _update(run, "marked", lambda _: not clear)
    return runs


def runs_label(runs: Any = None, label: str | None = None, *args: Any, prepend: str | None = None,
               append: str | None = None, remove: Any = None, clear: bool = False, **filters: Any) -> Any:
    """Set, prepend to, append to, remove words from, or clear run labels. Returns ``runs``."""
    if label is None and prepend is None and append is None and remove is None and not clear:
        raise UsageError("runs_label needs a label (or prepend/append/remove, or clear=True)")
    rm_l = [remove] if isinstance(remove, str) else list(remove or [])

    def change(cur: Any) -> str:
        cur = "" if clear or cur is None else str(cur)
        if label is not None:
            cur = label
        if prepend:
            cur = f"{prepend} {cur}".strip()
        if append:
            cur = f"{cur} {append}".strip()
        if rm_l:
            cur = " ".join(w for w in cur.split() if w not in rm_l)
        return cur

    for run, _ in _each(runs, args, filters):
        _update(run, "label", change)
    return runs


def runs_comment(runs: Any = None, comment: str | None = None, *args: Any, delete: int | None = None,
                 clear: bool = False, **filters: Any) -> Any:
    """Add a comment, delete comment number ``delete`` (1 = first), or clear them. Returns ``runs``."""
    from .store.run import timestamp

    if comment is None and delete is None and not clear:
        raise UsageError("runs_comment needs a comment (or delete=N, or clear=True)")
    user, host = _user_host()
    for run, _ in _each(runs, args, filters):

        def change(comments: Any) -> list:
            comments = [] if clear else _as_list(comments)
            if delete is not None:
                if not 1 <= int(delete) <= len(comments):
                    raise UsageError(f"run {run.short_id} has no comment {delete} (it has {len(comments)})")
                comments.pop(int(delete) - 1)
            if comment:
                comments.append({"body": comment, "host": host, "time": timestamp(), "user": user})
            return comments

        _update(run, "comments", change)
    return runs


def stop_runs(runs: Any = None, *args: Any, wait: float = 30.0, **filters: Any) -> list[str]:
    """Stop running runs (SIGTERM to the supervisor and the run's processes); returns their ids."""
    import time

    from .launch.runner import _terminate_tree
    from .store.run import lock_pid

    stopped = []
    filters = {"include_batch": True, **filters, "running": True}  # a batch can be stopped by its id
    targets = [(run, rec) for run, rec in _each(runs, args, filters)]
    for run, _ in targets:
        pid = lock_pid(run.dir)
        if pid:
            _terminate_tree(pid)
            stopped.append(run)
    end = time.time() + wait
    for run in stopped:
        while time.time() < end and lock_pid(run.dir):
            time.sleep(0.05)
        if lock_pid(run.dir):
            _terminate_tree(lock_pid(run.dir) or 0, kill=True)
        if run.get("exit_status") is None:  # the supervisor died before finalizing
            from .store.run import timestamp

            run.set("exit_status", -15)
            run.set("stopped", timestamp())
        _touch(run)
    return [r.id for r in stopped]


def runs_delete(runs: Any = None, *args: Any, permanent: bool = False, **filters: Any) -> Any:
    """Move runs to the trash (``permanent=True`` removes them for good). Running runs are stopped first."""
    from .store import trash

    home = _runs_home()
    sel = _each(runs, args, filters)
    running = [r["id"] for _, r in sel if r.get("status") == "running"]
    if running:
        stop_runs(running)
    for run, _ in sel:
        trash.delete(home, run.id, permanent=permanent)
    return runs


def runs_purge(runs: Any = None, *args: Any, **filters: Any) -> Any:
    """Remove deleted runs (in the trash) for good."""
    from .store import trash

    home = _runs_home()
    for run, _ in _each(runs, args, filters, deleted=True):
        trash.purge(home, run.id)
    return runs


def runs_restore(runs: Any = None, *args: Any, **filters: Any) -> Any:
    """Bring deleted runs back from the trash."""
    from .store import trash

    home = _runs_home()
    for run, _ in _each(runs, args, filters, deleted=True):
        trash.restore(home, run.id)
    return runs


def runs_export(runs: Any = None, location: str | os.PathLike | None = None, *args: Any, move: bool = False,
                links: str = "keep", **filters: Any) -> Any:
    """Copy (or ``move``) runs to a directory or a ``.zip`` archive. Returns ``runs``.
    ``links="keep"`` keeps pipeline/batch/dependency links as links; ``"copy"`` stores their files."""
    from .store.archive import export_runs

    if location is None:
        raise UsageError("runs_export needs a location (a directory or a .zip file)")
    sel = _each(runs, args, filters)
    if links == "keep":
        _note_links_left_behind([run.dir for run, _ in sel])
    export_runs([run.dir for run, _ in sel], Path(location).expanduser().absolute(), move=move, links=links)
    return runs


def _note_links_left_behind(run_dirs: list[Path]) -> None:
    """One line on stderr per exported run linking runs left out of the export (a pipeline's
    steps, a batch's trials): its links to them would point at nothing."""
    import sys

    from .store.links import linked_runs
    from .terminal import safe

    chosen = {Path(d).name for d in run_dirs}
    for d in run_dirs:
        left = [link for link in linked_runs(d) if link["id"] not in chosen and link["status"] != "missing"]
        if left:
            names = ", ".join(f"{safe(link['name'])} ({link['id'][:8]})" for link in left)
            sys.stderr.write(f"runyard: {Path(d).name[:8]} links runs not in this export: {names}; export them "
                             "too, or store their files with --copy-links (links='copy' in Python)\n")


def runs_import(location: str | os.PathLike, runs: Any = None, *args: Any, move: bool = False,
                force: bool = False, **filters: Any) -> list[str]:
    """Import runs from an export directory or ``.zip``; returns the ids imported (existing ids skipped).

    The archive is checked before anything is written (see docs/security.md); ``force=True``
    accepts entries that expand more than 1000:1 to over 10 MB (refused as a possible zip bomb)."""
    from .home import runs_dir
    from .select.runs import select
    from .store.archive import archive_run_ids, import_runs

    loc = Path(location).expanduser().absolute()
    ids = archive_run_ids(loc)
    if runs is not None or args:
        pos, _ = _options.parse(args, [])
        recs = [{"id": i} for i in ids]
        ids = [r["id"] for r in select(recs, runs if not pos else ([runs] if runs else []) + pos)]
    return import_runs(loc, runs_dir(_runs_home()), ids, move=move, force=force)


# --- remotes --------------------------------------------------------------------------------

def runs_push(remote: str, runs: Any = None, *args: Any, delete: bool = False, include_running: bool = False,
              echo: bool = True, confirm: Any = None, **filters: Any) -> Any:
    """Send runs to the remote named ``remote`` (only new or changed files). Returns ``runs``.

    ``delete``: also remove the remote's runs that this home doesn't have (refused when this
    home holds no runs; never a run the remote lists as running); ``confirm(n)``, if given, is
    asked before ``n`` runs are removed. Running runs are skipped unless ``include_running``.
    ``echo``: print what was done (and notes) on stderr.
    """
    from .home import runs_dir
    from .remotes import config, sync

    r = config.get(remote)
    records = _records(runs, args, filters)
    if not records and (runs is not None or args):
        from .errors import SelectError

        raise SelectError("no runs match the selection")
    t = sync.push(r, records, runs_dir(_runs_home()), delete=delete, include_running=include_running,
                  confirm=confirm)
    if echo:
        _echo_transfer(t, "pushed", remote)
    return runs


def runs_pull(remote: str, runs: Any = None, *args: Any, delete: bool = False, include_running: bool = False,
              echo: bool = True, confirm: Any = None, **filters: Any) -> list[str]:
    """Bring runs from the remote named ``remote`` into this home; returns the ids copied.

    ``runs`` and filters select among the remote's runs, as ``ls_runs(remote=...)`` lists them.
    ``delete``: move local runs the remote doesn't have to the trash (refused when the remote
    holds no runs or can't be read whole; never a running run); ``confirm(n)``, if given, is
    asked before ``n`` runs are moved. ``echo``: print what was done (and notes) on stderr.
    """
    from .home import runs_dir
    from .remotes import config, sync

    r = config.get(remote)
    records = _records(runs, args, filters, remote=remote)
    if not records and (runs is not None or args):
        from .errors import SelectError

        raise SelectError("no runs on the remote match the selection")
    t = sync.pull(r, [x["id"] for x in records], runs_dir(_runs_home()), delete=delete,
                  include_running=include_running, statuses={x["id"]: x.get("status") for x in records},
                  confirm=confirm)
    if echo:
        _echo_transfer(t, "pulled", remote)
    return t.sent


def _echo_transfer(t: Any, verb: str, remote: str) -> None:
    import sys

    from .terminal import safe

    for note in t.notes:  # notes quote what the remote holds: made terminal-safe
        print(f"runyard: {safe(note)}", file=sys.stderr)
    size = f"{t.bytes / 1e6:.1f} MB" if t.bytes >= 1e5 else f"{t.bytes:,} bytes"
    parts = [f"{verb} {len(t.sent)} run{'s' * (len(t.sent) != 1)} ({t.files} files, {size})"]
    if t.unchanged:
        parts.append(f"{len(t.unchanged)} unchanged")
    if t.skipped:
        parts.append(f"{len(t.skipped)} skipped")
    if t.deleted:
        parts.append(f"{len(t.deleted)} deleted")
    print(f"{', '.join(parts)} ({safe(remote)})", file=sys.stderr)
