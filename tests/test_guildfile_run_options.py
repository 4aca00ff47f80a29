"""The run options Guild users rely on: --restart, --proto, --gpus/--no-gpus, --print-cmd,
--test-flags, --test-output-scalars; and runyard check. Scripts and guild.yml operations alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import cli, runs_in, write
from guildrun import guild_exe, run_guild
from runyard.store.attrs import read as read_attr

SCRIPT = """
import os, sys
x = 1
print("cuda=%r x=%s" % (os.environ.get("CUDA_VISIBLE_DEVICES"), x))
print("loss: %s" % (x / 10))
if not os.path.exists("second-try"):
    open("second-try", "w").write("")
    sys.exit(3)
"""


def _attr(run: Path, name: str):
    p = run / ".guild" / "attrs" / name
    return read_attr(p) if p.exists() else None


def _latest(project: Path) -> Path:
    return max(runs_in(project / ".guild"), key=lambda d: _attr(d, "started") or 0)


@pytest.mark.parametrize("op", ["fail.py", "fail"])
def test_restart_proto_and_gpus(project, op):
    write(project / "fail.py", SCRIPT)
    write(project / "guild.yml", "fail:\n  main: fail\n  flags:\n    x: 1\n")
    r = cli("run", "-y", op, "--gpus", "0,1")
    assert r.returncode == 1 and "cuda='0,1' x=1" in r.stdout
    run = _latest(project)
    assert _attr(run, "env")["CUDA_VISIBLE_DEVICES"] == "0,1"
    r = cli("run", "-y", "--restart", run.name[:8], "--no-gpus")
    assert r.returncode == 0, r.stderr
    assert "cuda='' x=1" in r.stdout
    assert runs_in(project / ".guild") == [run]  # the same run directory, its files kept
    assert (run / "second-try").exists() and _attr(run, "exit_status") == 0
    assert cli("runs").stdout.split()[4] == "completed"
    assert (run / ".guild" / "output").read_text().count("cuda=") == 1  # the output starts over
    r = cli("run", "-y", "--restart", run.name[:8])
    assert r.returncode == 2 and "completed: use --proto" in r.stderr
    r = cli("run", "-y", "--proto", run.name[:8], "x=5")
    assert r.returncode == 1 and "cuda=None x=5" in r.stdout  # a new run, RUN's source: no second-try
    new = _latest(project)
    assert new != run and _attr(new, "flags")["x"] == 5
    r = cli("run", "-y", "--restart", new.name[:8], "x=7")
    assert r.returncode == 0 and "x=7" in r.stdout and _attr(new, "flags")["x"] == 7


def test_guild_reads_a_restarted_run(project):
    guild_exe()
    write(project / "fail.py", SCRIPT)
    cli("run", "-y", "fail.py")
    run = _latest(project)
    assert cli("run", "-y", "--restart", run.name[:8]).returncode == 0
    out = run_guild("runs", "info", run.name[:8], home=project / ".guild", cwd=project).stdout
    assert "status: completed" in out and "exit_status: 0" in out and "x: 1" in out


def test_print_cmd_test_flags_and_test_output_scalars(project):
    write(project / "train.py", "import argparse\np = argparse.ArgumentParser()\n"
                                "p.add_argument('--lr', type=float, default=0.1)\np.parse_args()\n")
    write(project / "guild.yml", """
    train:
      main: train
      flags-import: all
      output-scalars:
        acc: 'accuracy=(\\value)'
    """)
    for op, cmd in (("train.py", "train.py --lr 0.5"), ("train", "train.py --lr 0.5")):
        r = cli("run", op, "lr=0.5", "--print-cmd")
        assert r.returncode == 0 and r.stdout.strip().endswith(cmd), r.stderr
        r = cli("run", op, "lr=0.5", "--test-flags")
        assert r.stdout.splitlines() == ["flags-dest: args", "flags:", "  lr: 0.5"]
    assert runs_in(project / ".guild") == []  # nothing was made
    write(project / "out.txt", "accuracy=0.9\nloss: 2\n")
    r = cli("run", "train", "--test-output-scalars", "out.txt")
    assert r.stdout.splitlines() == ["accuracy=0.9", "  acc=0.9 (step 0)", "loss: 2", "  -"]
    r = cli("run", "train.py", "--test-output-scalars", "-", input="step: 3\nloss: 2\n")
    assert r.stdout.splitlines() == ["step: 3", "  -", "loss: 2", "  loss=2 (step 3)"]
    assert runs_in(project / ".guild") == []


def test_check(project):
    r = cli("check")
    assert r.returncode == 0, r.stderr
    lines = dict(l.split(":", 1) for l in r.stdout.splitlines())
    assert lines["guild_home"].strip() == str(project / ".guild")
    assert lines["script_languages"].split() == [".py", ".r"]
    for part in ("r", "view", "dask"):
        assert lines[part].strip().startswith(("usable", "R", "Rscript", "not usable")), lines[part]
    assert "version" in lines["r"]  # R is installed by the test command
