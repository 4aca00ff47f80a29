"""Guild AI 0.9 compatibility: its runs read as ours, ours list correctly in Guild."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

import runyard
from conftest import write
from guildrun import guild_exe, run_guild

FIXTURE = Path(__file__).parent / "fixtures" / "guild-runs"


@pytest.fixture
def guild_home(tmp_path, monkeypatch):
    home = tmp_path / "guild-home"
    shutil.copytree(FIXTURE / "runs", home / "runs", symlinks=True)
    shutil.copytree(FIXTURE / "trash", home / "trash", symlinks=True)
    monkeypatch.setenv("GUILD_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home


def test_runs_made_by_guild_read_as_ours(guild_home):
    df = runyard.ls_runs()
    assert [i[:8] for i in df["id"]] == ["623241c4", "31f11bc1", "b06781bd", "f1f9cf5d"]
    assert list(df["status"]) == ["completed", "error", "completed", "completed"]
    assert list(df["exit_status"]) == [0, 3, 0, 0]
    assert list(df["flags.x"]) == [4, 3, 2, 1]
    assert list(df["flags.lr"]) == [0.001, 0.1, 0.01, 0.1]
    assert list(df["flags.name"]) == ["c", "a", "b", "a"]
    assert list(df["operation"]) == ["train.py"] * 4
    assert df["scalars.loss"].tolist() == [0.25] * 4
    assert df["scalars.acc"].tolist() == pytest.approx([0.9] * 4)
    best = df.iloc[0]
    assert best["label"] == "best run" and best["tags"] == ["best"] and bool(best["marked"])
    assert best["comments"][0]["body"] == "looks good"
    assert best["project_dir"] == "/tmp/runyard-guild-fixture/proj"
    s = runyard.ls_scalars("623241c4")
    assert sorted(zip(s.tag, s.step)) == [("acc", 2), ("loss", 1), ("loss", 2)]
    assert set(s.path) == {".guild"}
    deleted = runyard.ls_runs(deleted=True)
    assert [i[:8] for i in deleted["id"]] == ["c55fa867"] and deleted.iloc[0]["flags.x"] == 5
    assert [l.rstrip() for l in
            runyard.ls_runs(filter="flag:x >= 2 and scalar:loss < 0.3")["id"].str[:8]] == [
        "623241c4", "31f11bc1", "b06781bd"]


def test_guild_lists_runyard_runs(project):
    guild_exe()
    write(project / "train.py", '''
    x = 1
    lr = 0.1
    name = "a"
    print("step: 1")
    print("loss: 0.5")
    print("step: 2")
    print("loss: 0.25")
    print("acc: 0.875")
    if x == 3:
        raise SystemExit(3)
    ''')
    runyard.run("train.py", echo=False)
    runyard.run("train.py", {"x": 3, "lr": 0.01, "name": "b"}, echo=False)
    r = run_guild("runs", home=project / ".guild", cwd=project, check=True)
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2
    assert "train.py" in lines[0] and "error" in lines[0] and "lr=0.01 name=b x=3" in lines[0]
    assert "completed" in lines[1] and "lr=0.1 name=a x=1" in lines[1]
    r = run_guild("compare", "--csv", "-", home=project / ".guild", cwd=project, check=True)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["status"] for row in rows] == ["error", "completed"]
    assert [row["x"] for row in rows] == ["3", "1"] and [row["name"] for row in rows] == ["b", "a"]
    assert [row["lr"] for row in rows] == ["0.01", "0.1"]
    assert [float(row["loss"]) for row in rows] == [0.25, 0.25]
    assert [float(row["acc"]) for row in rows] == pytest.approx([0.875, 0.875])
