"""Trials from flags: grids, tables (data frames, lists of dicts, batch files) and search spaces.

Everything here is planning: it reads the user's flags, checks every trial's values
against the script's flag definitions and makes nothing.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import sys
from dataclasses import dataclass, field
from typing import Any

from ..errors import FlagError, UsageError
from ..flags.values import SEARCH_FUNCTIONS, SEQUENCE_FUNCTIONS, BatchFile, Function, decode, load_batch_file

OPTIMIZERS = {"grid": "grid", "+": "grid", "random": "random", "tpe": "tpe", "bayesian": "tpe",
              "optuna": "tpe", "optuna:tpe": "tpe"}
DEFAULT_SEARCH_TRIALS = 20  # random and tpe, as Guild AI's optimizers


@dataclass
class Space:
    """A batch's flags: fixed values, value lists (grid axes or categorical choices),
    search functions, and table rows (each a trial of its own)."""

    fixed: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, list] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    rows: list[dict] | None = None

    @property
    def names(self) -> list[str]:
        return [*self.fixed, *self.lists, *self.functions]

    def describe(self) -> str:
        """A one-line summary, used as the batch run's label."""
        from ..flags import format_value

        parts = []
        for k, v in self.fixed.items():
            parts.append(f"{k}={format_value(v)}")
        for k, v in self.lists.items():
            parts.append(f"{k}=[{','.join(format_value(x) for x in v)}]")
        for k, v in self.functions.items():
            parts.append(f"{k}={v}")
        if self.rows is not None:
            parts.insert(0, f"{len(self.rows)} rows")
        text = " ".join(parts)
        return text if len(text) <= 200 else text[:197] + "..."

    def to_attr(self) -> dict:
        """A YAML-safe form (for the batch's ``run_params``), read back by :func:`space_from_attr`."""
        out: dict[str, Any] = {"fixed": dict(self.fixed), "lists": {k: list(v) for k, v in self.lists.items()},
                               "functions": {k: str(v) for k, v in self.functions.items()}}
        if self.rows is not None:
            out["rows"] = list(self.rows)
        return out


def space_from_attr(d: dict) -> Space:
    return Space(fixed=dict(d.get("fixed") or {}), lists={k: list(v) for k, v in (d.get("lists") or {}).items()},
                 functions={k: decode(v, k) for k, v in (d.get("functions") or {}).items()}, rows=d.get("rows"))


def _plain(v: Any) -> Any:
    """numpy/pandas scalars -> Python values; NaN/NA -> None."""
    if hasattr(v, "item") and not isinstance(v, (list, tuple, dict, str)):
        try:
            v = v.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(v, float) and math.isnan(v):
        return None
    pd = sys.modules.get("pandas")  # only when pandas is already in use
    if pd is not None and (v is pd.NA or v is pd.NaT):
        return None
    return v


def _rows_of_table(table: Any) -> list[dict]:
    """One dict per row of a DataFrame; missing cells are left out (the flag keeps its default)."""
    rows = []
    cols = [str(c) for c in table.columns]
    for rec in table.itertuples(index=False, name=None):
        row = {}
        for c, v in zip(cols, rec):
            v = _plain(v)
            if v is not None:
                row[c] = v
        rows.append(row)
    return rows


def _decode_str(name: str, v: str) -> Any:
    """From Python, a string that calls a search or sequence function is decoded; other strings stay."""
    s = v.strip()
    head = s.split("[", 1)[0]
    if s.endswith("]") and head in SEARCH_FUNCTIONS + SEQUENCE_FUNCTIONS:
        return decode(s, name)
    return v


def space_of(flags: Any) -> Space:
    """Split the ``flags`` given to a batch into a :class:`Space` (raises FlagError/UsageError)."""
    sp = Space()
    if flags is None:
        return sp
    if isinstance(flags, (str, os.PathLike)):
        path = os.fspath(flags)
        flags = {"@" + path: load_batch_file(path[1:] if path.startswith("@") else path)}
    if hasattr(flags, "itertuples") and hasattr(flags, "columns"):
        sp.rows = _rows_of_table(flags)
        return sp
    if isinstance(flags, (list, tuple)):
        if not all(isinstance(r, dict) for r in flags):
            raise UsageError("a list of flags must hold one dict of flag values per trial")
        sp.rows = [{str(k): _plain(v) for k, v in r.items() if _plain(v) is not None} for r in flags]
        return sp
    if not isinstance(flags, dict):
        raise UsageError(f"flags must be a dict, a DataFrame, a list of dicts or a batch file, "
                         f"not {type(flags).__name__}")
    for name, v in flags.items():
        name = str(name)
        if isinstance(v, BatchFile):
            sp.rows = (sp.rows or []) + [dict(r) for r in v]
            continue
        if isinstance(v, str):
            v = _decode_str(name, v)
        if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):
            v = v.tolist()  # numpy arrays, pandas Series
        if isinstance(v, (range, set, frozenset)):
            v = list(v)
        if isinstance(v, tuple):
            v = list(v)
        if isinstance(v, Function):
            sp.functions[name] = v
        elif isinstance(v, list):
            if not v:
                raise FlagError(f"flag '{name}' has an empty list of values")
            sp.lists[name] = [_plain(x) for x in v]
        else:
            sp.fixed[name] = _plain(v)
    if sp.rows is not None and not sp.rows:
        raise UsageError("the batch file or table has no rows")
    return sp


def choose_optimizer(space: Space, optimizer: str | None) -> str:
    """``grid``, ``random`` or ``tpe``: as asked, else implied (a search function means random)."""
    if optimizer:
        name = OPTIMIZERS.get(str(optimizer).strip().lower())
        if name is None:
            raise UsageError(f"unknown optimizer '{optimizer}' (use grid, random or tpe)")
    else:
        name = "random" if space.functions else "grid"
    if name == "grid" and space.functions:
        fname, fn = next(iter(space.functions.items()))
        raise UsageError(f"a grid can't take {fname}={fn}: use a list of values, or --optimizer random or tpe")
    if name != "grid" and space.rows is not None:
        raise UsageError(f"a table of trials (data frame, list of dicts, batch file) can't be searched by {name}; "
                         "each row is one trial")
    return name


def grid_trials(space: Space) -> list[dict]:
    """Every combination of the list flags (first flag varying slowest), per table row."""
    names = list(space.lists)
    combos = [dict(zip(names, c)) for c in itertools.product(*(space.lists[n] for n in names))] or [{}]
    rows = space.rows if space.rows is not None else [{}]
    trials = []
    for row in rows:
        for combo in combos:
            trials.append({**space.fixed, **combo, **row})
    return trials


def sample_grid(trials: list[dict], max_trials: int | None, rng: random.Random) -> list[dict]:
    """``max_trials`` of ``trials`` picked at random, kept in their order (all when not fewer)."""
    if max_trials is None or max_trials >= len(trials):
        return trials
    picked = sorted(rng.sample(range(len(trials)), max_trials))
    return [trials[i] for i in picked]


def sample_value(fn: Function, rng: random.Random, as_int: bool = False) -> Any:
    """A random value of ``uniform[a:b]`` / ``loguniform[a:b]``; an integer when ``as_int``."""
    lo, hi = fn.low, fn.high
    if fn.name == "loguniform":
        v = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    elif as_int:
        return rng.randint(math.ceil(lo), math.floor(hi))
    else:
        v = rng.uniform(lo, hi)
    if as_int:
        return min(max(int(round(v)), math.ceil(lo)), math.floor(hi))
    return v


def random_trials(space: Space, n: int, rng: random.Random, int_flags: set[str] = frozenset()) -> list[dict]:
    """``n`` trials, each flag drawn independently: lists uniformly, functions by their distribution."""
    trials = []
    for _ in range(n):
        t = dict(space.fixed)
        for name, vals in space.lists.items():
            t[name] = rng.choice(vals)
        for name, fn in space.functions.items():
            t[name] = sample_value(fn, rng, name in int_flags)
        trials.append(t)
    return trials


def int_flags(script, space: Space) -> set[str]:
    """Search functions sampled as integers: an ``int`` flag's, or integer bounds on a flag
    that is not a float (``x = 0.0`` with ``uniform[-5:5]`` samples floats)."""
    out = set()
    for name, fn in space.functions.items():
        fd = script.flags.get(name)
        t = fd.type if fd is not None else None
        if t == "int" or (fn.is_int and t not in ("number", "float")):
            out.add(name)
    return out


def check_space(script, space: Space, force: bool) -> None:
    """Check every value a search may try (list items, function bounds) before anything is made."""
    from ..launch.runner import resolve_values

    resolve_values(script, space.fixed, force)
    for name, vals in space.lists.items():
        resolve_values(script, {**space.fixed, name: list(vals)}, force)
    ints = int_flags(script, space)
    for name, fn in space.functions.items():
        ends = [fn.low, fn.high] if fn.initial is None else [fn.low, fn.high, fn.initial]
        if name in ints and not fn.is_int and fn.name == "uniform":
            ends = [math.ceil(fn.low), math.floor(fn.high)]
            if ends[0] > ends[1]:
                raise FlagError(f"invalid value for flag '{name}': {fn} holds no integer")
        resolve_values(script, {**space.fixed, name: ends}, force)
