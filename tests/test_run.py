"""Issue 2: track every run of a Python script, with no change to the script."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import runyard
from conftest import cli, runs_in, wait_for, write

TRAIN = '''
#| description: A toy training script.
import sys

#| description: Learning rate.
#| min: 0.0
#| max: 1.0
learning_rate = 0.1

#| choices: [sgd, adam]
optimizer = "sgd"

units = 64
verbose = False
_private = 3

print(f"lr={learning_rate} opt={optimizer} units={units}")
for step in range(1, 4):
    print(f"step: {step}")
    print(f"loss: {1.0 / (step * (units / 64)):.4f}")
print("test_accuracy: 0.875", file=sys.stderr)
'''


def attrs(run_dir: Path) -> dict:
    out = {}
    for p in (run_dir / ".guild" / "attrs").iterdir():
        out[p.name] = yaml.safe_load(p.read_text())
    return out


def test_run_defaults_makes_a_guild_run_directory(project, capfd):
    write(project / "train.py", TRAIN)
    df = runyard.run("train.py")
    assert len(df) == 1
    row = df.iloc[0]
    assert row["status"] == "completed" and row["exit_status"] == 0
    assert row["operation"] == "train.py"
    assert row["label"] == "learning_rate=0.1 optimizer=sgd units=64 verbose=no"
    assert row["flags.learning_rate"] == 0.1 and row["flags.units"] == 64 and row["flags.optimizer"] == "sgd"
    assert "flags._private" not in df.columns
    assert row["scalars.loss"] == pytest.approx(1 / 3, abs=1e-4)
    assert row["scalars.test_accuracy"] == pytest.approx(0.875)
    run_dir = Path(row["dir"])
    assert run_dir.parent == project / ".guild" / "runs" and run_dir.name == row["id"]
    a = attrs(run_dir)
    for name in ("id", "initialized", "started", "stopped", "exit_status", "flags", "user_flags", "label", "cmd",
                 "env", "host", "user", "platform", "random_seed", "sourcecode_digest", "op"):
        assert name in a, name
    assert a["id"] == row["id"] and a["exit_status"] == 0 and a["user_flags"] == {}
    assert a["started"] <= a["stopped"] and isinstance(a["initialized"], int)
    g = run_dir / ".guild"
    assert (g / "opref").read_text().split()[-1] == "train.py"
    assert not (g / "LOCK").exists()
    out = (g / "output").read_bytes()
    assert b"lr=0.1 opt=sgd units=64" in out and b"test_accuracy: 0.875" in out
    assert len((g / "output.index").read_bytes()) == 9 * out.count(b"\n")
    index = (g / "output.index").read_bytes()
    lines = out.decode().splitlines()
    streams = [struct.unpack("!QB", index[i * 9:(i + 1) * 9])[1] for i in range(len(lines))]
    assert streams[lines.index("test_accuracy: 0.875")] == 1  # the stderr line is flagged as stream 1
    assert streams[lines.index("step: 1")] == 0
    assert "s train.py" in (g / "manifest").read_text()
    assert list(g.glob("events.out.tfevents.*"))
    assert (run_dir / "train.py").read_text() == (project / "train.py").read_text()
    shown = capfd.readouterr()
    assert "lr=0.1 opt=sgd units=64" in shown.out and "test_accuracy: 0.875" in shown.err


def test_flags_rewrite_the_run_copy_only(project):
    src = write(project / "train.py", TRAIN)
    before = src.read_text()
    df = runyard.run("train.py", flags={"learning_rate": 0.003, "units": 128}, echo=False)
    row = df.iloc[0]
    copy = (Path(row["dir"]) / "train.py").read_text()
    assert src.read_text() == before
    assert "learning_rate = 0.003" in copy and "units = 128" in copy
    assert len(copy.splitlines()) == len(before.splitlines())
    assert b"lr=0.003 opt=sgd units=128" in (Path(row["dir"]) / ".guild" / "output").read_bytes()
    a = attrs(Path(row["dir"]))
    assert a["user_flags"] == {"learning_rate": 0.003, "units": 128}
    assert a["flags"]["learning_rate"] == 0.003
    assert row["label"] == "learning_rate=0.003 optimizer=sgd units=128 verbose=no"


def test_ls_scalars_long_and_steps(project):
    write(project / "train.py", TRAIN)
    runyard.run("train.py", echo=False)
    s = runyard.ls_scalars()
    assert list(s.columns) == ["run", "path", "tag", "value", "step"]
    loss = s[s.tag == "loss"]
    assert list(loss.step) == [1, 2, 3]
    assert loss.value.tolist() == pytest.approx([1.0, 0.5, 0.3333], abs=1e-4)
    assert set(s.path) == {".guild"}
    summ = runyard.ls_scalars(summary=True)
    row = summ[summ.tag == "loss"].iloc[0]
    assert row["first_val"] == pytest.approx(1.0) and row["last_step"] == 3 and row["count"] == 3
    assert row["min_val"] == pytest.approx(0.3333, abs=1e-4) and row["max_step"] == 1


@pytest.mark.parametrize("arg, message", [
    ("nope=1", "unknown flag 'nope'"),
    ("units=abc", "invalid value for flag 'units'"),
    ("learning_rate=2", "greater than the maximum 1.0"),
    ("optimizer=rmsprop", "not one of: sgd, adam"),
    ("units", "expected NAME=VALUE"),
])
def test_bad_flags_are_refused_before_anything_is_made(project, arg, message):
    write(project / "train.py", TRAIN)
    r = cli("run", "train.py", arg, "-y")
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert runs_in(project / ".guild") == []


def test_force_flags_passes_unknown_flags(project):
    write(project / "train.py", TRAIN)
    r = cli("run", "train.py", "learning_rate=2", "--force-flags", "-y", "-q")
    assert r.returncode == 0, r.stderr
    assert runyard.ls_runs().iloc[0]["flags.learning_rate"] == 2


def test_required_flag(project):
    write(project / "t.py", '''
    import sys

    #| required: true
    data = ""
    print(data)
    ''')
    r = cli("run", "t.py", "-y")
    assert r.returncode == 2 and "missing required flag 'data'" in r.stderr
    assert cli("run", "t.py", "data=x", "-y", "-q").returncode == 0


def test_help_op_lists_flags(project):
    write(project / "train.py", TRAIN)
    r = cli("run", "train.py", "--help-op")
    assert r.returncode == 0
    assert "A toy training script." in r.stdout
    assert "learning_rate" in r.stdout and "Learning rate." in r.stdout and "default is 0.1" in r.stdout
    assert "range 0.0..1.0" in r.stdout and "choices: sgd, adam" in r.stdout
    assert runs_in(project / ".guild") == []


def test_cli_run_quiet_label_tag_comment(project):
    write(project / "train.py", TRAIN)
    r = cli("run", "train.py", "units=32", "-y", "-q", "--label", "small", "--tag", "a", "--tag", "b",
            "--comment", "first try")
    assert r.returncode == 0, r.stderr
    assert "lr=" not in r.stdout
    row = runyard.ls_runs().iloc[0]
    assert row["label"] == "small" and row["tags"] == ["a", "b"]
    assert row["comments"][0]["body"] == "first try"
    assert row["flags.units"] == 32


def test_error_exit_status_kept(project):
    write(project / "fail.py", 'import sys\nprint("loss: 1.5")\nsys.exit(3)\n')
    r = cli("run", "fail.py", "-y")
    assert r.returncode == 1
    row = runyard.ls_runs().iloc[0]
    assert row["status"] == "error" and row["exit_status"] == 3
    assert row["scalars.loss"] == 1.5


SLOW = 'import time\nprint("started", flush=True)\nfor i in range(600):\n    time.sleep(0.1)\n'


def test_sigterm_terminates(project):
    write(project / "slow.py", SLOW)
    p = subprocess.Popen([sys.executable, "-m", "runyard.cli", "run", "slow.py", "-y"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    assert wait_for(lambda: len(runs_in(project / ".guild")) == 1 and
                     (runs_in(project / ".guild")[0] / ".guild" / "LOCK").exists())
    assert wait_for(lambda: runyard.ls_runs().iloc[0]["status"] == "running")
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=20)
    row = runyard.ls_runs().iloc[0]
    assert row["status"] == "terminated" and row["exit_status"] == -15


def test_ctrl_c_terminates(project):
    write(project / "slow.py", SLOW)
    p = subprocess.Popen([sys.executable, "-m", "runyard.cli", "run", "slow.py", "-y"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    assert wait_for(lambda: b"" != (runs_in(project / ".guild") or [Path("/nonexistent")])[0].joinpath(
        ".guild", "output").read_bytes() if runs_in(project / ".guild") and
        runs_in(project / ".guild")[0].joinpath(".guild", "output").exists() else False)
    os.killpg(p.pid, signal.SIGINT)  # what the terminal sends to the foreground group
    p.wait(timeout=30)
    row = runyard.ls_runs().iloc[0]
    assert row["status"] == "terminated"


def test_sigkill_of_runyard_never_leaves_running(project):
    write(project / "slow.py", SLOW)
    p = subprocess.Popen([sys.executable, "-m", "runyard.cli", "run", "slow.py", "-y"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    assert wait_for(lambda: runs_in(project / ".guild") and
                     (runs_in(project / ".guild")[0] / ".guild" / "LOCK").exists())
    assert wait_for(lambda: runyard.ls_runs().iloc[0]["status"] == "running")
    p.kill()
    p.wait()
    assert wait_for(lambda: runyard.ls_runs().iloc[0]["status"] in ("error", "terminated"), timeout=10)


def test_reused_pid_in_lock_is_not_running(project, monkeypatch):
    monkeypatch.setenv("RUNYARD_INDEX_RECHECK", "0")  # the test edits a finished run behind runyard's back
    write(project / "ok.py", "print('x')\n")
    row = runyard.run("ok.py", echo=False).iloc[0]
    g = Path(row["dir"]) / ".guild"
    # Simulate a run whose supervisor died without finalizing, its PID since reused by a
    # process that started after the lock was written (this test process's parent is older,
    # so use a fresh child).
    (g / "attrs" / "exit_status").unlink()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (g / "LOCK").write_text(str(child.pid))
        past = time.time() - 60
        os.utime(g / "LOCK", (past, past))
        os.utime(g / "attrs", None)
        assert runyard.ls_runs().iloc[0]["status"] == "error"
        os.utime(g / "LOCK", None)  # a lock written after the process started: genuinely running
        os.utime(g / "attrs", None)
        assert runyard.ls_runs().iloc[0]["status"] == "running"
    finally:
        child.kill()


def test_background_returns_at_once(project):
    write(project / "bg.py", "import time\ntime.sleep(2)\nprint('loss: 0.5')\n")
    t0 = time.time()
    df = runyard.run("bg.py", wait=False)
    assert time.time() - t0 < 2
    assert df.iloc[0]["status"] == "running"
    assert runyard.ls_runs().iloc[0]["status"] == "running"
    assert wait_for(lambda: runyard.ls_runs().iloc[0]["status"] == "completed", timeout=30)
    assert runyard.ls_runs().iloc[0]["scalars.loss"] == 0.5


def test_cli_background(project):
    write(project / "bg.py", "import time\ntime.sleep(1)\n")
    r = cli("run", "bg.py", "--background", "-y")
    assert r.returncode == 0 and "started in background as" in r.stdout
    assert wait_for(lambda: runyard.ls_runs().iloc[0]["status"] == "completed", timeout=30)


def test_progress_bars_do_not_flood_output(project):
    write(project / "bar.py", '''
    import sys, time
    for i in range(200):
        sys.stderr.write(f"\\r{i/2:.0f}%")
        sys.stderr.flush()
    sys.stderr.write("\\rdone\\n")
    print("after")
    ''')
    row = runyard.run("bar.py", echo=False).iloc[0]
    out = (Path(row["dir"]) / ".guild" / "output").read_bytes()
    assert out.count(b"%") <= 1 and b"done\n" in out and b"after\n" in out


def test_script_event_files_are_scalars(project):
    pytest.importorskip("tensorboardX")
    write(project / "tb.py", '''
    from tensorboardX import SummaryWriter
    w = SummaryWriter("logs/train")
    for i in range(3):
        w.add_scalar("epoch_loss", 1.0 / (i + 1), i)
    w.close()
    ''')
    row = runyard.run("tb.py", echo=False).iloc[0]
    assert row["scalars.logs/train/epoch_loss"] == pytest.approx(1 / 3)
    s = runyard.ls_scalars()
    assert sorted(s[s.tag == "epoch_loss"].step) == [0, 1, 2]
    assert set(s.path) == {"logs/train"}


@pytest.mark.parametrize("via", ["api", "cli"])
def test_matplotlib_show_saves_figures(project, via):
    pytest.importorskip("matplotlib")  # (imports matplotlib here: the run must not inherit it)
    write(project / "plot.py", '''
    import matplotlib.pyplot as plt
    plt.plot([1, 2, 3])
    plt.show()
    plt.plot([3, 2, 1])
    plt.show()
    ''')
    if via == "cli":
        assert cli("run", "plot.py", "-y", "-q").returncode == 0
        row = runyard.ls_runs(1).iloc[0]
    else:
        row = runyard.run("plot.py", echo=False).iloc[0]
    plots = sorted(p.name for p in (Path(row["dir"]) / "plots").iterdir())
    assert plots == ["Figure001.png", "Figure002.png"]
    assert row["status"] == "completed"


def test_source_snapshot_without_git(project):
    write(project / "train.py", "print('hi')\n")
    write(project / "lib" / "util.py", "x = 1\n")
    write(project / "data.csv", "a,b\n1,2\n")
    (project / "model.bin").write_bytes(b"\x00\x01" * 10)
    (project / "big.txt").write_text("x" * (1024 * 1024 + 1))
    write(project / ".hidden" / "secret.py", "x = 1\n")
    write(project / "venv" / "pyvenv.cfg", "home = /usr\n")
    write(project / "__pycache__" / "x.pyc", "junk")
    row = runyard.run("train.py", echo=False).iloc[0]
    rd = Path(row["dir"])
    got = sorted(str(p.relative_to(rd)) for p in rd.rglob("*") if p.is_file() and ".guild" not in p.relative_to(rd).parts)
    assert got == ["data.csv", "lib/util.py", "train.py"]


def test_source_snapshot_front_matter_rules(project):
    write(project / "train.py", '''
    #| sourcecode:
    #|   - exclude: '*.csv'
    #|   - include: model.bin
    print('hi')
    ''')
    write(project / "data.csv", "a,b\n")
    (project / "model.bin").write_bytes(b"\x00\x01")
    row = runyard.run("train.py", echo=False).iloc[0]
    rd = Path(row["dir"])
    assert (rd / "model.bin").exists() and not (rd / "data.csv").exists()


def test_source_snapshot_in_git_project(project):
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.fail("git is needed for this test")
    write(project / "train.py", "print('hi')\n")
    write(project / ".gitignore", "ignored/\n*.log\n")
    write(project / "ignored" / "x.py", "x = 1\n")
    write(project / "run.log", "log\n")
    (project / "weights.bin").write_bytes(b"\x00" * 10)
    write(project / "notes.txt", "untracked\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "add", "train.py", ".gitignore"], cwd=project, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=project, check=True, env=env)
    row = runyard.run("train.py", echo=False).iloc[0]
    rd = Path(row["dir"])
    got = sorted(str(p.relative_to(rd)) for p in rd.rglob("*") if p.is_file() and ".guild" not in p.relative_to(rd).parts)
    assert got == ["notes.txt", "train.py"]  # untracked files are source too; binary files are not
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    assert attrs(rd)["vcs_commit"] == f"git:{sha}"


def test_secrets_removed_from_env(project, monkeypatch):
    monkeypatch.setenv("MY_API_TOKEN", "abc123")
    monkeypatch.setenv("PLAIN_VAR", "visible")
    write(project / "t.py", "import os\nprint(os.environ['MY_API_TOKEN'])\n")
    row = runyard.run("t.py", echo=False).iloc[0]
    env = attrs(Path(row["dir"]))["env"]
    assert "MY_API_TOKEN" not in env and env["PLAIN_VAR"] == "visible"
    assert b"abc123" in (Path(row["dir"]) / ".guild" / "output").read_bytes()  # the process still had it


def test_runs_list_and_info(project):
    write(project / "train.py", TRAIN)
    runyard.run("train.py", echo=False)
    runyard.run("train.py", {"units": 128}, echo=False)
    r = cli("runs")
    assert r.returncode == 0
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("[1:") and "units=128" in lines[0] and "completed" in lines[0]
    r = cli("runs", "info")
    assert "units: 128" in r.stdout and "status: completed" in r.stdout and "loss: " in r.stdout
    r = cli("runs", "info", "2")
    assert "units: 64" in r.stdout


def test_ls_runs_columns(project):
    write(project / "train.py", TRAIN)
    runyard.run("train.py", echo=False)
    df = runyard.ls_runs()
    assert list(df.columns[:13]) == ["id", "operation", "started", "stopped", "status", "exit_status", "label",
                                     "tags", "marked", "comments", "dir", "project_dir", "sourcecode_digest"]
    assert str(df["started"].dtype).startswith("datetime64")
    assert df.iloc[0]["project_dir"] == str(project)
    assert [c for c in df.columns if c.startswith("flags.")] == sorted(
        ["flags.learning_rate", "flags.optimizer", "flags.units", "flags.verbose"])


def test_import_and_help_load_no_pandas_or_web_stack():
    code = ("import sys, runyard; from runyard import cli; "
            "bad = [m for m in ('pandas', 'starlette', 'uvicorn', 'numpy', 'yaml', 'lark') if m in sys.modules]; "
            "print(bad)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr
    r = cli("--help")
    assert r.returncode == 0 and "run" in r.stdout
    code = ("import sys; sys.argv=['runyard','--help']\nfrom runyard import cli\ntry:\n cli.main()\n"
            "except SystemExit: pass\nprint([m for m in ('pandas','starlette','uvicorn') if m in sys.modules])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip().endswith("[]"), r.stdout


def test_output_is_live_without_unbuffered_python(project):
    """A script that prints without flushing is seen while it runs (not only at exit)."""
    go = project / "go"  # the script waits for it after its first line: seen while it still runs
    write(project / "live.py", f"import os, time\nprint('first line')\nwhile not os.path.exists({str(go)!r}):\n"
                               "    time.sleep(0.05)\nprint('done')\n")
    runyard.run("live.py", wait=False)
    path = Path(runyard.ls_runs(1)["dir"][0]) / ".guild" / "output"
    out = lambda: path.read_bytes() if path.exists() else b""  # noqa: E731
    assert wait_for(lambda: b"first line" in out(), timeout=30)
    assert runyard.ls_runs(1)["status"][0] == "running" and b"done" not in out()
    go.touch()
    assert wait_for(lambda: runyard.ls_runs(1)["status"][0] == "completed", timeout=20)
    assert b"done" in out()


SEMANTICS = '''
import atexit, os, random, sys, threading, time
import helper

def late():
    time.sleep(0.3)
    print("thread done", flush=True)

threading.Thread(target=late).start()          # a non-daemon thread: python waits for it
atexit.register(lambda: print("atexit ran"))
print("main:", __name__, "argv:", sys.argv)
print("cwd is run dir:", os.getcwd() == os.environ["RUN_DIR"])
print("path0:", sys.path[0] == os.getcwd(), "helper:", helper.VALUE)
print("rand:", random.random())
print("stdout tty:", sys.stdout.isatty())
if os.environ.get("FAIL"):
    def boom():
        raise ValueError("bad value")
    boom()
'''


@pytest.mark.parametrize("fork", ["1", "0"])
def test_python_semantics_in_a_run(project, monkeypatch, fork):
    """A run behaves as `python train.py` would, forked from runyard's command or started fresh."""
    monkeypatch.setenv("RUNYARD_FORK", fork)
    write(project / "sem.py", SEMANTICS)
    write(project / "helper.py", "VALUE = 42\n")
    for _ in range(2):
        assert cli("run", "sem.py", "-y", "-q").returncode == 0
    rows = [runyard.ls_runs(i).iloc[0] for i in (1, 2)]
    outs = [(Path(r["dir"]) / ".guild" / "output").read_text() for r in rows]
    for row, out in zip(rows, outs):
        assert row["status"] == "completed", out
        assert "main: __main__ argv: ['sem.py']" in out
        assert "cwd is run dir: True" in out and "path0: True helper: 42" in out
        assert "thread done" in out and "atexit ran" in out
        assert out.index("thread done") < out.index("atexit ran")
        assert "stdout tty: False" in out
    rands = [l for out in outs for l in out.splitlines() if l.startswith("rand:")]
    assert len(set(rands)) == 2  # each run has its own random state
    monkeypatch.setenv("FAIL", "1")
    assert cli("run", "sem.py", "-y", "-q").returncode == 1
    row = runyard.ls_runs(1).iloc[0]
    out = (Path(row["dir"]) / ".guild" / "output").read_text()
    assert row["status"] == "error" and row["exit_status"] == 1
    assert 'File "' in out and "sem.py" in out and "ValueError: bad value" in out
    assert "runpy" not in out and "runyard" not in out.split("Traceback")[1]  # python's own traceback


def test_argparse_script_gets_its_values_as_arguments(project):
    write(project / "ap.py", '''
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--learning-rate", type=float, default=0.1, help="Step size.")
    p.add_argument("--epochs", type=int, default=3, choices=[1, 3, 5])
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    print(f"lr={a.learning_rate} epochs={a.epochs} verbose={a.verbose}")
    print(f"loss: {a.learning_rate * a.epochs}")
    ''')
    r = cli("run", "ap.py", "--help-op")
    assert "learning-rate" in r.stdout and "Step size." in r.stdout and "choices: 1, 3, 5" in r.stdout
    row = runyard.run("ap.py", {"learning_rate": 0.5, "epochs": 5, "verbose": True}, echo=False).iloc[0]
    out = (Path(row["dir"]) / ".guild" / "output").read_text()
    assert "lr=0.5 epochs=5 verbose=True" in out and row["scalars.loss"] == 2.5
    assert (Path(row["dir"]) / "ap.py").read_text() == (project / "ap.py").read_text()  # args, not rewriting
    r = cli("run", "ap.py", "epochs=4", "-y")
    assert r.returncode == 2 and "not one of: 1, 3, 5" in r.stderr


@pytest.mark.parametrize("dest, text, check", [
    ("flags.yml", "lr: 0.1\nlayers:\n  units: 64\n", "units: 128"),
    ("flags.json", '{"lr": 0.1, "layers": {"units": 64}}', '"units": 128'),
])
def test_flags_dest_config_file(project, dest, text, check):
    write(project / dest, text)
    write(project / "cfg.py", f'''
    #| flags-dest: ./{dest}
    import json, yaml
    path = "{dest}"
    cfg = json.load(open(path)) if path.endswith(".json") else yaml.safe_load(open(path))
    print("units:", cfg["layers"]["units"])
    ''')
    row = runyard.run("cfg.py", {"layers.units": 128}, echo=False).iloc[0]
    assert row["flags.layers.units"] == 128 and row["flags.lr"] == 0.1
    assert check in (Path(row["dir"]) / dest).read_text()
    assert "64" in (project / dest).read_text()  # the project's file is untouched
    assert row["scalars.units"] == 128


def test_flags_dest_python_module(project):
    write(project / "settings.py", "lr = 0.1\nname = 'base'\n")
    write(project / "main.py", '''
    #| flags-dest: ./settings.py
    import settings
    print("rate:", settings.lr)
    print("lr:", settings.lr)  # a flag's name: not a scalar (Guild's rule)
    print("name is", settings.name)
    ''')
    row = runyard.run("main.py", {"name": "wide", "lr": 0.25}, echo=False).iloc[0]
    assert "name = 'wide'" in (Path(row["dir"]) / "settings.py").read_text()
    assert row["scalars.rate"] == 0.25 and "scalars.lr" not in row.index


def test_front_matter_output_scalars_label_and_tags(project):
    write(project / "custom.py", r'''
    #| output-scalars:
    #|   - step: 'Epoch (\step)'
    #|   - '(\key)=(\value)'
    #| label: custom ${lr}
    #| tags: [exp1]
    lr = 0.5
    for e in range(1, 4):
        print(f"Epoch {e}")
        print(f"acc={e / 10} val_acc={e / 20}")
    print("loss: 9")
    ''')
    row = runyard.run("custom.py", echo=False).iloc[0]
    s = runyard.ls_scalars()
    acc = s[s.tag == "acc"]
    assert list(acc.step) == [1, 2, 3] and acc.value.tolist() == [0.1, 0.2, 0.3]
    assert "loss" not in set(s.tag)  # the default patterns are replaced
    assert row["label"] == "custom 0.5" and row["tags"] == ["exp1"]


def test_failure_while_making_the_run_leaves_nothing(project):
    write(project / "bad.py", '''
    #| sourcecode:
    #|   - 42
    print("never runs")
    ''')
    r = cli("run", "bad.py", "-y")
    assert r.returncode == 2 and "invalid sourcecode rule" in r.stderr and "Traceback" not in r.stderr
    assert runs_in(project / ".guild") == []


def test_confirmation_only_on_a_terminal(project):
    pexpect = pytest.importorskip("pexpect")
    write(project / "t.py", "x = 1\nprint('ran with', x)\n")
    child = pexpect.spawn(sys.executable, ["-m", "runyard.cli", "run", "t.py", "x=2"], cwd=str(project),
                          encoding="utf-8", timeout=30)
    child.expect(r"You are about to run t\.py")
    child.expect(r"x: 2")
    child.expect(r"Continue\? \[Y/n\]")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and runs_in(project / ".guild") == []
    child = pexpect.spawn(sys.executable, ["-m", "runyard.cli", "run", "t.py", "x=3"], cwd=str(project),
                          encoding="utf-8", timeout=30)
    child.expect(r"Continue\? \[Y/n\]")
    child.sendline("y")
    child.expect("ran with 3")
    child.expect(pexpect.EOF)
    assert len(runs_in(project / ".guild")) == 1
    # Not a terminal: no question at all.
    r = cli("run", "t.py", "x=4")
    assert r.returncode == 0 and "Continue?" not in r.stdout and "ran with 4" in r.stdout


def test_unusable_runs_home_is_one_line(project, tmp_path):
    write(project / "t.py", "print(1)\n")
    bad = tmp_path / "a-file"
    bad.write_text("not a directory")
    for args in (("run", "t.py", "-y"), ("runs",)):
        r = cli(*args, env={"GUILD_HOME": str(bad)})
        assert r.returncode == 1 and r.stderr.startswith("runyard: Not a directory")
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_a_run_inherits_no_open_files(project):
    write(project / "fds.py", "import os\nprint('fds:', sorted(int(f) for f in os.listdir('/proc/self/fd')))\n")
    for fork in ("1", "0"):
        r = cli("run", "fds.py", "-y", env={"RUNYARD_FORK": fork})
        assert r.returncode == 0, r.stderr
        line = [l for l in r.stdout.splitlines() if l.startswith("fds:")][0]
        fds = eval(line.split(":", 1)[1])
        assert fds[:3] == [0, 1, 2] and len(fds) <= 4, (fork, fds)  # (+1: listdir's own fd)


@pytest.mark.parametrize("fork", ["1", "0"])
def test_stdout_and_stderr_keep_their_order(project, monkeypatch, fork):
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # the default: stdout block-buffered
    write(project / "order.py", '''
    import sys, time, warnings
    print("one")
    print("two", file=sys.stderr)
    time.sleep(0.3)  # (two pipes: what is written after a read is ordered by arrival)
    print("three")
    warnings.warn("four")
    time.sleep(0.3)
    print("five")
    ''')
    r = cli("run", "order.py", "-y", "-q", env={"RUNYARD_FORK": fork})
    assert r.returncode == 0, r.stderr
    out = (Path(runyard.ls_runs(1)["dir"][0]) / ".guild" / "output").read_text().splitlines()
    words = [w for l in out for w in ("one", "two", "three", "four", "five") if l.endswith(w) or f": {w}" in l]
    assert words == ["one", "two", "three", "four", "five"], out


def test_live_output_flusher_never_aborts_python_at_exit(tmp_path):
    """The flushing thread stops before the interpreter finalizes (a daemon thread caught in a
    flush at shutdown makes CPython abort with 'could not acquire lock for <stdout>')."""
    from runyard.lang.python import HOOKS_DIR

    env = {**os.environ, "PYTHONPATH": str(HOOKS_DIR), "RUNYARD_FLUSH_SECONDS": "0.0005"}
    env.pop("PYTHONUNBUFFERED", None)
    codes = [subprocess.run([sys.executable, "-c", "for i in range(3000): print('x' * 50)"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE).returncode for _ in range(40)]
    assert codes == [0] * 40


def test_sigterm_at_any_moment_after_running_terminates(project):
    """A SIGTERM as soon as the run reads 'running' (before its process has even started) still
    ends it 'terminated', never 'error' (the supervisor catches SIGTERM before it writes LOCK)."""
    write(project / "slow.py", SLOW)
    for _ in range(3):
        p = subprocess.Popen([sys.executable, "-m", "runyard.cli", "run", "slow.py", "-y", "-q"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        home = project / ".guild"
        assert wait_for(lambda: any((d / ".guild" / "LOCK").exists() for d in runs_in(home)), timeout=30)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)
    df = runyard.ls_runs()
    assert len(df) == 3 and set(df["status"]) == {"terminated"} and set(df["exit_status"]) == {-15}
