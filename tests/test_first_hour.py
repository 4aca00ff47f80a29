"""Issue 10: the first hour on a real project — a git repo with an untracked data file, a
virtualenv and an export folder inside, argparse flags, and a script that prints ``epoch:``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import runyard
from conftest import cli, runs_in, write

TRAIN = '''
import argparse
p = argparse.ArgumentParser()
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--units", type=int, default=16)
a = p.parse_args()
print(f"batch_size={a.batch_size} lr={a.lr} units={a.units}")
for epoch in range(1, 4):
    print(f"epoch: {epoch}")
    print(f"loss: {a.lr / epoch:.4f}")
'''


def _git(project: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", *args], cwd=project, check=True, env=env, capture_output=True)


def _dir_size(d: Path) -> int:
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file() and not p.is_symlink())


def _source_files(run_dir: Path) -> list[str]:
    return sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")
                  if p.is_file() and ".guild" not in p.relative_to(run_dir).parts)


@pytest.fixture
def real_project(project):
    """A git project as people have them: 20 source files (train.py among them, committed), an
    untracked 40 MB data file, a virtualenv, and an export folder made by ``runyard export``."""
    write(project / "train.py", TRAIN)
    for i in range(1, 17):
        write(project / f"mod{i:02d}.py", f"X = {i}\n")
    write(project / "pkg" / "__init__.py", "")
    write(project / "pkg" / "model.py", "UNITS = 8\n")
    write(project / "README.md", "# my project\n")
    write(project / "__pycache__" / "mod01.cpython-311.pyc", "junk")
    (project / "data").mkdir()
    with open(project / "data" / "train.bin", "wb") as f:
        f.write(os.urandom(4096))
        f.truncate(40 * 1024 * 1024)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project / "venv")], check=True)
    for i in range(150):  # a few packages' worth of files
        write(project / "venv" / "lib" / "site-packages" / "pkgx" / f"m{i}.py", "x = 1\n")
    write(project / ".gitignore", ".guild/\n")
    _git(project, "init", "-q")
    _git(project, "add", "train.py", ".gitignore")
    _git(project, "commit", "-qm", "init")
    r = cli("run", "train.py", "-y", "-q")
    assert r.returncode == 0, r.stderr
    r = cli("export", "exported", "-y")
    assert r.returncode == 0, r.stderr
    assert (project / "exported" / ".guild-nocopy").exists()
    return project


# --- 1. source snapshots --------------------------------------------------------------------


def test_snapshot_of_a_real_project_stays_small(real_project):
    r = cli("run", "train.py", "-y", "-q")
    assert r.returncode == 0, r.stderr
    assert "skipped" not in r.stderr  # 20 source files: under the file limit, no warning
    rd = Path(runyard.ls_runs(1)["dir"][0])
    assert _source_files(rd) == sorted(["README.md", "train.py", *(f"mod{i:02d}.py" for i in range(1, 17)),
                                        "pkg/__init__.py", "pkg/model.py"])
    assert _dir_size(rd) < 1024 * 1024
    assert _dir_size(real_project / "data") > 40_000_000  # what used to be copied into every run


def test_test_sourcecode_says_why_and_makes_no_run(real_project):
    before = runs_in(real_project / ".guild")
    r = cli("run", "train.py", "--test-sourcecode")
    assert r.returncode == 0, r.stderr
    assert runs_in(real_project / ".guild") == before
    out = r.stdout
    assert "Copied (20 files" in out and "  train.py" in out and "  pkg/model.py" in out
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.startswith("  ")}
    assert "over 1.0 MiB (40.0 MiB)" in lines["data/train.bin"]
    assert "virtual environment (pyvenv.cfg)" in lines["venv/"]
    assert ".guild-nocopy" in lines["exported/"]
    assert "__pycache__" in lines["__pycache__/"]
    assert "venv/lib" not in out  # a skipped directory is named once


def test_snapshot_rules_outside_git(project):
    write(project / "train.py", "print('hi')\n")
    (project / "big.txt").write_text("x" * (1024 * 1024 + 1))
    (project / "model.bin").write_bytes(b"\x00\x01" * 10)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project / "env")], check=True)
    write(project / "conda" / "conda-meta" / "history", "")
    write(project / "conda" / "lib" / "x.py", "x = 1\n")
    write(project / "myhome" / "runs" / ("a" * 32) / ".guild" / "opref", "script:x '' '' t.py\n")
    write(project / "keep" / "util.py", "x = 1\n")
    r = cli("run", "train.py", "-y", "-q")
    assert r.returncode == 0, r.stderr
    assert _source_files(Path(runyard.ls_runs(1)["dir"][0])) == ["keep/util.py", "train.py"]
    out = cli("run", "train.py", "--test-sourcecode").stdout
    for path, why in [("big.txt", "over 1.0 MiB"), ("model.bin", "binary"), ("env/", "virtual environment"),
                      ("conda/", "conda-meta"), ("myhome/", "a runs home")]:
        assert any(line.split()[0] == path and why in line for line in out.splitlines() if line.strip()), (path, out)


@pytest.mark.parametrize("git", [False, True])
def test_file_limit_warns_once_and_names_a_rule(project, git):
    write(project / "train.py", "print('hi')\n")
    for i in range(130):
        write(project / "assets" / f"a{i:03d}.txt", "a\n")
    if git:
        _git(project, "init", "-q")
    r = cli("run", "train.py", "-y", "-q")
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if "limit" in line]
    assert len(warnings) == 1, r.stderr
    assert "copied 100 source files and skipped 31 more" in warnings[0]
    assert "#| sourcecode: [exclude: assets]" in warnings[0]
    files = _source_files(Path(runyard.ls_runs(1)["dir"][0]))
    assert len(files) == 100 and "train.py" in files
    # The rule it names works: no warning, and the assets are gone.
    (project / "train.py").write_text("#| sourcecode: [exclude: assets]\nprint('hi')\n")
    r = cli("run", "train.py", "-y", "-q")
    assert r.returncode == 0 and "limit" not in r.stderr, r.stderr
    assert _source_files(Path(runyard.ls_runs(1)["dir"][0])) == ["train.py"]


def test_front_matter_rules_override_the_defaults(real_project):
    (real_project / "train.py").write_text(
        "#| sourcecode:\n#|   - include: data/train.bin\n#|   - exclude: 'mod*.py'\n#|   - include: mod01.py\n"
        + TRAIN.lstrip())
    write(real_project / "venv" / "notes.txt", "kept by a rule\n")
    (real_project / "train.py").write_text((real_project / "train.py").read_text().replace(
        "#|   - include: mod01.py\n", "#|   - include: mod01.py\n#|   - include: venv/notes.txt\n"))
    out = cli("run", "train.py", "--test-sourcecode").stdout
    assert "excluded by the rule 'mod*.py'" in out
    r = cli("run", "train.py", "-y", "-q")
    assert r.returncode == 0, r.stderr
    files = _source_files(Path(runyard.ls_runs(1)["dir"][0]))
    assert "data/train.bin" in files and "venv/notes.txt" in files and "mod01.py" in files
    assert "mod02.py" not in files and "venv/pyvenv.cfg" not in files and not any(f.startswith("exported") for f in files)


# --- 2. flags as people write them ----------------------------------------------------------


def test_argparse_flags_answer_to_the_option_name_and_the_dest(real_project):
    for spelling in ("batch-size=64", "batch_size=48"):
        r = cli("run", "train.py", spelling, "-y", "-q")
        assert r.returncode == 0, r.stderr
    rows = runyard.ls_runs("1:2")
    assert list(rows["flags.batch_size"]) == [48, 64]
    assert "batch_size=48" in (Path(rows["dir"][0]) / ".guild" / "output").read_text()
    assert runyard.run("train.py", {"batch-size": 8}, echo=False)["flags.batch_size"][0] == 8
    r = cli("run", "train.py", "batch-size=1", "batch_size=2", "-y")
    assert r.returncode == 2 and "given twice" in r.stderr


@pytest.mark.parametrize("args, want", [
    (["--lr", "0.1"], "lr=0.1"), (["--units", "32"], "units=32"), (["--lr=-1"], "lr=-1"),
    (["--lr", "-1"], "lr=-1"), (["-q", "--verbose"], "verbose=yes"),
])
def test_dash_dash_flags_are_answered_with_the_name_value_form(project, args, want):
    write(project / "train.py", TRAIN)
    r = cli("run", "train.py", *args, "-y")
    assert r.returncode == 2
    assert r.stderr.strip() == f"runyard: flags are given as NAME=VALUE: {want}"
    assert not runs_in(project / ".guild")


def test_a_script_opening_a_config_file_gets_a_flags_dest_hint(project):
    write(project / "config.yml", "lr: 0.1\nunits: 32\n")
    write(project / "train.py", """
    import yaml
    with open("config.yml") as f:
        cfg = yaml.safe_load(f)
    print(f"width: {cfg['units']}")
    """)
    r = cli("run", "train.py", "units=64", "-y")
    assert r.returncode == 2
    assert "its flags: none" in r.stderr and "#| flags-dest: config:config.yml" in r.stderr
    assert "--force-flags" in r.stderr and "force_flags=True" not in r.stderr
    assert "#| flags-dest: config:config.yml" in cli("run", "train.py", "--help-op").stdout
    # The hint works as given.
    (project / "train.py").write_text("#| flags-dest: config:config.yml\n" + (project / "train.py").read_text())
    r = cli("run", "train.py", "units=64", "-y", "-q")
    assert r.returncode == 0, r.stderr
    row = runyard.ls_runs(1).iloc[0]
    assert row["flags.units"] == 64 and row["scalars.width"] == 64


def test_integer_flags_stay_integers_when_scripts_are_mixed(project):
    write(project / "train.py", TRAIN)
    write(project / "other.py", "name = 'x'\nprint('ok')\n")
    runyard.run("train.py", {"units": 32}, echo=False)
    runyard.run("other.py", echo=False)
    df = runyard.ls_runs()
    col = df["flags.units"]
    assert str(col.dtype) == "Int64"
    assert col.iloc[1] == 32 and str(col.iloc[1]) == "32"  # not 32.0
    assert col.isna().tolist() == [True, False]
    assert str(df["flags.lr"].dtype) == "float64"


# --- 3. steps -------------------------------------------------------------------------------


def test_epoch_lines_set_the_step(real_project):
    r = cli("run", "train.py", "-y", "-q")
    assert r.returncode == 0, r.stderr
    sc = runyard.ls_scalars(1)
    loss = sc[sc["tag"] == "loss"]
    assert list(loss["step"]) == [1, 2, 3]
    assert list(loss["value"]) == pytest.approx([0.1, 0.05, 0.0333], rel=1e-3)
    summ = runyard.ls_scalars(1, summary=True).set_index("tag")
    assert summ.loc["loss", "last_step"] == 3 and summ.loc["loss", "first_step"] == 1


# --- 6. Python API edges --------------------------------------------------------------------


def test_unknown_flag_error_names_the_python_argument_in_python(project):
    write(project / "train.py", TRAIN)
    with pytest.raises(runyard.errors.FlagError) as e:
        runyard.run("train.py", {"dropout": 0.5}, echo=False)
    assert "unknown flag 'dropout'" in str(e.value) and "force_flags=True" in str(e.value)
    assert "--force-flags" not in str(e.value)
    r = cli("run", "train.py", "dropout=0.5", "-y")
    assert r.returncode == 2 and "--force-flags accepts" in r.stderr and "force_flags=True" not in r.stderr
    r = cli("run", "train.py", "dropout=[0.1,0.2]", "-y")  # a batch: the same CLI wording
    assert r.returncode == 2 and "--force-flags accepts" in r.stderr
    assert not runs_in(project / ".guild")


FAILS = '''
import os, signal, sys
mode = "ok"
print("working")
print("loss: 0.5")
if mode == "error":
    print("bad input", file=sys.stderr)
    sys.exit(3)
if mode == "stop":
    os.kill(os.getpid(), signal.SIGTERM)
'''


def test_check_true_raises_run_failed_with_id_and_last_output(project):
    write(project / "fails.py", FAILS)
    df = runyard.run("fails.py", {"mode": "error"}, echo=False)  # the default: no raise
    assert df["status"][0] == "error"
    assert runyard.run("fails.py", echo=False, check=True)["status"][0] == "completed"
    with pytest.raises(runyard.RunFailed) as e:
        runyard.run("fails.py", {"mode": "error"}, echo=False, check=True)
    err = e.value
    latest = runyard.ls_runs(1).iloc[0]
    assert err.run_id == latest["id"] and err.status == "error" and err.exit_status == 3
    assert err.output[-3:] == ["working", "loss: 0.5", "bad input"]
    assert latest["id"][:8] in str(err) and "bad input" in str(err) and "fails.py" in str(err)
    with pytest.raises(runyard.errors.RunFailed) as e:
        runyard.run("fails.py", {"mode": "stop"}, echo=False, check=True)
    assert e.value.status == "terminated" and "was terminated" in str(e.value)
    with pytest.raises(runyard.RunFailed) as e:  # any trial of a batch
        runyard.run("fails.py", {"mode": ["ok", "error"]}, echo=False, check=True)
    assert e.value.status == "error"
    with pytest.raises(runyard.errors.UsageError, match="check=True needs wait=True"):
        runyard.run("fails.py", echo=False, wait=False, check=True)


def test_other_spellings_of_flag_names():
    from runyard.errors import FlagError
    from runyard.flags import FlagDef, canonical_names

    defs = {"batch_size": FlagDef("batch_size", 32, extra={"arg-name": "--batch-size"}),
            "lr": FlagDef("lr", 0.1, extra={"arg-name": "--learning-rate"}),
            "cuda": FlagDef("cuda", True, extra={"arg-name": "--no-cuda", "arg-switch": False}),
            "n_layers": FlagDef("n_layers", 2)}
    assert canonical_names(defs, {"batch-size": 1, "learning-rate": 0.2, "n-layers": 3}) == {
        "batch_size": 1, "lr": 0.2, "n_layers": 3}
    assert canonical_names(defs, {"no-cuda": True}) == {"no-cuda": True}  # not cuda=True: unknown
    with pytest.raises(FlagError, match="given twice"):
        canonical_names(defs, {"lr": 1, "learning-rate": 2})
