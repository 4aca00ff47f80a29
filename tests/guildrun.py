"""Guild AI 0.9 in the tests: finding it, running it with a runs home of its own, and reading the
run directories it (or runyard) made, run ids replaced by operation names so that the two tools'
runs compare side by side.

Guild is the test command's (``RUNYARD_GUILD``, set by scripts/test.sh), else the venv that
``bash scripts/guild-venv.sh`` makes; a test that needs it is skipped where neither exists.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Collection
from pathlib import Path

import pytest

from runyard.store.attrs import read as _read
from runyard.store.run import parse_opref
from runyard.store.tfevents import run_scalars


def guild_exe() -> str:
    """The ``guild`` executable of Guild AI 0.9 (the test is skipped without one)."""
    exe = os.environ.get("RUNYARD_GUILD") or str(Path(__file__).parent.parent / ".venv-guild/bin/guild")
    if not Path(exe).exists():
        pytest.skip("Guild AI 0.9 venv not found: run `bash scripts/guild-venv.sh` (scripts/test.sh does)")
    return exe


def guild_env(home: Path) -> dict[str, str]:
    """The environment Guild runs in here: this process's, with ``home`` as its runs home.

    NO_PIP_FREEZE: Guild's runs skip their ``pip_freeze`` attribute (a `pip freeze` of seconds a
    run on a busy machine). runyard records none and no test compares it; runyard reading runs
    that have one is tested on tests/fixtures/guild-runs."""
    return {**os.environ, "GUILD_HOME": str(home), "NO_WARN_RUNDIR": "1", "NO_PIP_FREEZE": "1"}


def run_guild(*args: str, home: Path, cwd: Path | None = None, timeout: float = 120, check: bool = False,
              text: bool = True) -> subprocess.CompletedProcess:
    """``guild ARGS`` with ``home`` as its runs home; ``check``: its exit status must be 0."""
    r = subprocess.run([guild_exe(), *args], cwd=cwd, env=guild_env(home), capture_output=True, text=text,
                       timeout=timeout)
    if check:
        assert r.returncode == 0, r.stderr
    return r


# --- reading run directories -------------------------------------------------------------------

def attr(run_dir: Path, name: str, default=None):
    """The run's attribute ``name`` (``.guild/attrs/NAME``), or ``default`` where it has none."""
    p = run_dir / ".guild" / "attrs" / name
    return _read(p) if p.exists() else default


def opname(run_dir: Path) -> str:
    """The run's operation as both tools show it (``model:op``, or ``op``); ``?`` without an opref."""
    try:
        opref = parse_opref((run_dir / ".guild" / "opref").read_text())
    except FileNotFoundError:
        return "?"
    return f"{opref[2]}:{opref[3]}" if opref[2] else opref[3]


def norm(value, names: dict[str, str]):
    """``value`` with every run id replaced by ``<op>`` (``names``: run id -> operation), dict keys
    in order, and the random name of a ``.guild/generated`` directory replaced."""
    if isinstance(value, dict):
        return {norm(k, names): norm(v, names) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list):
        return [norm(v, names) for v in value]
    if isinstance(value, str):
        value = re.sub(r"\.guild/generated/[^/]+/", ".guild/generated/<random>/", value)
        return re.sub(r"[0-9a-f]{32}", lambda m: f"<{names.get(m.group(0), '?')}>", value)
    return value


def files(run_dir: Path, names: dict[str, str], by_presence: Collection[str] = (),
          skip: Collection[str] = ()) -> dict[str, str]:
    """Everything in the run directory outside .guild: files by content digest, links by their
    (normalized) target. The files in ``by_presence`` only by presence (runyard writes flag values
    into its copy of a script, Guild injects them at start-up); directories named in ``skip`` are
    left out."""
    out = {}
    for root, dirs, names_here in os.walk(run_dir):
        r = Path(root)
        if r == run_dir:
            dirs[:] = [d for d in dirs if d != ".guild"]
        for name in dirs + names_here:
            p = r / name
            rel = p.relative_to(run_dir).as_posix()
            if p.is_symlink():
                out[rel] = "link " + norm(os.readlink(p), names)
            elif p.is_file():
                out[rel] = "file" if rel in by_presence else "file " + hashlib.sha1(p.read_bytes()).hexdigest()
        dirs[:] = [d for d in dirs if not (r / d).is_symlink() and d not in skip]
    return out


def scalars(run_dir: Path) -> list:
    """The run's own scalars (path ``.guild``): (path, tag, value to 6 places, step), sorted."""
    return sorted((p, t, round(v, 6), s) for p, t, v, s in run_scalars(run_dir) if p == ".guild")
