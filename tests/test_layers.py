"""The code's layers (docs/architecture.md), as the import-linter contracts in pyproject.toml state
them: data flows one way, so imports do too (imports inside functions count), and no package's
modules import each other in a circle. ``lint-imports`` checks them; these tests make sure the
contracts cover every module and can fail.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import runyard

SRC = Path(runyard.__file__).parent
REPO = Path(__file__).parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _contracts() -> list[dict]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _lint(src: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache", "--no-logo", str(REPO / "pyproject.toml")], capture_output=True,
                          text=True, cwd=REPO, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(src)}, timeout=120)


def test_every_module_has_its_layer():
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    placed = {m.strip() for layer in layers for m in layer.split("|")}
    modules = {p.stem if p.is_file() else p.name for p in SRC.iterdir()
               if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert modules - placed == set(), "give each new module a layer in pyproject.toml [tool.importlinter]"
    assert placed - modules == set(), "the contract names a module that is gone"


def test_the_layers_hold_and_an_upward_import_breaks_them(tmp_path):
    r = _lint(SRC.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout
    # a copy of the package where the runs' file format (store) imports the API above it
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy / "runyard", ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    (copy / "runyard" / "store" / "sneaky.py").write_text("def f():\n    from .. import api\n    return api\n")
    r = _lint(copy)
    assert r.returncode == 1
    assert "runyard.store is not allowed to import runyard.api" in r.stdout
    assert "runyard.store.sneaky -> runyard.api" in r.stdout
