"""Issue 9 point 2: text that isn't valid UTF-8 never harms a home.

Refused at every input (CLI, API, view, batch files) with one line and exit 2, nothing made;
read safely when it is already in a run (hand-edited or imported files, an older cache).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import runyard
from conftest import runs_in, write
from runyard.errors import TextError

TRAIN = '''
x = 1
name = "a"
print("loss: 0.5")
'''

BAD = b"bad\xff"  # not UTF-8: Python reads it (argv, files) as the lone surrogate \udcff


def cli_bytes(*args: bytes | str, cwd: Path) -> subprocess.CompletedProcess:
    """The real command with raw bytes in its argv (as a shell passes them)."""
    argv = [a if isinstance(a, bytes) else a.encode() for a in args]
    return subprocess.run([sys.executable.encode(), b"-m", b"runyard.cli", *argv], cwd=cwd, capture_output=True,
                          timeout=60)


@pytest.fixture
def train(project):
    write(project / "train.py", TRAIN)
    return project


def _one_line_refusal(r: subprocess.CompletedProcess) -> None:
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "not valid UTF-8" in err or "can't decode" in err, err


@pytest.mark.parametrize("args", [
    [b"-l", BAD], [b"-t", BAD], [b"--comment", BAD], [b"name=" + BAD], [b"name=[ok," + BAD + b"]"],
    [BAD + b"=1", b"--force-flags"],
], ids=["label", "tag", "comment", "flag", "grid-item", "flag-name"])
def test_cli_refuses_bad_text_and_makes_nothing(train, args):
    r = cli_bytes("run", "train.py", "-y", *args, cwd=train)
    _one_line_refusal(r)
    assert runs_in(train / ".guild") == []


@pytest.mark.parametrize("name,content", [
    ("b.csv", b"name\nok\n" + BAD + b"\n"),
    ("b.yml", b'- name: "bad\\udcff"\n'),
    ("b.json", b'[{"name": "bad\\udcff"}]'),
])
def test_batch_files_with_bad_text_are_refused(train, name, content):
    (train / name).write_bytes(content)
    r = cli_bytes("run", "train.py", "-y", "@" + name, cwd=train)
    _one_line_refusal(r)
    assert runs_in(train / ".guild") == []


def test_api_refuses_bad_text_and_changes_nothing(train):
    with pytest.raises(TextError):
        runyard.run("train.py", label="x\udcff", echo=False)
    with pytest.raises(TextError):
        runyard.run("train.py", {"name": "x\udcff"}, echo=False)
    assert runs_in(train / ".guild") == []
    run = runyard.run("train.py", echo=False)
    for call in (lambda: runyard.runs_tag(run, add="x\udcff"), lambda: runyard.runs_label(run, "x\udcff"),
                 lambda: runyard.runs_comment(run, "x\udcff")):
        with pytest.raises(TextError):
            call()
    r = runyard.ls_runs().iloc[0]
    assert r["label"] == "name=a x=1" and not r["tags"] and not r["comments"]
    # and through the CLI on an existing run
    r = cli_bytes("tag", b"-a", BAD, b"-y", cwd=train)
    _one_line_refusal(r)


def test_view_refuses_bad_text(train):
    run_id = runyard.run("train.py", echo=False).iloc[0]["id"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from runyard.web.app import create_app

    app = create_app(port=8772)
    base = "http://127.0.0.1:8772"
    try:
        with TestClient(app, base_url=base) as c:
            h = {"X-Runyard-Token": app.view.token, "Origin": base, "content-type": "application/json"}
            for action, field in (("label", '"label": "x\\udcff"'), ("tag", '"add": ["x\\udcff"]'),
                                  ("comment", '"comment": "x\\udcff"')):
                r = c.post(f"/api/runs/{action}", content=f'{{"runs": ["{run_id}"], {field}}}', headers=h)
                assert r.status_code == 400 and "not valid UTF-8" in r.json()["error"], (action, r.text)
            assert c.get("/api/runs").status_code == 200
    finally:
        app.view.close()
    assert runyard.ls_runs().iloc[0]["label"] == "name=a x=1"


def _three_runs(project: Path) -> list[Path]:
    for _ in range(3):
        runyard.run("train.py", echo=False)
    return [Path(d) for d in runyard.ls_runs()["dir"]]


def test_hand_edited_bad_text_is_read_safely_and_the_others_list(train):
    a, b, c = _three_runs(train)
    (a / ".guild" / "attrs" / "label").write_bytes(b"lab\xffel\n")  # not UTF-8: listed with its error
    (b / ".guild" / "attrs" / "label").write_bytes(b'"x\\uDCFF"\n')  # a lone surrogate escape: read escaped
    (c / ".guild" / "opref").write_bytes(b"script:/x '' '' tr\xffain.py\n")
    import shutil

    shutil.rmtree(train / ".guild" / "cache")  # (as for imported runs: new to the index)
    os.environ["RUNYARD_INDEX_RECHECK"] = "0"
    try:
        for args in (["runs"], ["compare"], ["runs", "info", a.name], ["select", "--attr", "label", b.name]):
            r = cli_bytes(*args, cwd=train)
            assert r.returncode == 0 and b"Traceback" not in r.stderr, (args, r.stderr)
        df = runyard.ls_runs()
        by_id = {row["id"]: row for _, row in df.iterrows()}
        assert len(df) == 3
        assert "not valid UTF-8" in by_id[a.name]["error"]
        assert by_id[b.name]["label"] == "x\\udcff"
        info = cli_bytes("runs", "info", c.name, cwd=train)
        assert info.returncode == 0 and b"error: opref: " in info.stdout, info.stdout
        with open(a / ".guild" / "attrs" / "label", "w") as f:  # fixed in place, as Guild AI writes
            f.write("fixed\n")
        r = cli_bytes("runs", cwd=train)
        assert b"fixed" in r.stdout, r.stdout
        assert runyard.ls_runs().set_index("id").loc[a.name, "label"] == "fixed"
        r = cli_bytes("runs", "delete", "-y", cwd=train)
        assert r.returncode == 0, r.stderr
        assert runyard.ls_runs().empty and len(runyard.ls_runs(deleted=True)) == 3
    finally:
        del os.environ["RUNYARD_INDEX_RECHECK"]


def test_a_poisoned_cache_row_does_not_break_listing(train):
    a, b, c = _three_runs(train)
    db = sqlite3.connect(train / ".guild" / "cache" / "runs-v1.db")
    with db:  # a row as an older runyard wrote it: JSON holding a lone surrogate
        db.execute("UPDATE runs SET data = ? WHERE id = ?",
                   ('{"id": "%s", "label": "x\\udcff", "started": 1}' % b.name, b.name))
    db.close()
    r = cli_bytes("runs", cwd=train)
    assert r.returncode == 0 and r.stdout.decode().count("train.py") == 3, r.stderr
    assert len(runyard.ls_runs()) == 3
