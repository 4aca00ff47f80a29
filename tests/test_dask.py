"""Issue 4: trials on a dask.distributed cluster whose workers share the runs home."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runyard
from conftest import runs_in, write

distributed = pytest.importorskip("distributed")

SLEEP = '''
import os, time
import psutil

x = 1
secs = 0.8
print("start", flush=True)
print("worker", psutil.Process(os.getppid()).ppid(), flush=True)  # trial <- supervisor <- dask worker
time.sleep(secs)
print(f"loss: {x}")
'''


@pytest.fixture(scope="module")
def cluster():
    c = distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None)
    client = distributed.Client(c)
    try:
        yield c, client
    finally:
        client.close()
        c.close()


def _overlap(a, b) -> bool:
    return a["started"] < b["stopped"] and b["started"] < a["stopped"]


def test_trials_run_on_dask_workers(project, cluster):
    c, client = cluster
    write(project / "sleep.py", SLEEP)
    worker_pids = set(client.run(os.getpid).values())
    df = runyard.run("sleep.py", {"x": [1, 2, 3, 4]}, dask=c.scheduler_address, echo=False)
    assert len(df) == 4 and set(df["status"]) == {"completed"}
    assert sorted(df["scalars.loss"]) == [1, 2, 3, 4]
    ran_on = set()
    for _, row in df.iterrows():
        out = (Path(row["dir"]) / ".guild" / "output").read_text()
        ran_on.add(int(out.split("worker ")[1].split()[0]))
    assert ran_on == worker_pids  # both workers took trials
    rows = [r for _, r in df.sort_values("started").iterrows()]
    assert _overlap(rows[0], rows[1])
    batch = runyard.ls_runs(include_batch=True, operation="sleep.py+").iloc[0]
    assert batch["status"] == "completed"


def test_dask_from_cli_shows_progress(project, cluster):
    c, _ = cluster
    write(project / "sleep.py", SLEEP)
    r = subprocess.run([sys.executable, "-m", "runyard.cli", "run", "sleep.py", "x=[5,6]", "secs=0.1",
                        "--dask", c.scheduler_address, "-y"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "2 of 2 trials done" in r.stderr and "best loss" in r.stderr
    assert "start" not in r.stdout  # trial output stays in the run directories
    assert sorted(runyard.ls_runs()["flags.x"]) == [5, 6]


def test_ctrl_c_stops_dask_trials(project, cluster):
    c, _ = cluster
    write(project / "sleep.py", SLEEP)
    p = subprocess.Popen([sys.executable, "-m", "runyard.cli", "run", "sleep.py", "x=[1,2,3]", "secs=30",
                          "--dask", c.scheduler_address, "-y"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)

    def two_started():
        n = 0
        for r in runs_in(project / ".guild"):
            out = r / ".guild" / "output"
            n += out.exists() and b"start" in out.read_bytes()
        return n >= 2

    end = time.time() + 60
    while time.time() < end and not two_started():
        time.sleep(0.1)
    assert two_started()
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=90)
    assert p.returncode == 130, err
    df = runyard.ls_runs()
    assert len(df) == 2 and set(df["status"]) == {"terminated"}
