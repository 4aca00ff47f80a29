"""Issue 9 points 3 (attribute files) and 8: odd states get one line, not a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import runyard
from conftest import cli, runs_in, write
from runyard.errors import FlagError, RunyardError
from runyard.store.attrs import AttrError

TRAIN = '''
import os
x = 1
print("empty name:", os.environ.get(""))
print("loss: 0.5")
'''


@pytest.fixture
def train(project):
    write(project / "train.py", TRAIN)
    return project


def _alias_bomb() -> str:
    """A YAML 'billion laughs' of about 5.7 KB: 60**17 strings if its aliases are followed."""
    lines = ['l0: &l0 ["lol"]']
    for i in range(1, 18):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 60) + "]")
    lines.append("x: *l17")
    return "\n".join(lines) + "\n"


def _one_line(r: subprocess.CompletedProcess, code: int) -> str:
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr


def test_alias_bomb_and_huge_attribute_files_are_listed_with_error(train):
    for _ in range(3):
        runyard.run("train.py", echo=False)
    bomb, huge, ok = [Path(d) for d in runyard.ls_runs()["dir"]]
    text = _alias_bomb()
    assert 5_000 < len(text) < 8_000
    (bomb / ".guild" / "attrs" / "flags").write_text(text)
    (huge / ".guild" / "attrs" / "comments").write_text("- " + "x" * (5 * 1024 * 1024) + "\n")
    measure = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
               "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, repr(r.stdout + r.stderr))")
    out = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "runyard.cli", "runs"],
                         capture_output=True, text=True, timeout=120, env={**__import__("os").environ,
                                                                           "RUNYARD_INDEX_RECHECK": "0"})
    code, max_kb, shown = out.stdout.split(" ", 2)
    assert code == "0" and "Traceback" not in shown, out.stdout + out.stderr
    assert int(max_kb) < 300_000  # KB: a followed alias bomb takes gigabytes
    assert shown.count("train.py") == 3
    df = runyard.ls_runs()
    errors = dict(zip(df["id"], df["error"]))
    assert "anchors and aliases are not allowed" in errors[bomb.name]
    assert "larger than 4 MiB" in errors[huge.name]
    assert errors[ok.name] != errors[ok.name]  # NaN: no error
    # a corrupt attribute read by `runs info` and `select --attr`: one line (AttrError is a RunyardError)
    assert issubclass(AttrError, RunyardError)
    _one_line(cli("select", "--attr", "flags", bomb.name), 1)
    r = cli("runs", "info", bomb.name)
    assert r.returncode == 0 and "anchors and aliases" in r.stdout and "Traceback" not in r.stderr


@pytest.mark.parametrize("make", ["directory-for-db", "file-for-dir"])
def test_unusable_cache_path_lists_without_cache_and_warns_once(train, make):
    runyard.run("train.py", echo=False)
    runyard.run("train.py", echo=False)
    cache = train / ".guild" / "cache"
    import shutil

    shutil.rmtree(cache)
    if make == "directory-for-db":
        (cache / "runs-v1.db").mkdir(parents=True)
    else:
        cache.write_text("not a directory")
    r = cli("runs")
    assert r.returncode == 0 and r.stdout.count("train.py") == 2, r.stderr
    assert r.stderr.count("warning: cannot use the index cache") == 1 and len(r.stderr.splitlines()) == 1
    r = cli("compare")
    assert r.returncode == 0 and "Traceback" not in r.stderr


def test_view_gives_400_or_404_for_odd_numbers_and_paths(train):
    run_id = runyard.run("train.py", echo=False).iloc[0]["id"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from runyard.web.app import create_app

    big, long = "99999999999999999999", "a" * 10_000
    want = {
        f"/api/run/{run_id}/output?start={big}": 400,
        f"/api/run/{run_id}/output?tail=-{big}": 400,
        f"/api/run/{run_id}/scalars?points={big}": 400,
        f"/api/runs/changes?since={big}": 400,
        f"/api/scalars?runs={run_id}&points={big}": 400,
        f"/files/{run_id}/{long}": 404,
        f"/files/{run_id}/" + "a/" * 5000 + "x": 404,
        f"/api/run/{run_id}/files?path={long}": 404,
        f"/api/run/{run_id}/source?path={long}": 404,
        f"/run/{long}": 404,
    }
    app = create_app(port=8773)
    try:
        with TestClient(app, base_url="http://127.0.0.1:8773", raise_server_exceptions=False) as c:
            got = {url: c.get(url).status_code for url in want}
            body = c.get(f"/files/{run_id}/{long}").text
    finally:
        app.view.close()
    assert got == want
    assert str(train) not in body and len(body) < 200  # one line, no server path


def test_over_long_int_flag_is_refused(train):
    err = _one_line(cli("run", "train.py", "x=" + "9" * 5000, "-y"), 2)
    assert "5000 digits" in err
    with pytest.raises(FlagError):
        runyard.run("train.py", {"x": 10 ** 5000}, echo=False)
    assert runs_in(train / ".guild") == []


def test_a_variable_with_an_empty_name_does_not_stop_a_run(train):
    # `env` (coreutils) can put "=value" in a process's environment, as R's processx does
    r = subprocess.run(["env", "=from-processx", sys.executable, "-m", "runyard.cli", "run", "train.py", "-y"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "empty name: from-processx" in r.stdout  # as `python train.py` would see it
    run = runyard.ls_runs().iloc[0]
    assert run["status"] == "completed"
    env = json.loads(cli("runs", "info", "--env", "--json").stdout)
    assert "" not in (env.get("environment") or env.get("env") or {})


def test_deeply_nested_attribute_files_are_listed_with_error(train):
    for _ in range(3):
        runyard.run("train.py", echo=False)
    block, flow, ok = [Path(d) for d in runyard.ls_runs()["dir"]]
    (block / ".guild" / "attrs" / "flags").write_text("- " * 50_000 + "x\n")  # overflowed the YAML loader's stack
    (flow / ".guild" / "attrs" / "tags").write_text("[" * 50_000 + "]" * 50_000 + "\n")
    r = cli("runs", env={"RUNYARD_INDEX_RECHECK": "0"})
    assert r.returncode == 0 and r.stdout.count("train.py") == 3, r.stderr
    df = runyard.ls_runs()
    errors = dict(zip(df["id"], df["error"]))
    assert "nested more than 100 levels" in errors[block.name]
    assert "tags: corrupt attribute file" in errors[flow.name]
