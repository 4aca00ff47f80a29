"""Groups of runs and honest statistics between them (``runs_summary``, ``runs_versus``).

A *group* is the runs of one operation whose flags are equal except their seed flag (the flag a
run records in its ``seed_flag`` attribute, made by ``--seeds``; else the first of ``seed``,
``random_seed``, ``rng_seed`` it has), or, with ``by``, whose listed flags are equal. A run's
value of a scalar is its last one, as in ``ls_runs``.

- :func:`summarize` — one row per group: ``n``, the runs' ids and, per scalar, the mean, the
  sample standard deviation, a Student-t confidence interval of the mean (NaN bounds for a group
  of one: never a fake interval), the min and the max. Vectorised over pandas group-bys: 100,000
  runs in 10,000 groups take a fraction of a second.
- :func:`versus` — two samples of a scalar: their means, the difference ``b - a`` with its Welch
  confidence interval, Welch's t-test and the Mann-Whitney U test p-values and Hedges' g, all
  from scipy.stats.

scipy is imported here, lazily; without it a one-line error says how to install it.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Any, Sequence

from .errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

SEED_FLAG_NAMES = ("seed", "random_seed", "rng_seed")
STATS = ("mean", "std", "ci_low", "ci_high", "min", "max", "n")
VERSUS_COLUMNS = ["scalar", "a", "b", "n_a", "mean_a", "std_a", "n_b", "mean_b", "std_b", "diff", "ci_low",
                  "ci_high", "p_welch", "p_mannwhitney", "hedges_g", "ci"]


def _scipy_stats() -> Any:
    try:
        from scipy import stats
    except ImportError:
        raise UsageError("statistics between runs need scipy: pip install 'runyard[stats]'") from None
    return stats


def check_ci(ci: Any) -> float:
    """The confidence level as a float in (0, 1); one-line UsageError otherwise."""
    try:
        level = float(ci)
    except (TypeError, ValueError):
        raise UsageError(f"--ci needs a confidence level such as 0.95, not {ci!r}") from None
    if not 0 < level < 1:
        raise UsageError(f"--ci must be between 0 and 1 (0.95 for 95%), not {ci}")
    return level


def seed_flags(df: "pd.DataFrame", recorded: dict[str, str] | None = None) -> "np.ndarray":
    """Each row's seed flag (object array, None when it has none): the run's recorded
    ``seed_flag`` (``recorded``: id -> name) when it has that flag, else the first of
    :data:`SEED_FLAG_NAMES` it has a value of."""
    import numpy as np

    out = np.full(len(df), None, dtype=object)
    for name in reversed(SEED_FLAG_NAMES):  # the first name wins
        col = f"flags.{name}"
        if col in df.columns:
            out[df[col].notna().to_numpy()] = name
    if recorded:
        ids = df["id"].tolist()
        for i, rid in enumerate(ids):
            name = recorded.get(rid)
            if name and f"flags.{name}" in df.columns:
                out[i] = name
    return out


def _hashable(col: "pd.Series") -> "pd.Series":
    """A flag column whose values can be grouped (list and dict values as their text)."""
    if col.dtype != object:
        return col
    if not any(isinstance(v, (list, dict, set)) for v in col.tolist()):
        return col
    return col.map(lambda v: repr(v) if isinstance(v, (list, dict, set)) else v)


def _codes(col: "pd.Series") -> "np.ndarray":
    import pandas as pd

    codes, _ = pd.factorize(_hashable(col), use_na_sentinel=True)
    return codes


def _group_ids(key_codes: list["np.ndarray"], n: int) -> "tuple[np.ndarray, int]":
    """One group number per row, from the rows' codes in each key column (first seen, first)."""
    import numpy as np
    import pandas as pd

    gid = np.zeros(n, dtype=np.int64)
    for codes in key_codes:
        width = int(codes.max()) + 3 if len(codes) else 3
        gid, _ = pd.factorize(gid * width + (codes.astype(np.int64) + 2))
    groups = int(gid.max()) + 1 if n else 0
    return gid.astype(np.int64), groups


def flag_name(name: str) -> str:
    for prefix in ("flags.", "flag:"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def scalar_name(name: str) -> str:
    for prefix in ("scalars.", "scalar:"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _chosen(given: Any, prefix: str, cols: list[str], normalize: Any, empty: str, unknown: str) -> list[str]:
    """The columns ``prefix + name`` for the names in ``given`` (a name, "a,b", or a list of
    them), each normalized and present in ``cols``; one line naming the first that isn't."""
    given = [given] if isinstance(given, str) else list(given)
    names = [normalize(x.strip()) for part in given for x in str(part).split(",") if x.strip()]
    if not names:
        raise UsageError(empty)
    missing = [x for x in names if prefix + x not in cols]
    if missing:
        raise UsageError(unknown.format(missing[0], ", ".join(c[len(prefix):] for c in cols) or "none"))
    return [prefix + x for x in dict.fromkeys(names)]


def summarize(df: "pd.DataFrame", seeds: "np.ndarray | None" = None, by: Sequence[str] | None = None,
              scalars: Sequence[str] | None = None, ci: float = 0.95) -> "pd.DataFrame":
    """One row per group of the runs in ``df`` (an ``ls_runs`` frame): ``operation``, the group's
    ``flags.*``, ``n``, ``runs`` (ids), then ``scalars.NAME.mean/.std/.ci_low/.ci_high/.min/.max/.n``
    (``.n``: the runs that have a value of it, which the statistics are over).

    ``seeds``: each row's seed flag (:func:`seed_flags`; computed when None). ``by``: group by
    these flags (and the operation) alone. ``scalars``: these (default: every scalar the runs
    have). ``ci``: the confidence level of the Student-t interval of each mean."""
    import numpy as np
    import pandas as pd

    level = check_ci(ci)
    stats = _scipy_stats()
    n = len(df)
    flag_cols = [c for c in df.columns if c.startswith("flags.") and df[c].notna().any()]
    scalar_cols = [c for c in df.columns if c.startswith("scalars.") and df[c].notna().any()]
    key_flags = flag_cols if by is None else _chosen(
        by, "flags.", flag_cols, flag_name, "--by needs flag names, such as --by units or --by units,lr",
        "no selected run has a flag '{}' to group by (their flags: {})")
    if scalars is not None:
        scalar_cols = _chosen(scalars, "scalars.", scalar_cols, scalar_name,
                              "--scalar needs a scalar's name, such as --scalar loss",
                              "no selected run has a scalar '{}' (their scalars: {})")
    if seeds is None:
        seeds = seed_flags(df)
    masked: dict[str, np.ndarray] = {}  # flag column -> rows where it is the run's seed (left out)
    if by is None:
        for name in {s for s in seeds.tolist() if s is not None}:
            col = f"flags.{name}"
            if col in key_flags:
                masked[col] = seeds == name
    key_codes = [_codes(df["operation"])] if "operation" in df.columns else []
    for col in key_flags:
        codes = _codes(df[col])
        if col in masked:
            codes = codes.copy()
            codes[masked[col]] = -2
        key_codes.append(codes)
    gid, n_groups = _group_ids(key_codes, n)
    first = np.full(n_groups, n, dtype=np.int64)
    np.minimum.at(first, gid, np.arange(n, dtype=np.int64))
    counts = np.bincount(gid, minlength=n_groups)

    out: dict[str, Any] = {}
    out["operation"] = df["operation"].to_numpy()[first] if "operation" in df.columns else [None] * n_groups
    for col in key_flags:
        rep = df[col].iloc[first].reset_index(drop=True)
        if col in masked:
            rep_masked = masked[col][first]
            if masked[col][df[col].notna().to_numpy()].all():
                continue  # the seed of every run that has it: not a property of any group
            if rep_masked.any():
                rep = rep.astype(object).where(~rep_masked, None)
        out[col] = rep
    out["n"] = counts
    order = np.argsort(gid, kind="stable")
    bounds = np.cumsum(counts)[:-1]
    ids = df["id"].to_numpy()[order]
    out["runs"] = [list(part) for part in np.split(ids, bounds)] if n_groups else []
    for col in scalar_cols:
        values = pd.Series(df[col].to_numpy(dtype="float64"), copy=False)
        g = values.groupby(gid, sort=True)
        count = g.count().reindex(range(n_groups)).to_numpy(dtype="float64")
        mean = g.mean().reindex(range(n_groups)).to_numpy()
        std = g.std(ddof=1).reindex(range(n_groups)).to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            sem = std / np.sqrt(count)
            dof = np.where(count > 1, count - 1, np.nan)
            half = stats.t.ppf(0.5 + level / 2, dof) * sem
        name = col[len("scalars."):]
        out[f"scalars.{name}.mean"] = mean
        out[f"scalars.{name}.std"] = std
        out[f"scalars.{name}.ci_low"] = mean - half
        out[f"scalars.{name}.ci_high"] = mean + half
        out[f"scalars.{name}.min"] = g.min().reindex(range(n_groups)).to_numpy()
        out[f"scalars.{name}.max"] = g.max().reindex(range(n_groups)).to_numpy()
        out[f"scalars.{name}.n"] = count.astype("int64")
    result = pd.DataFrame(out)
    sort_cols = ["operation"] + [c for c in result.columns if c.startswith("flags.")]
    try:
        result = result.sort_values(sort_cols, kind="stable", na_position="last", ignore_index=True)
    except TypeError:  # values of several types in one flag: keep the order first seen (newest first)
        pass
    return result


# --- groups of records (no pandas: the web view) --------------------------------------------------

def run_seed_flag(record: dict) -> str | None:
    """A run record's seed flag: its recorded ``seed_flag`` if it has that flag, else the first
    of :data:`SEED_FLAG_NAMES` it has (the rule :func:`summarize` applies to a frame)."""
    flags = record.get("flags") or {}
    name = record.get("seed_flag")
    if isinstance(name, str) and flags.get(name) is not None:
        return name
    return next((n for n in SEED_FLAG_NAMES if flags.get(n) is not None), None)


def group_records(records: Sequence[dict]) -> list[list[dict]]:
    """Records in groups (same operation, flags equal but the seed flag), in order of first appearance."""
    import json

    groups: dict[tuple, list[dict]] = {}
    for r in records:
        seed = run_seed_flag(r)
        flags = {k: v for k, v in (r.get("flags") or {}).items() if k != seed and v is not None}
        key = (r.get("operation"), json.dumps(flags, sort_keys=True, default=repr))
        groups.setdefault(key, []).append(r)
    return list(groups.values())


def t_quantiles(max_n: int, ci: float = 0.95) -> dict[int, float]:
    """n -> the Student-t quantile of a ``ci`` interval of a mean of n values (n >= 2)."""
    if max_n < 2:
        return {}
    stats = _scipy_stats()
    level = check_ci(ci)
    return {n: float(q) for n, q in zip(range(2, max_n + 1), stats.t.ppf(0.5 + level / 2, list(range(1, max_n))))}


def describe(values: Sequence[float], ci: float = 0.95) -> dict[str, float]:
    """``n, mean, std, half`` (the interval's half-width; NaN when n < 2) of the finite values."""
    xs = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    n = len(xs)
    nan = float("nan")
    if not n:
        return {"n": 0, "mean": nan, "std": nan, "half": nan}
    mean = statistics.fmean(xs)
    if n < 2:
        return {"n": 1, "mean": mean, "std": nan, "half": nan}
    std = statistics.stdev(xs)
    return {"n": n, "mean": mean, "std": std, "half": t_quantiles(n, ci)[n] * std / math.sqrt(n)}


# --- two samples ---------------------------------------------------------------------------------

def versus(a: Sequence[float], b: Sequence[float], ci: float = 0.95) -> dict[str, float]:
    """Compare two samples of a scalar: ``n_a, mean_a, std_a, n_b, mean_b, std_b``, ``diff``
    (``mean_b - mean_a``) with its Welch confidence interval ``ci_low, ci_high``, ``p_welch``
    (Welch's t-test), ``p_mannwhitney`` (two-sided Mann-Whitney U) and ``hedges_g`` (the
    standardized difference b - a with the small-sample correction). NaN where a side has too
    few runs (a t-test needs 2 on each side; Mann-Whitney 1)."""
    import warnings

    import numpy as np

    level = check_ci(ci)
    stats = _scipy_stats()
    x = np.asarray([v for v in a if v is not None and not math.isnan(v)], dtype="float64")
    y = np.asarray([v for v in b if v is not None and not math.isnan(v)], dtype="float64")
    nan = float("nan")
    out = {"n_a": int(len(x)), "mean_a": float(x.mean()) if len(x) else nan,
           "std_a": float(x.std(ddof=1)) if len(x) > 1 else nan,
           "n_b": int(len(y)), "mean_b": float(y.mean()) if len(y) else nan,
           "std_b": float(y.std(ddof=1)) if len(y) > 1 else nan}
    out["diff"] = out["mean_b"] - out["mean_a"]
    out.update(ci_low=nan, ci_high=nan, p_welch=nan, p_mannwhitney=nan, hedges_g=nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if len(x) > 1 and len(y) > 1:
            welch = stats.ttest_ind(y, x, equal_var=False)
            low, high = welch.confidence_interval(confidence_level=level)
            out.update(ci_low=float(low), ci_high=float(high), p_welch=float(welch.pvalue))
            # Hedges' g: Cohen's d from the pooled-variance t statistic, times the exact
            # small-sample correction J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2)).
            pooled_t = stats.ttest_ind(y, x, equal_var=True).statistic
            d = float(pooled_t) * math.sqrt(1 / len(x) + 1 / len(y))
            dof = len(x) + len(y) - 2
            out["hedges_g"] = d * _hedges_j(dof)
        if len(x) and len(y):
            out["p_mannwhitney"] = float(stats.mannwhitneyu(y, x, alternative="two-sided").pvalue)
    return out


def _hedges_j(dof: int) -> float:
    from scipy.special import gammaln

    return math.exp(gammaln(dof / 2) - gammaln((dof - 1) / 2)) / math.sqrt(dof / 2)


def side_labels(flags_a: list[dict], flags_b: list[dict], text_a: str, text_b: str) -> tuple[str, str]:
    """Names for two sides: the flags each side holds constant and the other side doesn't
    share (one such flag: just its values, ``64`` and ``128``); else the texts given."""
    def constant(flag_sets: list[dict]) -> dict:
        if not flag_sets:
            return {}
        first = flag_sets[0]
        return {k: v for k, v in first.items() if k not in SEED_FLAG_NAMES
                and all(f.get(k, _MISSING) == v for f in flag_sets[1:])}

    ca, cb = constant(flags_a), constant(flags_b)
    names = [k for k in ca if k in cb and ca[k] != cb[k]]
    if not names:
        return text_a, text_b
    from .flags import format_value

    if len(names) == 1:
        return format_value(ca[names[0]]), format_value(cb[names[0]])
    return (" ".join(f"{k}={format_value(ca[k])}" for k in names),
            " ".join(f"{k}={format_value(cb[k])}" for k in names))


_MISSING = object()


def plain_words(result: dict, label_a: str, label_b: str, digits: int = 2) -> str:
    """``128 − 64: +0.012 [+0.004, +0.020], p = 0.006, n = 5 vs 5`` (Welch's p)."""
    def signed(v: float) -> str:
        return "NaN" if v != v else f"{v:+.{_decimals(result, digits)}f}"

    p = result["p_welch"]
    ptext = "p = n/a (a t-test needs 2 runs a side)" if p != p else _p_words(p)
    level = result.get("ci", 0.95)
    which = "" if abs(level - 0.95) < 1e-12 else f" ({level:.4g} CI)"
    return (f"{label_b} \u2212 {label_a}: {signed(result['diff'])} "
            f"[{signed(result['ci_low'])}, {signed(result['ci_high'])}]{which}, "
            f"{ptext}, n = {result['n_b']} vs {result['n_a']}")


def _p_words(p: float) -> str:
    """``p = 0.006``, or ``p < 0.001``."""
    text = _p_text(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _p_text(p: float) -> str:
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}" if p < 0.995 else f"{p:.2f}"


def _decimals(result: dict, digits: int) -> int:
    half = (result["ci_high"] - result["ci_low"]) / 2
    return decimals_for(half if half == half and half > 0 else abs(result["diff"]), digits)


def decimals_for(scale: float, digits: int = 2) -> int:
    """Decimals that show ``digits`` significant figures of ``scale`` (a half-width)."""
    if not scale or scale != scale or math.isinf(scale):
        return 4
    return max(0, min(12, digits - 1 - math.floor(math.log10(abs(scale)))))
