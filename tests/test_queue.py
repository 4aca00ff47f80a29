"""Issue 4: staged runs and queues — every staged run is started exactly once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import runyard
from conftest import cli, runs_in, wait_for, write

WORK = '''
import time
x = 1
secs = 0.4
print(f"ran x={x}", flush=True)
time.sleep(secs)
print(f"loss: {x}")
'''


def _queue(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runyard.cli", "queue", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _started_ids(stderr: str) -> list[str]:
    return re.findall(r"INFO: Starting staged run ([0-9a-f]{32})", stderr)


def test_two_queues_start_each_staged_run_once(project):
    write(project / "work.py", WORK)
    staged = runyard.run("work.py", {"x": [1, 2, 3, 4, 5, 6]}, stage=True)
    assert set(staged["status"]) == {"staged"}
    q1, q2 = _queue("--run-once"), _queue("--run-once")
    out1, err1 = q1.communicate(timeout=60)
    out2, err2 = q2.communicate(timeout=60)
    assert q1.returncode == 0 and q2.returncode == 0, err1 + err2
    ids1, ids2 = _started_ids(err1), _started_ids(err2)
    assert ids1 and ids2  # both queues took runs
    assert not set(ids1) & set(ids2)
    assert sorted(ids1 + ids2) == sorted(staged["id"])
    df = runyard.ls_runs()
    assert len(df) == 6 and set(df["status"]) == {"completed"}
    for _, row in df.iterrows():
        out = (Path(row["dir"]) / ".guild" / "output").read_text()
        assert out.count("ran x=") == 1  # started once
    # Oldest first: each queue started its runs in the order they were staged.
    order = {rid: i for i, rid in enumerate(runyard.ls_runs(staged["id"].tolist()).sort_values("flags.x")["id"])}
    assert [order[i] for i in ids1] == sorted(order[i] for i in ids1)


def test_claim_is_exclusive_under_contention(project):
    home = project / ".guild" / "runs"
    for i in range(40):
        g = home / f"{i:032x}" / ".guild"
        g.mkdir(parents=True)
        (g / "STAGED").touch()
    code = ("import sys, os\nfrom runyard.launch.batchrun import claim\n"
            "d = sys.argv[1]\n"
            "won = [n for n in sorted(os.listdir(d)) if claim(os.path.join(d, n))]\n"
            "print(' '.join(won))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(home)], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    won = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        won += out.split()
    assert sorted(won) == sorted(os.listdir(home))  # every run claimed, none twice


def test_queue_waits_for_new_staged_runs_and_ctrl_c_stops_it(project):
    write(project / "work.py", WORK)
    q = _queue("--poll-interval", "0.2")
    time.sleep(0.5)
    r = cli("run", "work.py", "x=7", "secs=0", "--stage", "-y")
    assert r.returncode == 0 and "staged as" in r.stdout, r.stderr
    assert wait_for(lambda: runyard.ls_runs().iloc[0]["status"] == "completed", timeout=30)
    # A second one, long: Ctrl-C to the queue's group stops it and the queue.
    cli("run", "work.py", "x=8", "secs=30", "--stage", "-y")
    assert wait_for(lambda: any(b"ran x=8" in (r / ".guild" / "output").read_bytes()
                                 for r in runs_in(project / ".guild") if (r / ".guild" / "output").exists()))
    os.killpg(q.pid, signal.SIGINT)
    out, err = q.communicate(timeout=60)
    assert q.returncode == 130, err
    assert "ran x=7" in out and "ran x=8" in out  # the queue shows its runs' output
    df = runyard.ls_runs().set_index("flags.x")
    assert df.loc[7, "status"] == "completed" and df.loc[8, "status"] == "terminated"
    assert df.loc[8, "exit_status"] == -16


def test_queue_run_once_with_nothing_staged(project):
    r = cli("queue", "--run-once")
    assert r.returncode == 0, r.stderr
    assert "Queue started 0 staged runs" in r.stderr
