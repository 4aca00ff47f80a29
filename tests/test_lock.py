"""The lock file the test command installs from (requirements/test.txt) is in step with pyproject.toml.

Every requirement of runyard and of its extras (``all``, ``test``) is pinned there to a version the
requirement accepts; a dependency added to pyproject.toml without ``bash scripts/lock.sh`` fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).parent.parent


def _pins(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)", line)
        if m:
            pins[canonicalize_name(m[1])] = m[2]
    return pins


def _requirements(extras: list[str]) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    optional, reqs, seen = project["optional-dependencies"], [Requirement(r) for r in project["dependencies"]], set()
    todo = list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for r in map(Requirement, optional[extra]):
            if canonicalize_name(r.name) == "runyard":
                todo.extend(r.extras)
            else:
                reqs.append(r)
    return reqs


def test_every_requirement_is_pinned_in_the_lock():
    pins = _pins(REPO / "requirements" / "test.txt")
    assert len(pins) > 100
    wrong = [f"{r} (lock: {pins.get(canonicalize_name(r.name), 'missing')})"
             for r in _requirements(["all", "test"])
             if canonicalize_name(r.name) not in pins or not r.specifier.contains(pins[canonicalize_name(r.name)],
                                                                                  prereleases=True)]
    assert not wrong, "requirements/test.txt is out of date (bash scripts/lock.sh): " + ", ".join(wrong)


def test_guild_lock_pins_guild_09():
    pins = _pins(REPO / "requirements" / "guild.txt")
    assert pins["guildai"] == "0.9.0"
    for line in (REPO / "requirements" / "guild.in").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            r = Requirement(line)
            assert r.specifier.contains(pins[canonicalize_name(r.name)]), f"requirements/guild.txt: {r}"
