"""Issue 4: batches — grids, tables, searches, parallel trials, failure handling, Ctrl-C, background."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import runyard
from conftest import cli, runs_in, wait_for, write
from runyard.errors import FlagError
from runyard.flags.values import Function, decode, parse_assign

TRAIN = '''
import sys

#| min: 1
units = 64
#| min: 0.0
#| max: 1.0
learning_rate = 0.1

print(f"units={units} lr={learning_rate}")
print(f"loss: {abs(units - 100) * learning_rate:.4f}")
print(f"test_accuracy: {units / 2048:.4f}", file=sys.stderr)
'''

QUAD = '''
x = 0.0
print(f"loss: {(x - 2.0) ** 2:.6f}")
print(f"acc: {-(x - 2.0) ** 2:.6f}")
'''

SLEEP = '''
import time
x = 1
secs = 0.8
fail = False
print("start", flush=True)
time.sleep(secs)
if fail:
    raise SystemExit(3)
print(f"loss: {x}")
'''

UNITS = [16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048]


def _attrs(run_dir) -> dict:
    g = Path(run_dir) / ".guild" / "attrs"
    return {p.name: yaml.safe_load(p.read_text()) for p in g.iterdir()}


def _batches() -> "list":
    df = runyard.ls_runs(include_batch=True)
    return [r for _, r in df.iterrows() if r["operation"].endswith(("+", "+random", "+tpe"))]


# --- the seed's sweep -----------------------------------------------------------------------------

def test_units_sweep_from_python(project, capfd):
    write(project / "train.py", TRAIN)
    df = runyard.run("train.py", flags={"units": UNITS}, echo=False)
    assert len(df) == 14 and set(df["status"]) == {"completed"}
    assert sorted(df["flags.units"]) == UNITS
    assert set(df["flags.learning_rate"]) == {0.1}
    assert set(df["operation"]) == {"train.py"}
    assert capfd.readouterr().out == ""  # echo=False: nothing shown
    # The seed's next step: the latest 14 runs are the trials (the batch run is hidden).
    latest = runyard.ls_runs([str(i) for i in range(1, 15)])
    assert sorted(latest["flags.units"]) == UNITS
    assert len(runyard.ls_runs()) == 14
    for _, row in df.iterrows():
        assert row["scalars.loss"] == pytest.approx(abs(row["flags.units"] - 100) * 0.1, abs=1e-3)
        copy = (Path(row["dir"]) / "train.py").read_text()
        assert f"units = {row['flags.units']}" in copy
    # The batch run records its trials and links them.
    [batch] = _batches()
    assert batch["operation"] == "train.py+" and batch["status"] == "completed"
    a = _attrs(batch["dir"])
    assert sorted(a["trial_ids"]) == sorted(df["id"])
    assert [t["units"] for t in a["trials"]] == UNITS
    assert a["optimizer"] == "grid" and a["objective"] == "loss"
    for rid in df["id"]:
        link = Path(batch["dir"]) / rid
        assert link.is_symlink() and os.readlink(link) == f"../{rid}"
    assert (Path(batch["dir"]) / ".guild" / "opref").read_text().split()[-1] == "train.py+"
    r = cli("runs", "--include-batch", "--all")
    assert "train.py+" in r.stdout and len(r.stdout.strip().splitlines()) == 15
    assert "train.py+" not in cli("runs", "--all").stdout


def test_units_sweep_from_cli(project):
    write(project / "train.py", TRAIN)
    r = cli("run", "train.py", "units=[16,32]", "-y")
    assert r.returncode == 0, r.stderr
    df = runyard.ls_runs()
    assert sorted(df["flags.units"]) == [16, 32] and set(df["status"]) == {"completed"}
    # One worker, echo on: Guild's console — a header, then the trial's own output.
    assert r.stderr.count("INFO: Running trial ") == 2
    assert "train.py (units=16)" in r.stderr and "units=16 lr=0.1" in r.stdout and "units=32 lr=0.1" in r.stdout
    assert r.stdout.index("units=16") < r.stdout.index("units=32")


def test_grid_of_two_flags(project):
    write(project / "train.py", TRAIN)
    r = cli("run", "train.py", "units=[16,32]", "learning_rate=[0.1,0.2]", "-y", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    df = runyard.ls_runs()
    assert sorted(zip(df["flags.units"], df["flags.learning_rate"])) == [(16, 0.1), (16, 0.2), (32, 0.1), (32, 0.2)]
    assert df["label"].str.contains("units=").all()


def test_data_frame_and_list_of_dicts(project):
    import pandas as pd

    write(project / "train.py", TRAIN)
    table = pd.DataFrame({"learning_rate": [0.001, 0.003, 0.001, 0.003], "units": [128, 128, 256, 256]})
    df = runyard.run("train.py", table, echo=False)
    assert sorted(zip(df["flags.learning_rate"], df["flags.units"])) == sorted(zip(table.learning_rate, table.units))
    assert df["flags.units"].dtype.kind == "i"  # numpy ints came through as ints
    missing = pd.DataFrame({"units": [10, 20], "learning_rate": [0.5, float("nan")]})
    df = runyard.run("train.py", missing, echo=False).sort_values("flags.units")
    assert df["flags.learning_rate"].tolist() == [0.5, 0.1]  # a missing cell keeps the default
    df = runyard.run("train.py", [{"units": 7}, {"learning_rate": 0.7}], echo=False)
    assert sorted(zip(df["flags.units"], df["flags.learning_rate"])) == [(7, 0.1), (64, 0.7)]


def test_batch_files(project):
    write(project / "train.py", TRAIN)
    write(project / "trials.csv", "units,learning_rate\n16,0.1\n32,\n")
    write(project / "trials.yaml", "- {units: 48}\n- {units: 64, learning_rate: 0.3}\n")
    (project / "trials.json").write_text(json.dumps([{"units": 96}]))
    r = cli("run", "train.py", "@trials.csv", "-y", "-q")
    assert r.returncode == 0, r.stderr
    r = cli("run", "train.py", "@trials.yaml", "@trials.json", "-y", "-q")
    assert r.returncode == 0, r.stderr
    df = runyard.ls_runs()
    assert sorted(zip(df["flags.units"], df["flags.learning_rate"])) == [
        (16, 0.1), (32, 0.1), (48, 0.1), (64, 0.3), (96, 0.1)]
    # A batch file with a grid flag: every row times every value.
    r = cli("run", "train.py", "@trials.json", "learning_rate=[0.2,0.4]", "-y", "-q")
    assert r.returncode == 0, r.stderr
    assert sorted(runyard.ls_runs("1:2")["flags.learning_rate"]) == [0.2, 0.4]
    # From Python: a path.
    df = runyard.run("train.py", "trials.json", echo=False)
    assert df["flags.units"].tolist() == [96]


@pytest.mark.parametrize("args, message", [
    (["units=[16,abc]"], "invalid value for flag 'units': 'abc' is not an integer"),
    (["units=[16,0]"], "less than the minimum 1"),
    (["learning_rate=uniform[0:2]"], "greater than the maximum 1.0"),
    (["nope=[1,2]"], "unknown flag 'nope'"),
    (["units=[]"], "flag 'units' has an empty list of values"),
    (["@missing.csv"], "batch file not found: missing.csv"),
    (["units=[1:5]", "--optimizer", "grid"], "a grid can't take units=uniform[1:5]"),
    (["units=[1,2]", "--optimizer", "sgd"], "unknown optimizer 'sgd'"),
    (["units=linspace[1:2:x]"], "linspace count must be a whole number"),
    (["units=[1,2]", "--minimize", "loss", "--maximize", "acc"], "either --minimize or --maximize"),
])
def test_bad_batch_makes_nothing(project, args, message):
    write(project / "train.py", TRAIN)
    r = cli("run", "train.py", *args, "-y")
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert runs_in(project / ".guild") == []


# --- value syntax ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("range[1:10:3]", [1, 4, 7, 10]),
    ("range[0.1:0.3:0.1]", [0.1, 0.2, 0.3]),  # Guild AI 0.9 gives a fourth value, 0.4
    ("range[0:1:0.1]", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
    ("range[0:0.95:0.1]", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]),
    ("range[5:1:-2]", [5, 3, 1]),
    ("range[3:3]", [3]),
    ("linspace[0:1:5]", [0.0, 0.25, 0.5, 0.75, 1.0]),
    ("linspace[0:1]", [0.0, 0.25, 0.5, 0.75, 1.0]),
    ("logspace[0:3:4]", [1.0, 10.0, 100.0, 1000.0]),
    ("logspace[4:11:8:2]", [16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0]),
    ("geomspace[1:1000:4]", [1.0, 10.0, 100.0, 1000.0]),
    ("[1,2]*2", [1, 2, 1, 2]),
    ("[a:b]", ["a:b"]),
])
def test_sequence_functions_expand_exactly(text, expected):
    assert decode(text, "x") == expected


def test_search_function_syntax():
    assert decode("[1:10]") == Function("uniform", (1, 10))
    assert decode("uniform[0.1:0.5:0.2]") == Function("uniform", (0.1, 0.5, 0.2))
    assert decode("loguniform[1e-4:1e-1]") == Function("loguniform", (1e-4, 0.1))
    for bad in ("uniform[2:1]", "loguniform[0:1]", "uniform[a:b]", "range[1:5:0]", "range[5:1]",
                "range[0:1e9]", "linspace[0:1:0]", "linspace[0:1:2.5]", "uniform[0:1:5]"):
        with pytest.raises(FlagError):
            decode(bad, "x")
    with pytest.raises(FlagError, match="batch file not found"):
        parse_assign("@nothere.yaml")


def test_sequence_from_cli(project):
    write(project / "train.py", TRAIN)
    r = cli("run", "train.py", "learning_rate=range[0.1:0.3:0.1]", "units=logspace[4:5:2:2]", "-y", "-q")
    assert r.returncode == 0, r.stderr
    df = runyard.ls_runs()
    assert sorted(zip(df["flags.units"], df["flags.learning_rate"])) == [
        (16, 0.1), (16, 0.2), (16, 0.3), (32, 0.1), (32, 0.2), (32, 0.3)]


# --- searches ---------------------------------------------------------------------------------------

def test_random_search_max_trials_and_seed(project):
    write(project / "train.py", TRAIN)
    flags = {"learning_rate": "uniform[0.01:0.5]", "units": Function("uniform", (8, 100))}
    df = runyard.run("train.py", flags, max_trials=4, random_seed=7, echo=False)
    assert len(df) == 4
    assert df["flags.learning_rate"].between(0.01, 0.5).all()
    assert df["flags.units"].between(8, 100).all() and df["flags.units"].dtype.kind == "i"
    [batch] = _batches()
    assert batch["operation"] == "train.py+random"
    a = _attrs(batch["dir"])
    assert a["random_seed"] == 7 and a["max_trials"] == 4 and a["optimizer"] == "random"
    # The same seed draws the same trials.
    df2 = runyard.run("train.py", flags, max_trials=4, random_seed=7, echo=False)
    key = ["flags.units", "flags.learning_rate"]
    assert sorted(map(tuple, df[key].values.tolist())) == sorted(map(tuple, df2[key].values.tolist()))
    # [a:b] implies random search; 20 trials unless --max-trials.
    r = cli("run", "train.py", "learning_rate=[0.1:0.2]", "--max-trials", "2", "-y", "-q")
    assert r.returncode == 0, r.stderr
    assert runyard.ls_runs("1:2")["flags.learning_rate"].between(0.1, 0.2).all()


def test_max_trials_samples_a_grid(project):
    write(project / "train.py", TRAIN)
    df = runyard.run("train.py", {"units": [10, 20, 30, 40, 50]}, max_trials=2, random_seed=1, echo=False)
    assert len(df) == 2 and set(df["flags.units"]) <= {10, 20, 30, 40, 50}
    [batch] = _batches()
    trials = [t["units"] for t in _attrs(batch["dir"])["trials"]]
    assert trials == sorted(trials)  # a sample, kept in the grid's order


def test_tpe_minimizes_a_scalar(project):
    pytest.importorskip("optuna")
    write(project / "quad.py", QUAD)
    df = runyard.run("quad.py", {"x": "uniform[-6:6]"}, optimizer="tpe", max_trials=14, random_seed=5,
                     echo=False)
    assert len(df) == 14 and set(df["status"]) == {"completed"}
    assert df["flags.x"].between(-6, 6).all()
    [batch] = _batches()
    assert batch["operation"] == "quad.py+tpe"
    a = _attrs(batch["dir"])
    assert a["objective"] == "loss" and a["optimizer"] == "tpe" and len(a["trial_ids"]) == 14
    assert df["scalars.loss"].min() < 0.5  # TPE homes in on x = 2
    # Later trials (TPE-guided) are better on average than the first random ones.
    by_time = df.sort_values("started")["scalars.loss"].tolist()
    assert sum(by_time[-5:]) / 5 < sum(by_time[:4]) / 4


def test_tpe_maximizes_from_cli(project):
    pytest.importorskip("optuna")
    write(project / "quad.py", QUAD)
    r = cli("run", "quad.py", "x=[-6:6]", "-o", "tpe", "-m", "10", "--maximize", "acc", "--random-seed", "3",
            "-y", "-q")
    assert r.returncode == 0, r.stderr
    df = runyard.ls_runs()
    assert len(df) == 10 and df["scalars.acc"].max() > -0.5
    [batch] = _batches()
    assert _attrs(batch["dir"])["objective"] == "-acc"


# --- parallel trials -------------------------------------------------------------------------------

def _overlap(a, b) -> bool:
    return a["started"] < b["stopped"] and b["started"] < a["stopped"]


def test_two_workers_run_trials_at_once(project):
    write(project / "sleep.py", SLEEP)
    r = cli("run", "sleep.py", "x=[1,2,3,4]", "--workers", "2", "-y")
    assert r.returncode == 0, r.stderr
    df = runyard.ls_runs().sort_values("started")
    assert len(df) == 4 and set(df["status"]) == {"completed"}
    rows = [row for _, row in df.iterrows()]
    assert _overlap(rows[0], rows[1]) and _overlap(rows[2], rows[3])
    # Trials' output went to their runs, not the console, which shows the progress summary.
    assert "start" not in r.stdout
    assert "4 of 4 trials done" in r.stderr and "best loss" in r.stderr
    for _, row in df.iterrows():
        assert b"start" in (Path(row["dir"]) / ".guild" / "output").read_bytes()


# --- failures, stopping ----------------------------------------------------------------------------

def test_failing_trial_and_fail_fast(project):
    write(project / "sleep.py", SLEEP)
    df = runyard.run("sleep.py", {"fail": [False, True, False], "secs": 0}, echo=False)
    assert df.sort_values("started")["status"].tolist() == ["completed", "error", "completed"]
    assert df.set_index("flags.fail").loc[True, "exit_status"] == 3
    [batch] = _batches()
    assert batch["status"] == "completed"  # a failing trial doesn't fail the batch
    # --fail-fast: the batch stops at the failure; the trial after it never runs.
    r = cli("run", "sleep.py", "fail=[no,yes,no]", "secs=0", "--fail-fast", "-y", "-q")
    assert r.returncode == 1, r.stderr  # a failed trial makes the command fail
    df = runyard.ls_runs()
    assert len(df) == 5
    latest = runyard.ls_runs("1:2").sort_values("started")
    assert latest["status"].tolist() == ["completed", "error"]
    stopped = [b for b in _batches() if b["status"] == "error"]
    assert len(stopped) == 1 and stopped[0]["exit_status"] == 1
    assert len(_attrs(stopped[0]["dir"])["trial_ids"]) == 2
    assert not [r for r in runs_in(project / ".guild") if (r / ".guild" / "PENDING").exists()]


def test_fail_fast_stops_running_siblings(project):
    write(project / "sleep.py", SLEEP)
    t0 = time.time()
    trials = [{"fail": True, "secs": 0.3}, {"fail": False, "secs": 20}, {"fail": False, "secs": 0}]
    df = runyard.run("sleep.py", trials, workers=2, fail_fast=True, echo=False)
    assert time.time() - t0 < 15
    statuses = dict(zip(df["flags.secs"], df["status"]))
    assert statuses == {0.3: "error", 20: "terminated"}  # the third trial never ran
    assert len(runyard.ls_runs()) == 2


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_stops_every_running_trial(project, workers):
    write(project / "sleep.py", SLEEP)
    p = subprocess.Popen([sys.executable, "-m", "runyard.cli", "run", "sleep.py", "x=[1,2,3,4,5]", "secs=30",
                          "--workers", workers, "-y"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    n = int(workers)

    def started():
        return sum(1 for r in runs_in(project / ".guild")
                   if b"start" in ((r / ".guild" / "output").read_bytes()
                                   if (r / ".guild" / "output").exists() else b"")) >= n
    assert wait_for(started, timeout=30)
    os.killpg(p.pid, signal.SIGINT)  # what the terminal sends to its foreground group
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    df = runyard.ls_runs()
    assert len(df) == n  # trials that never started are gone
    assert set(df["status"]) == {"terminated"}
    [batch] = _batches()
    assert batch["status"] == "terminated" and batch["exit_status"] == -16
    assert sorted(_attrs(batch["dir"])["trial_ids"]) == sorted(df["id"])


def test_sigterm_to_a_batch_stops_its_trials(project):
    write(project / "sleep.py", SLEEP)
    p = subprocess.Popen([sys.executable, "-m", "runyard.cli", "run", "sleep.py", "x=[1,2,3]", "secs=30",
                          "--workers", "2", "-y", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert wait_for(lambda: len(runyard.ls_runs(running=True)) == 2, timeout=30)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=60)
    assert p.returncode != 0
    df = runyard.ls_runs()
    assert len(df) == 2 and set(df["status"]) == {"terminated"} and set(df["exit_status"]) == {-15}
    [batch] = _batches()
    assert batch["exit_status"] == -15


def test_needed_skips_trials_already_done(project):
    write(project / "train.py", TRAIN)
    runyard.run("train.py", {"units": [16, 32]}, echo=False)
    df = runyard.run("train.py", {"units": [16, 32, 48]}, needed=True, echo=False)
    assert df["flags.units"].tolist() == [48]
    assert len(runyard.ls_runs()) == 3
    r = cli("run", "train.py", "units=[16,48,64]", "--needed", "-y")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("INFO: Skipping trial") == 2
    assert sorted(runyard.ls_runs()["flags.units"]) == [16, 32, 48, 64]
    # A different flag value is not a match.
    df = runyard.run("train.py", {"units": [16], "learning_rate": 0.2}, needed=True, echo=False)
    assert len(df) == 1


# --- background, stage --------------------------------------------------------------------------------

def test_background_batch_returns_at_once(project):
    write(project / "sleep.py", SLEEP)
    t0 = time.time()
    df = runyard.run("sleep.py", {"x": [1, 2]}, wait=False)
    assert time.time() - t0 < 1.5
    assert len(df) == 2 and set(df["status"]) <= {"pending", "running"}
    assert wait_for(lambda: set(runyard.ls_runs()["status"]) == {"completed"}, timeout=30)
    assert sorted(runyard.ls_runs()["scalars.loss"]) == [1, 2]
    assert wait_for(lambda: _batches()[0]["status"] == "completed", timeout=10)
    log = (Path(_batches()[0]["dir"]) / ".guild" / "output").read_text()
    assert log.count("INFO: Running trial") == 2 and "2 of 2 trials done" in log
    r = cli("run", "sleep.py", "x=[3,4]", "secs=0", "--background", "-y")
    assert r.returncode == 0 and r.stdout.count("started in background as") == 2
    assert wait_for(lambda: len(runyard.ls_runs(completed=True)) == 4, timeout=30)


def test_stage_batch_makes_staged_trials(project):
    write(project / "train.py", TRAIN)
    r = cli("run", "train.py", "units=[16,32]", "--stage", "-y")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("staged as") == 2
    df = runyard.ls_runs()
    assert set(df["status"]) == {"staged"} and sorted(df["flags.units"]) == [16, 32]
    from runyard.batch import run_queue

    started = run_queue(run_once=True, echo=False)
    assert sorted(started) == sorted(df["id"])
    assert set(runyard.ls_runs()["status"]) == {"completed"}


def test_unknown_option_is_refused(project):
    write(project / "train.py", TRAIN)
    from runyard.errors import UsageError

    with pytest.raises(UsageError, match="unknown option 'bogus'"):
        runyard.run("train.py", {"units": [1, 2]}, bogus=1)
    with pytest.raises(UsageError, match="--workers needs a whole number"):
        runyard.run("train.py", None, "units=[1,2]", "--workers", "two")
    assert runs_in(project / ".guild") == []


def test_executor_option_is_saved_and_checked(project):
    """--executor NAME[:ARG] picks the executor; the batch's run parameters keep it (a resumed
    batch uses it again); a bad name is one line before anything is made."""
    write(project / "sleep.py", SLEEP)
    r = cli("run", "sleep.py", "x=[1,2]", "secs=0.1", "--executor", "local:2", "-y")
    assert r.returncode == 0, r.stderr
    [batch] = _batches()
    assert _attrs(batch["dir"])["run_params"]["executor"] == "local:2"
    r = cli("run", "sleep.py", "x=[1,2]", "--executor", "slurm", "-y")
    assert r.returncode == 2 and r.stderr.strip() == ("runyard: unknown executor 'slurm': choose from "
                                                      "dask, inline, local")
    r = cli("run", "sleep.py", "x=[1,2]", "--executor", "local:zero", "-y")
    assert r.returncode == 2 and "local:N" in r.stderr
    assert len(runyard.ls_runs(include_batch=True)) == 3  # the first batch and its two trials only
    r = cli("run", "sleep.py", "x=[3]", "secs=0.1", "--workers", "1", "-y")
    assert _attrs(_batches()[0]["dir"])["run_params"]["executor"] == "inline"
