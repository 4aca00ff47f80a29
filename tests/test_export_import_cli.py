"""`runyard export` and `runyard import` through the CLI: round trips are byte-identical."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

import runyard
from conftest import cli, write
from guildrun import run_guild


def _tree(d: Path) -> dict:
    out = {}
    for p in sorted(d.rglob("*")):
        if p.is_symlink():
            out[str(p.relative_to(d))] = ("link", os.readlink(p))
        elif p.is_file():
            out[str(p.relative_to(d))] = (p.read_bytes(), os.stat(p).st_mode)
    return out


def _home_trees(home: Path) -> dict:
    return {p.name: _tree(p) for p in sorted((home / "runs").iterdir())}


# The module fixtures are made once: under pytest-xdist the tests share one worker.
pytestmark = pytest.mark.xdist_group("export-import-cli")


@pytest.fixture(scope="module")
def made_once(tmp_path_factory) -> Path:
    """A batch of two trials (x=1, x=2) and one plain run (x=3), made once by the real CLI."""
    proj = tmp_path_factory.mktemp("made")
    write(proj / "t.py", "x = 1\nprint(f'loss: {1 / x}')\nopen('out.txt', 'w').write(str(x))\n")
    env = {"GUILD_HOME": str(proj / ".guild")}
    assert cli("run", "t.py", "x=[1,2]", "-y", cwd=proj, env=env).returncode == 0
    assert cli("run", "t.py", "x=3", "-y", cwd=proj, env=env).returncode == 0
    assert len(list((proj / ".guild" / "runs").iterdir())) == 4  # the batch and its three runs
    return proj / ".guild" / "runs"


@pytest.fixture
def made(project, made_once):
    """The runs of ``made_once`` copied into this test's own runs home."""
    home = project / ".guild"
    shutil.copytree(made_once, home / "runs", symlinks=True)
    return home


def _wipe(home: Path) -> None:
    runyard.runs_delete(permanent=True, include_batch=True)
    assert not any((home / "runs").iterdir())


@pytest.mark.parametrize("kind", ["zip", "dir"])
def test_round_trip_is_byte_identical(made, tmp_path, kind):
    home = made
    before = _home_trees(home)
    location = tmp_path / ("all.zip" if kind == "zip" else "exported")
    r = cli("export", str(location), "--include-batch", "-y")
    assert r.returncode == 0, r.stderr
    assert "Exported 4 run(s)" in r.stdout
    _wipe(home)
    r = cli("import", str(location), "-y")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Imported 4 run(s)"
    after = _home_trees(home)
    assert after == before
    r = cli("runs", "list", "--include-batch")
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) == 4
    r = cli("import", str(location), "-y")
    assert r.returncode == 0 and "Imported 0 run(s) (4 already present)" in r.stdout
    assert not (home / "tmp").exists()


def test_export_include_batch_and_selection(made, tmp_path):
    d = tmp_path / "d"
    r = cli("export", str(d), "--include-batch", "-y")  # was: "no run matches" (the batch was dropped)
    assert r.returncode == 0, r.stderr
    assert len([p for p in d.iterdir() if not p.name.startswith(".")]) == 4
    r = cli("export", str(tmp_path / "one.zip"), "1", "-y")
    assert r.returncode == 0 and "Exported 1 run(s)" in r.stdout
    latest = runyard.ls_runs(1)["id"][0]
    with zipfile.ZipFile(tmp_path / "one.zip") as zf:
        assert {n.split("/", 1)[0] for n in zf.namelist()} == {latest}


def test_export_appends_to_a_zip_keeping_what_is_there(made, tmp_path):
    z = tmp_path / "runs.zip"
    assert cli("export", str(z), "1", "-y").returncode == 0
    with zipfile.ZipFile(z) as zf:
        first = {i.filename: zf.read(i) for i in zf.infolist()}
    assert cli("export", str(z), "-y").returncode == 0
    with zipfile.ZipFile(z) as zf:
        assert zf.testzip() is None
        assert {n: zf.read(n) for n in first} == first
        assert len({n.split("/", 1)[0] for n in zf.namelist()}) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name != "project"] == ["runs.zip"]  # no temp file left
    (tmp_path / "bad.zip").write_bytes(b"not a zip at all")
    r = cli("export", str(tmp_path / "bad.zip"), "-y")
    assert r.returncode == 2 and "not a readable zip" in r.stderr
    assert (tmp_path / "bad.zip").read_bytes() == b"not a zip at all"


def test_move_out_and_back_in(made, tmp_path):
    home = made
    before = _home_trees(home)
    d = tmp_path / "moved"
    r = cli("export", str(d), "--include-batch", "--move", "-y")
    assert r.returncode == 0, r.stderr
    assert not any((home / "runs").iterdir()) and not (home / "tmp").exists()
    r = cli("import", str(d), "--move", "-y")
    assert r.returncode == 0 and "Imported 4 run(s)" in r.stdout
    assert _home_trees(home) == before
    assert [p.name for p in d.iterdir()] == [".guild-nocopy"]
    assert cli("export", str(tmp_path / "z.zip"), "-y").returncode == 0
    r = cli("import", str(tmp_path / "z.zip"), "--move", "-y")
    assert r.returncode == 2 and "--move cannot be used" in r.stderr


def test_import_chosen_runs_only(made, tmp_path):
    home = made
    z = tmp_path / "all.zip"
    assert cli("export", str(z), "--include-batch", "-y").returncode == 0
    wanted = runyard.ls_runs(1)["id"][0]
    _wipe(home)
    r = cli("import", str(z), wanted[:8], "-y")
    assert r.returncode == 0 and r.stdout.strip() == "Imported 1 run(s)"
    assert [p.name for p in (home / "runs").iterdir()] == [wanted]
    r = cli("import", str(tmp_path / "missing.zip"), "-y")
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_guild_archives_both_ways(made, tmp_path):
    """A zip made by Guild AI 0.9's export imports into runyard; runyard's zip imports into Guild."""
    home = made
    z = tmp_path / "ours.zip"
    assert cli("export", str(z), "-y").returncode == 0
    ghome = tmp_path / "guild-home"
    ghome.mkdir()
    run_guild("import", "-y", str(z), home=ghome, check=True)
    assert sorted(p.name for p in (ghome / "runs").iterdir()) == sorted(runyard.ls_runs()["id"])
    theirs = tmp_path / "theirs.zip"
    run_guild("export", "-y", str(theirs), home=ghome, check=True)
    before = _home_trees(home)
    _wipe(home)
    r = cli("import", str(theirs), "-y")
    assert r.returncode == 0 and "Imported 3 run(s)" in r.stdout, r.stderr
    after = _home_trees(home)
    assert {i: {k: v[0] for k, v in t.items()} for i, t in after.items()} == \
        {i: {k: v[0] for k, v in before[i].items()} for i in after}  # every file's bytes
