"""Issue 23: the first hour, second pass — a project as people have them: git, a git-ignored
``data/`` folder, a project ``.venv`` holding a package runyard's interpreter lacks, a ``utils/``
package, an empty ``plots/`` folder, argparse flags with hyphens and ``nargs="+"``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import cli, runs_in, write

TRAIN = '''
import argparse
import sys

from utils.helpers import describe

p = argparse.ArgumentParser()
p.add_argument("--learning-rate", type=float, default=0.1)
p.add_argument("--layers", type=int, nargs="+", default=[128, 64])
a = p.parse_args()
print("prefix", sys.prefix)
print(describe(a.learning_rate, a.layers))
'''


def _git(project: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", *args], cwd=project, check=True, env=env, capture_output=True)


def _venv(where: Path, module: str) -> Path:
    """A plain virtualenv (no pip) holding one module of its own: ``module`` prints its name."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    site = next((where / "lib").glob("python*/site-packages"))
    write(site / f"{module}.py", f"NAME = {module!r}\n")
    return where


def _no_venv_env() -> dict:
    """This process's environment with no active virtualenv or conda environment."""
    return {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV")}


def _cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real command with exactly ``env`` (default: no active virtualenv)."""
    e = env if env is not None else _no_venv_env()
    return subprocess.run([sys.executable, "-m", "runyard.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=e, timeout=120)


@pytest.fixture
def proj(project):
    """The issue's project: git, a git-ignored data/ folder, a .venv with a package of its own
    (``tabulate_ish``), utils/, an empty plots/ folder."""
    write(project / "train_sgd.py", TRAIN)
    write(project / "utils" / "__init__.py", "")
    write(project / "utils" / "helpers.py", "def describe(lr, layers):\n    return f'lr={lr} layers={layers}'\n")
    (project / "plots").mkdir()
    (project / "data").mkdir()
    write(project / "data" / "covtype_like.csv", "a,b\n1,2\n")
    write(project / ".gitignore", ".guild/\n.venv/\ndata/\n")
    _venv(project / ".venv", "tabulate_ish")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "init")
    return project


def _only_run(project: Path) -> Path:
    runs = runs_in(project / ".guild")
    assert len(runs) == 1, runs
    return runs[0]


def _attr(run: Path, name: str):
    import yaml

    return yaml.safe_load((run / ".guild" / "attrs" / name).read_text())


# --- 1. the user's interpreter ---------------------------------------------------------------

USES_VENV = '''
import sys
import tabulate_ish
print("prefix", sys.prefix)
print("hooks", "runyard_streams" in sys.modules)
'''


def test_the_projects_venv_runs_the_script(proj):
    write(proj / "uses_venv.py", USES_VENV)
    r = _cli("run", "uses_venv.py", "--print-cmd")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == str(proj / ".venv" / "bin" / "python")
    r = _cli("run", "uses_venv.py", "-y")
    assert r.returncode == 0, r.stderr
    assert f"prefix {proj / '.venv'}" in r.stdout
    assert "hooks True" in r.stdout  # runyard's helpers ran in an interpreter without runyard
    run = _only_run(proj)
    assert _attr(run, "interpreter") == str(proj / ".venv" / "bin" / "python")


def test_an_active_virtualenv_comes_first(proj, tmp_path):
    other = _venv(tmp_path / "other", "tabulate_ish")
    env = {**_no_venv_env(), "VIRTUAL_ENV": str(other)}
    write(proj / "uses_venv.py", USES_VENV)
    r = _cli("run", "uses_venv.py", "-y", env=env)
    assert r.returncode == 0, r.stderr
    assert f"prefix {other}" in r.stdout


def test_python_option_and_front_matter_override(proj, tmp_path):
    other = _venv(tmp_path / "other", "tabulate_ish")
    write(proj / "uses_venv.py", USES_VENV)
    r = _cli("run", "uses_venv.py", "-y", "--python", str(other / "bin" / "python"))
    assert r.returncode == 0, r.stderr
    assert f"prefix {other}" in r.stdout
    write(proj / "pinned.py", "#| python: ../other/bin/python\n" + USES_VENV)
    r = _cli("run", "pinned.py", "-y")
    assert r.returncode == 0, r.stderr
    assert f"prefix {other}" in r.stdout
    n = len(runs_in(proj / ".guild"))
    r = _cli("run", "uses_venv.py", "-y", "--python", str(tmp_path / "nope" / "python"))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "nope" in r.stderr
    assert len(runs_in(proj / ".guild")) == n  # no half-made run


def test_without_any_venv_runyards_own_interpreter_runs_it(project):
    write(project / "plain.py", "import sys\nprint('prefix', sys.prefix)\n")
    r = _cli("run", "plain.py", "-y")
    assert r.returncode == 0, r.stderr
    assert f"prefix {sys.prefix}" in r.stdout


def test_rscript_is_overridable(project, tmp_path):
    import shutil

    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("R is not installed")
    wrapper = write(tmp_path / "bin" / "myR", f"#!/bin/sh\necho via-wrapper >&2\nexec {rscript} \"$@\"\n")
    wrapper.chmod(0o755)
    write(project / "train.R", "x <- 1\ncat('x is', x, '\\n')\n")
    r = _cli("run", "train.R", "-y", "--rscript", str(wrapper))
    assert r.returncode == 0, r.stderr
    assert "via-wrapper" in r.stderr and "x is 1" in r.stdout
    assert _attr(_only_run(project), "interpreter") == str(wrapper)
