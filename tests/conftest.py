"""Shared fixtures: a project directory with its own runs home, a helper to run the CLI, and one to wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest


# A pytest-xdist worker has COLUMNS=80 and LINES=24 in its environment, which a plain pytest run
# has not: the commands the tests run would fit their tables to 80 columns (the tests that are
# about the width set COLUMNS themselves).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)


# The test command started in the background (`cmd &` from a script, with no job control) gets
# SIGINT ignored, and every process the tests start would inherit that: the Ctrl-C tests need it
# as a terminal delivers it. A Python handler here is reset to the default in each child at exec.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """`--dist loadgroup` (scripts/test.sh) on pytest 9.2: each test marked ``xdist_group(NAME)``
    gets the ``@NAME`` suffix on its node id that pytest-xdist's scheduler groups by.

    pytest-xdist 3.8 still writes the suffix into ``item._nodeid``, which pytest 9.2's structured
    node ids no longer read, so the marks were silently ignored (pytest-xdist issue 1386). Where
    its own suffix took, this adds none."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        suffix = "@" + "_".join(names)
        if names and not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project directory (the cwd) whose runs home is ``<project>/.guild``."""
    proj = tmp_path / "project"
    proj.mkdir()
    home = proj / ".guild"
    monkeypatch.setenv("GUILD_HOME", str(home))
    monkeypatch.chdir(proj)
    return proj


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def cli(*args: str, cwd: Path | None = None, input: str | None = None, env: dict | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real ``runyard`` command in a subprocess."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([sys.executable, "-m", "runyard.cli", *args], cwd=cwd, capture_output=True, text=True,
                          input=input, env=e, timeout=timeout)


def runs_in(home: Path) -> list[Path]:
    d = home / "runs"
    return sorted(d.iterdir()) if d.exists() else []


def wait_for(pred, timeout: float = 20.0, every: float = 0.05) -> bool:
    """Whether ``pred()`` came true within ``timeout`` seconds (asked every ``every`` seconds)."""
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(every)
    return False
