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


# The module fixtures are made once: under pytest-xdist the tests share one worker.
pytestmark = pytest.mark.xdist_group("dask")


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
    ids = {line.split("]")[0][1:] for line in r.stdout.splitlines() if line.endswith("] start")}
    assert len(ids) == 2  # each trial's output, prefixed with its id, on the batch's console
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


LIVE = '''
import os, time
ack = ""
print("hello from the trial", flush=True)
end = time.time() + 60  # until the test has seen the line on the batch's console
while not os.path.exists(ack) and time.time() < end:
    time.sleep(0.05)
open(ack + ".done", "w").close()
'''


@pytest.mark.parametrize("mode", [[], ["--dask-no-shared-fs"]], ids=["shared-disk", "scratch"])
def test_dask_trial_output_is_live_on_the_batch_console(project, cluster, tmp_path, mode):
    import selectors

    c, _ = cluster
    write(project / "live.py", LIVE)
    ack = tmp_path / "ack"
    p = subprocess.Popen([sys.executable, "-m", "runyard.cli", "run", "live.py", f"ack={ack}", "--dask",
                          c.scheduler_address, *mode, "-y"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    seen, buf = None, b""
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    end = time.time() + 90
    while seen is None and time.time() < end and sel.select(end - time.time()):
        data = os.read(p.stdout.fileno(), 4096)
        if not data:
            break
        buf += data
        seen = next((ln for ln in buf.decode().splitlines() if ln.endswith("] hello from the trial")), None)
    sel.close()
    trial_done = Path(f"{ack}.done").exists()
    ack.touch()
    out, err = p.communicate(timeout=90)
    assert seen is not None, (buf + out, err)
    assert not trial_done  # the line came while the trial ran
    [rid] = [r.name for r in runs_in(project / ".guild") if (r / "live.py").exists()]
    assert seen == f"[{rid[:8]}] hello from the trial"
    assert p.returncode == 0, err
    assert b"hello from the trial" not in out  # shown once


# --- no shared disk (issue 14) ----------------------------------------------------------------

TRIAL = '''
import os
x = 1
print("cwd", os.getcwd(), flush=True)
print("home", os.environ.get("GUILD_HOME"), flush=True)
print(f"loss: {x}")
'''


@pytest.fixture
def unshared_cluster(project, tmp_path, tmp_path_factory):
    """A scheduler and two `dask worker` processes that can't see this test's runs home: each runs
    in a mount namespace where the test's folder is an empty tmpfs, with another working directory
    and GUILD_HOME."""
    if os.geteuid() != 0 or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode:
        pytest.skip("needs root and mount namespaces (unshare -m) to hide the home from the workers")
    c = distributed.LocalCluster(n_workers=0, dashboard_address=None, scheduler_kwargs={"host": "127.0.0.1"})
    client = distributed.Client(c)
    procs = []
    try:
        for i in range(2):
            wd = tmp_path_factory.mktemp(f"worker{i}")
            cmd = (f"mount -t tmpfs none {tmp_path} && cd {wd} && exec {sys.executable} -m distributed.cli.dask_worker "
                   f"{c.scheduler_address} --nworkers 1 --nthreads 1 --no-dashboard --local-directory {wd}")
            env = dict(os.environ, GUILD_HOME=str(wd / ".guild"))
            procs.append(subprocess.Popen(["unshare", "-m", "sh", "-c", cmd], env=env, cwd=wd,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        client.wait_for_workers(2, timeout=60)
        assert not any(client.run(os.path.isdir, str(project)).values())  # really unseen
        yield c, client
    finally:
        client.close()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        c.close()


def test_trials_without_a_shared_disk_come_back_whole(project, tmp_path, unshared_cluster, tmp_path_factory,
                                                      monkeypatch):
    c, client = unshared_cluster
    write(project / "trial.py", TRIAL)
    r = subprocess.run([sys.executable, "-m", "runyard.cli", "run", "trial.py", "x=[1,2,3]", "--dask",
                        c.scheduler_address, "-y"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    df = runyard.ls_runs()
    assert len(df) == 3 and set(df["status"]) == {"completed"}, df[["status"]]
    assert sorted(df["scalars.loss"]) == [1, 2, 3]
    for _, row in df.iterrows():
        run_dir = Path(row["dir"])
        out = (run_dir / ".guild" / "output").read_text()
        cwd = out.split("cwd ")[1].split()[0]
        assert not cwd.startswith(str(tmp_path)) and "runyard-trial-" in cwd  # ran in a worker's scratch
        assert (run_dir / "trial.py").exists() and (run_dir / ".guild" / "opref").exists()
        assert not (run_dir / ".guild" / "PENDING").exists() and not (run_dir / ".guild" / "LOCK").exists()
    batch = runyard.ls_runs(include_batch=True, operation="trial.py+").iloc[0]
    assert batch["status"] == "completed"
    assert (Path(batch["dir"]) / ".guild" / "attrs" / "executor_mode").read_text().strip() == "scratch"
    # Through a remote both sides can see (the workers push, the batch pulls).
    share = tmp_path_factory.mktemp("share")
    monkeypatch.setenv("RUNYARD_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
    assert subprocess.run([sys.executable, "-m", "runyard.cli", "remote", "add", "share", share.as_uri()]).returncode == 0
    r = subprocess.run([sys.executable, "-m", "runyard.cli", "run", "trial.py", "x=[4,5]", "--dask",
                        c.scheduler_address, "--sync", "share", "-y"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    df = runyard.ls_runs()
    assert sorted(df["scalars.loss"]) == [1, 2, 3, 4, 5] and set(df["status"]) == {"completed"}
    on_remote = set(runyard.ls_runs(remote="share", include_batch=True)["id"])
    assert set(df["id"][df["flags.x"] >= 4]) <= on_remote
    batch = runyard.ls_runs(include_batch=True, operation="trial.py+").iloc[0]
    assert (Path(batch["dir"]) / ".guild" / "attrs" / "executor_mode").read_text().strip() == "scratch+remote"


def test_no_shared_fs_option_forces_scratch(project, cluster):
    c, _ = cluster
    write(project / "trial.py", TRIAL)
    df = runyard.run("trial.py", {"x": [7, 8]}, dask=c.scheduler_address, dask_no_shared_fs=True, echo=False)
    assert sorted(df["scalars.loss"]) == [7, 8] and set(df["status"]) == {"completed"}
    for d in df["dir"]:
        assert "runyard-trial-" in (Path(d) / ".guild" / "output").read_text().split("cwd ")[1].split()[0]


def test_a_trial_zip_keeps_only_links_the_one_rule_allows(tmp_path):
    """A trial's zip from a worker is unpacked under the same rule for links as pull and import
    (store.paths.link_refused): chains that climb out, absolute targets and links through links
    are not made; a link inside the run and one to another run folder are."""
    import io
    import stat
    import zipfile

    from runyard.batch.executors.dask import unzip_run

    def link(zf, name, target):
        info = zipfile.ZipInfo(name)
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, target)

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "a")
        link(zf, "inside", "a.txt")
        link(zf, "step", "../" + "b" * 32)
        link(zf, "l1", "..")
        link(zf, "l2", "l1/..")
        link(zf, "l3", "l2/..")
        link(zf, "abs", "/etc/passwd")
        link(zf, "via", "inside")
    runs = tmp_path / "runs"
    (runs / ("b" * 32)).mkdir(parents=True)
    unzip_run(buf.getvalue(), runs / ".trial-new", "a" * 32)
    kept = sorted(p.name for p in (runs / ".trial-new").iterdir() if p.is_symlink())
    assert kept == ["inside", "step"]
