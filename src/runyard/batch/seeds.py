"""Seeds as a batch dimension: ``runyard run train.py --seeds 5``.

A script's *seed flag* is the flag named by ``--seed-flag NAME`` (``seed_flag=`` from Python),
else by its front matter's ``#| seed-flag: NAME``, else the first of ``seed``, ``random_seed``,
``rng_seed`` among its flags (globals, argparse options, config files, R scripts, guild.yml
flags: whatever :mod:`runyard.lang` found). ``--seeds N`` draws N distinct seeds from the
batch's own seed (``--random-seed``), so the same batch seed gives the same seeds, and every
setting of the batch runs once with each of them. Each such run records its seed flag's name
in the ``seed_flag`` attribute (Guild AI ignores attributes it doesn't know); groups of runs
(:mod:`runyard.stats`) leave that flag out when they compare flags.
"""

from __future__ import annotations

import random
from typing import Any

from ..errors import UsageError

SEED_FLAG_NAMES = ("seed", "random_seed", "rng_seed")
MAX_SEEDS = 1000
SEED_RANGE = 2**31 - 1  # positive and inside R's integer range, numpy's and torch's


def seed_flag(script: Any, name: str | None = None) -> str:
    """The name of ``script``'s seed flag (see the module's docstring); one-line UsageError if none."""
    if name:
        name = str(name).strip()
        if script.flags and name not in script.flags:
            raise UsageError(f"--seed-flag {name}: {script.name} has no flag '{name}' "
                             f"(its flags: {', '.join(script.flags) or 'none'})")
        return name
    declared = (script.options or {}).get("seed-flag")
    if declared:
        declared = str(declared).strip()
        if declared not in script.flags:
            raise UsageError(f"{script.name}: '#| seed-flag: {declared}' names no flag of the script")
        return declared
    for candidate in SEED_FLAG_NAMES:
        if candidate in script.flags:
            return candidate
    raise UsageError(f"--seeds needs a seed flag, and {script.name} has none: add a flag named seed "
                     "(e.g. 'seed = 0'), or name yours with '#| seed-flag: NAME' or --seed-flag NAME")


def count(value: Any) -> int | None:
    """``--seeds N`` as a number of seeds (None when not given)."""
    if value is None or value is False or value == "":
        return None
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        n = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"--seeds needs a whole number, not {value!r}") from None
    if not 1 <= n <= MAX_SEEDS:
        raise UsageError(f"--seeds must be between 1 and {MAX_SEEDS}")
    return n


def draw(n: int, batch_seed: int) -> list[int]:
    """``n`` distinct seeds drawn from ``batch_seed``: the same batch seed, the same seeds
    (and the first k of N seeds are the k seeds of a smaller batch with that batch seed)."""
    rng = random.Random(f"runyard-seeds/{batch_seed}")  # (apart from the trial sampling's stream)
    out: list[int] = []
    seen: set[int] = set()
    while len(out) < n:
        s = rng.randrange(SEED_RANGE)
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def expand(settings: list[dict], flag: str, seeds: list[int]) -> list[dict]:
    """Each setting once per seed, the seed varying fastest: 2 settings x 3 seeds = 6 trials."""
    return [{**s, flag: seed} for s in settings for seed in seeds]


def given_in(space: Any, flag: str) -> bool:
    """True if the batch's flags already set the seed flag (a value, a list, a search, a table column)."""
    if flag in space.fixed or flag in space.lists or flag in space.functions:
        return True
    return any(flag in row for row in space.rows or [])
