"""A project's modules never replace runyard's own dependencies (issue 10, point 8).

The project below holds ``yaml.py`` and ``click/`` — names of runyard's dependencies. runyard's
own processes (the command, background supervisors, batch workers) must still import PyYAML
and click, from ``python -m runyard.cli`` in the project (cwd first on sys.path) and with
``PYTHONPATH`` naming the project; the script's process must get the project's modules, as
``python train.py`` would.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from conftest import cli, write

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX processes")


@pytest.fixture
def hostile(project):
    write(project / "yaml.py", """
        import sys
        sys.stderr.write("project yaml.py imported\\n")
        OWNER = "project"
    """)
    write(project / "click" / "__init__.py", """
        raise SystemExit("project click imported")
    """)
    write(project / "train.py", """
        import sys
        import yaml
        print("yaml from:", getattr(yaml, "OWNER", "site-packages"))
        print("path0:", sys.path[0])
        print("fresh interpreter:", "runyard" not in sys.modules)  # click/ clashes: no fork
        print("loss: 0.5")
    """)
    return project


def _env(project, with_pythonpath: bool) -> dict:
    pp = os.environ.get("PYTHONPATH", "")
    if with_pythonpath:
        pp = str(project) + (os.pathsep + pp if pp else "")
    return {"PYTHONPATH": pp}


@pytest.mark.parametrize("with_pythonpath", [False, True], ids=["cwd", "PYTHONPATH"])
def test_runyard_uses_its_own_modules_and_the_script_the_projects(hostile, with_pythonpath):
    env = _env(hostile, with_pythonpath)
    r = cli("run", "train.py", "-y", env=env)
    assert r.returncode == 0, r.stderr
    assert "project click imported" not in r.stdout + r.stderr
    assert "yaml from: project" in r.stdout  # the script sees its own yaml.py ...
    assert "fresh interpreter: True" in r.stdout
    assert r.stderr.count("project yaml.py imported") == 1  # ... and only the script imported it
    rid = json.loads(cli("runs", "--json", env=env).stdout)[0]["id"]
    assert f"path0: {hostile / '.guild' / 'runs' / rid}" in r.stdout
    for args in (("runs",), ("compare", "--csv", "-"), ("runs", "info"), ("select",)):
        r = cli(*args, env=env)
        assert r.returncode == 0, (args, r.stderr)
        assert "project" not in r.stderr, (args, r.stderr)


def test_background_run_and_batch_workers_are_not_hijacked(hostile):
    env = _env(hostile, True)
    r = cli("run", "train.py", "-y", "--background", env=env)
    assert r.returncode == 0, r.stderr
    r = cli("run", "train.py", "x=[1,2]", "-y", "-q", "--workers", "2", "--force-flags", env=env)
    assert r.returncode == 0, r.stderr
    deadline = time.time() + 60
    while True:
        runs = json.loads(cli("runs", "--json", "--include-batch", env=env).stdout)
        if all(x["status"] not in ("running", "pending", "staged") for x in runs) or time.time() > deadline:
            break
        time.sleep(0.3)
    assert len(runs) >= 4  # the background run, the batch and its 2 trials
    assert {x["status"] for x in runs} == {"completed"}, [(x["operation"], x["status"]) for x in runs]
    for x in runs:
        if x["operation"] == "train.py":
            out = cli("cat", x["id"], env=env).stdout
            assert "yaml from: project" in out


def test_forked_run_gets_the_path_python_would_give(project):
    """No clash: the run may start as a fork; its sys.path is [script folder, PYTHONPATH...]."""
    extra = project.parent / "libdir"
    write(extra / "helper_mod.py", "VALUE = 42\n")
    write(project / "sub" / "s.py", """
        import os, sys
        import helper_mod
        print("path0:", sys.path[0])
        print("helper:", helper_mod.VALUE)
        print("pp-index:", sys.path.index(os.path.abspath(os.environ["PYTHONPATH"].split(os.pathsep)[-1])))
        print("forked:", "click" in sys.modules)  # (runyard's command has click loaded; python doesn't)
    """)
    env = {"PYTHONPATH": os.environ.get("PYTHONPATH", "") + os.pathsep + str(extra)}
    r = cli("run", "sub/s.py", "-y", env=env)
    assert r.returncode == 0, r.stderr
    rid = json.loads(cli("runs", "--json").stdout)[0]["id"]
    assert f"path0: {project / '.guild' / 'runs' / rid / 'sub'}" in r.stdout
    assert "helper: 42" in r.stdout
    assert "forked: True" in r.stdout  # no clash, runyard's own source on PYTHONPATH: still a fork
    idx = int(r.stdout.split("pp-index:")[1].split()[0])
    assert idx < len(os.environ.get("PYTHONPATH", "").split(os.pathsep)) + 3  # before site-packages
