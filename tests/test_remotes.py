"""Issue 14: remotes — push, pull and list runs on S3-compatible storage, SSH hosts and shared
folders, against real servers started here (moto's S3 server, Debian's sshd)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runyard
from conftest import cli, write

SCRIPT = '''
x = 1
print("step: 1")
print(f"loss: {1.0 / x:.4f}")
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch):
    """Each test gets its own remotes file."""
    d = tmp_path / "config"
    monkeypatch.setenv("RUNYARD_CONFIG_DIR", str(d))
    return d


# The module fixtures are made once: under pytest-xdist the tests share one worker.
pytestmark = pytest.mark.xdist_group("remotes")


@pytest.fixture(scope="module")
def s3_server():
    """moto's standalone S3 server on 127.0.0.1 with throwaway credentials in the environment."""
    pytest.importorskip("s3fs")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def s3(s3_server, monkeypatch):
    """A fresh bucket; credentials only in the environment (as the backends expect)."""
    import s3fs

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"b{random.randrange(10**9)}"
    s3fs.S3FileSystem(endpoint_url=s3_server).mkdir(bucket)
    return bucket, s3_server


@pytest.fixture
def runs(project):
    """Three completed runs, x = 1..3."""
    write(project / "train.py", SCRIPT)
    for x in (1, 2, 3):
        runyard.run("train.py", {"x": x}, echo=False)
    return project


def _tree(d: Path) -> dict[str, bytes]:
    """Every file (and link) under ``d`` with its bytes and mtime."""
    out = {}
    for root, dirs, files in os.walk(d):
        for n in files + [x for x in dirs if os.path.islink(os.path.join(root, x))]:
            p = Path(root) / n
            rel = str(p.relative_to(d))
            out[rel] = (b"->" + os.readlink(p).encode()) if p.is_symlink() else (p.read_bytes(), p.stat().st_mtime_ns)
    return out


def _bytes(d: Path) -> dict[str, bytes]:
    """``_tree`` without mtimes (a remote's own copy keeps its mtimes in the manifest)."""
    return {k: v[0] if isinstance(v, tuple) else v for k, v in _tree(d).items()}


def _other_home(tmp_path: Path, name: str = "laptop") -> dict:
    return {"GUILD_HOME": str(tmp_path / name / ".guild")}


def _add(name: str, url: str, *opts: str) -> None:
    r = cli("remote", "add", name, url, *[a for o in opts for a in ("--option", o)])
    assert r.returncode == 0, r.stderr


def test_remote_config_cli(project, config_dir):
    _add("share", "file:///mnt/share/runs")
    _add("cloud", "s3://bucket/prefix", "endpoint_url=http://127.0.0.1:9000")
    out = cli("remote", "list").stdout.splitlines()
    assert out == ["cloud  s3://bucket/prefix  endpoint_url=http://127.0.0.1:9000", "share  file:///mnt/share/runs"]
    assert (config_dir / "remotes.yml").exists()
    r = cli("remote", "add", "x", "s3://b/p", "--option", "secret_access_key=abc")
    assert r.returncode == 2 and "never writes them" in r.stderr
    r = cli("remote", "add", "x", "ssh://me:pw@host/runs")
    assert r.returncode == 2 and "password" in r.stderr
    r = cli("remote", "add", "x", "ftp://host/runs")
    assert r.returncode == 2 and "unsupported remote URL" in r.stderr
    assert "abc" not in (config_dir / "remotes.yml").read_text() and "pw" not in (config_dir / "remotes.yml").read_text()
    assert cli("remote", "remove", "share").returncode == 0
    assert cli("remote", "list").stdout.splitlines() == ["cloud  s3://bucket/prefix  endpoint_url=http://127.0.0.1:9000"]
    r = cli("remote", "remove", "share")
    assert r.returncode == 2 and "no remote named 'share'" in r.stderr
    r = cli("push", "nosuch")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "runyard: no remote named 'nosuch' (add one with: runyard remote add nosuch URL)"]


def test_push_pull_shared_folder_roundtrip(runs, tmp_path):
    share = tmp_path / "share"
    _add("share", share.as_uri())
    r = cli("push", "share")
    assert r.returncode == 0, r.stderr
    assert "pushed 3 runs" in r.stderr
    # Nothing changed: nothing is sent again.
    r = cli("push", "share")
    assert "pushed 0 runs (0 files, 0 bytes), 3 unchanged" in r.stderr
    # Listing the remote needs no pull.
    listed = cli("runs", "--remote", "share").stdout.splitlines()
    assert [ln.split()[-1] for ln in listed] == ["x=3", "x=2", "x=1"]
    assert all("completed" in ln for ln in listed)
    df = runyard.ls_runs(remote="share")
    assert list(df["flags.x"]) == [3, 2, 1] and list(df["scalars.loss"]) == [0.3333, 0.5, 1.0]
    # Pull into another machine's home: byte-identical, same listing.
    laptop = _other_home(tmp_path)
    r = cli("pull", "share", env=laptop)
    assert r.returncode == 0 and "pulled 3 runs" in r.stderr, r.stderr
    src = runs / ".guild" / "runs"
    dst = tmp_path / "laptop" / ".guild" / "runs"
    assert _tree(src) == _tree(dst)
    assert cli("compare", "--csv", "-", env=laptop).stdout == cli("compare", "--csv", "-").stdout
    assert "pulled 0 runs (0 files, 0 bytes), 3 unchanged" in cli("pull", "share", env=laptop).stderr
    # A tag added on the laptop goes back as one changed file.
    assert cli("tag", "1", "--add", "best", "-y", env=laptop).returncode == 0
    r = cli("push", "share", "1", env=laptop)
    assert "pushed 1 run (1 files" in r.stderr, r.stderr
    r = cli("pull", "share", "--tag", "best")
    assert "pulled 1 run (1 files" in r.stderr, r.stderr
    assert runyard.ls_runs(1)["tags"][0] == ["best"]


def test_remote_listing_reads_the_listing_shard(runs, tmp_path):
    share = tmp_path / "share"
    _add("share", share.as_uri())
    cli("push", "share")
    [listing] = (share / ".runyard" / "listing").glob("*.json")
    entries = json.loads(listing.read_text())["runs"]
    assert len(entries) == 3 and all(set(e) == {"record", "pushed"} for e in entries.values())
    want = cli("runs", "--remote", "share").stdout
    assert len(want.splitlines()) == 3
    # A label changed here shows on the remote's listing after the next push.
    assert cli("label", "1", "--set", "newest", "-y").returncode == 0
    cli("push", "share")
    assert cli("runs", "--remote", "share").stdout.splitlines()[0].split()[-1] == "newest"
    # A remote pushed before listing shards existed lists from its index shards.
    want = cli("runs", "--remote", "share").stdout
    listing.unlink()
    assert cli("runs", "--remote", "share").stdout == want


def test_delete_mirrors_deletions(runs, tmp_path):
    _add("share", (tmp_path / "share").as_uri())
    cli("push", "share")
    laptop = _other_home(tmp_path)
    cli("pull", "share", env=laptop)
    assert cli("runs", "delete", "1", "-y").returncode == 0
    r = cli("push", "share", "--delete", "-y")
    assert "1 deleted" in r.stderr, r.stderr
    assert len(cli("runs", "--remote", "share").stdout.splitlines()) == 2
    r = cli("pull", "share", "--delete", "-y", env=laptop)
    assert "1 deleted" in r.stderr, r.stderr
    assert len(cli("runs", env=laptop).stdout.splitlines()) == 2
    assert len(cli("runs", "--deleted", env=laptop).stdout.splitlines()) == 1  # moved to the trash


def test_running_runs_are_skipped(project, tmp_path):
    write(project / "slow.py", "import time\nfor i in range(200):\n    print('step:', i)\n    time.sleep(0.05)\n")
    _add("share", (tmp_path / "share").as_uri())
    assert cli("run", "slow.py", "-b", "-y").returncode == 0
    deadline = time.time() + 20
    while time.time() < deadline and "running" not in cli("runs").stdout:
        time.sleep(0.1)
    r = cli("push", "share")
    assert "is running: skipped (use --include-running)" in r.stderr and "pushed 0 runs" in r.stderr
    r = cli("push", "share", "--include-running")
    assert "pushed 1 run" in r.stderr
    assert "running" in cli("runs", "--remote", "share").stdout
    assert cli("stop", "-y").returncode == 0


def _big_runs(project: Path, n: int = 4) -> None:
    write(project / "files.py", "import os\nfor i in range(60):\n"
                                "    open(f'f{i}.bin', 'wb').write(os.urandom(40000))\nprint('loss: 1')\n")
    for _ in range(n):
        runyard.run("files.py", echo=False)


def _shards(share: Path) -> dict[Path, dict]:
    return {p: json.loads(p.read_text()) for p in (share / ".runyard" / "index").glob("*.json")}


def _check_remote_complete(share: Path) -> int:
    """Every run the remote lists is complete: each of its files is in the pack named for it."""
    import zipfile

    n = 0
    for shard in _shards(share).values():
        for rid, entry in shard["runs"].items():
            for rel, (size, _mtime, _mode, pack) in entry["files"].items():
                with zipfile.ZipFile(share / "packs" / rid / f"{pack}.zip") as zf:
                    assert zf.getinfo(rel).file_size == size
            n += 1
    return n


def _killed_after(delay: float, *args: str, env: dict) -> None:
    """Start ``runyard ARGS`` and SIGKILL it ``delay`` seconds later."""
    p = subprocess.Popen([sys.executable, "-m", "runyard.cli", *args], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait()


def test_killed_push_and_pull_leave_no_half_run(project, tmp_path):
    _big_runs(project)
    share = tmp_path / "share"
    _add("share", share.as_uri())
    env = dict(os.environ)
    for delay in (0.3, 0.6, 0.9):
        _killed_after(delay, "push", "share", env=env)
        if share.exists() and (share / ".runyard" / "runs").exists():
            _check_remote_complete(share)
    assert cli("push", "share").returncode == 0  # running it again completes the job
    assert _check_remote_complete(share) == 4
    laptop = _other_home(tmp_path)
    lhome = tmp_path / "laptop" / ".guild"
    penv = {**env, **laptop}
    for delay in (0.3, 0.6, 0.9):
        _killed_after(delay, "pull", "share", env=penv)
        src = project / ".guild" / "runs"
        listed = [ln.split(":")[1].split("]")[0] for ln in cli("runs", env=laptop).stdout.splitlines()]
        for short in listed:  # a run that lists is whole
            rid = next(d.name for d in src.iterdir() if d.name.startswith(short))
            assert _tree(src / rid) == _tree(lhome / "runs" / rid)
    assert cli("pull", "share", env=laptop).returncode == 0
    assert _tree(project / ".guild" / "runs") == _tree(lhome / "runs")


def test_hostile_remote_runs_are_refused(runs, tmp_path):
    share = tmp_path / "share"
    _add("share", share.as_uri())
    cli("push", "share")
    [(path, shard)] = _shards(share).items()
    good = next(iter(shard["runs"]))
    # An id that isn't 32 hex digits is not listed; an entry reaching outside its run is refused.
    shard["runs"]["--help"] = dict(shard["runs"][good])
    evil = "e" * 32
    entry = json.loads(json.dumps(shard["runs"][good]))
    entry["files"]["../../../escaped.txt"] = [3, 0, 0o644, next(iter(entry["files"].values()))[3]]
    shard["runs"][evil] = entry
    path.write_text(json.dumps(shard))
    (share / ".runyard" / "listing" / path.name).write_text(json.dumps(shard))  # what runs --remote reads
    ids = list(runyard.ls_runs(remote="share")["id"])
    assert "--help" not in ids and evil not in ids and len(ids) == 3  # each bad entry left out, the others listed
    laptop = _other_home(tmp_path)
    r = cli("pull", "share", env=laptop)
    assert r.returncode == 0
    assert (f"skipping remote run {evil} in shard {path.name}: file '../../../escaped.txt' would land outside "
            "its directory") in r.stderr
    assert "skipping remote run --help" in r.stderr
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not (tmp_path / "laptop" / ".guild" / "runs" / evil).exists()
    assert "pulled 3 runs" in r.stderr


def test_s3_remote(runs, tmp_path, s3):
    bucket, endpoint = s3
    _add("cloud", f"s3://{bucket}/team", f"endpoint_url={endpoint}")
    r = cli("push", "cloud")
    assert r.returncode == 0 and "pushed 3 runs" in r.stderr, r.stderr
    assert "3 unchanged" in cli("push", "cloud").stderr
    assert len(cli("runs", "-r", "cloud").stdout.splitlines()) == 3
    laptop = _other_home(tmp_path)
    assert "pulled 3 runs" in cli("pull", "cloud", env=laptop).stderr
    assert _tree(runs / ".guild" / "runs") == _tree(tmp_path / "laptop" / ".guild" / "runs")
    cfg = (Path(os.environ["RUNYARD_CONFIG_DIR"]) / "remotes.yml").read_text()
    assert "testing-secret" not in cfg
    # A missing bucket and an unreachable server: one line each, nothing changed locally.
    before = _tree(runs / ".guild" / "runs")
    _add("nobucket", "s3://no-such-bucket/x", f"endpoint_url={endpoint}")
    r = cli("push", "nobucket")
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "bucket does not exist" in r.stderr
    _add("down", f"s3://{bucket}/x", f"endpoint_url=http://127.0.0.1:{_free_port()}")
    r = cli("pull", "down")
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert _tree(runs / ".guild" / "runs") == before


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """Debian's sshd on 127.0.0.1 with a throwaway host key and client key (root only)."""
    if os.geteuid() != 0 or not Path("/usr/sbin/sshd").exists():
        pytest.skip("needs root and openssh-server (the test command installs it)")
    pytest.importorskip("sshfs")
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    os.chmod(d / "authorized_keys", 0o600)
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
        f"PidFile {d / 'sshd.pid'}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n")
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        yield port, d / "client"
    finally:
        proc.terminate()
        proc.wait(10)


def test_ssh_remote(runs, tmp_path, sshd):
    port, key = sshd
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    _add("box", f"ssh://{user}@127.0.0.1:{port}{tmp_path}/box-runs", f"client_keys={key}", "known_hosts=null")
    r = cli("push", "box")
    assert r.returncode == 0 and "pushed 3 runs" in r.stderr, r.stderr
    assert "Warning" not in r.stderr  # no third-party notices (asyncssh's "DSA is deprecated") in runyard's output
    assert "3 unchanged" in cli("push", "box").stderr
    laptop = _other_home(tmp_path)
    assert "pulled 3 runs" in cli("pull", "box", env=laptop).stderr
    assert _tree(runs / ".guild" / "runs") == _tree(tmp_path / "laptop" / ".guild" / "runs")
    _add("nokey", f"ssh://{user}@127.0.0.1:{port}/tmp/x", f"client_keys={tmp_path}/missing-key",
         "known_hosts=null")
    r = cli("runs", "--remote", "nokey")
    assert r.returncode == 1 and r.stderr.startswith("runyard: remote nokey") and "Traceback" not in r.stderr


def test_api_push_pull(runs, tmp_path, monkeypatch):
    _add("share", (tmp_path / "share").as_uri())
    assert runyard.runs_push("share", "1:2", echo=False) == "1:2"
    assert len(runyard.ls_runs(remote="share")) == 2
    monkeypatch.setenv("GUILD_HOME", str(tmp_path / "laptop" / ".guild"))
    got = runyard.runs_pull("share", echo=False)
    assert sorted(got) == sorted(runyard.ls_runs(remote="share")["id"])
    assert list(runyard.ls_runs()["flags.x"]) == [3, 2]
    shutil.rmtree(tmp_path / "share")
    assert runyard.ls_runs(remote="share").empty


def test_sync_while_running(project, tmp_path):
    """A run on a 'cloud machine' is visible on the remote while it trains, and whole at the end."""
    write(project / "slow.py", "import time\nfor i in range(30):\n    print(f'step: {i}')\n"
                               "    print(f'loss: {1 / (i + 1)}', flush=True)\n    time.sleep(0.1)\n")
    share = tmp_path / "share"
    _add("share", share.as_uri())
    p = subprocess.Popen([sys.executable, "-m", "runyard.cli", "run", "slow.py", "-y", "-q", "--sync", "share",
                          "--sync-interval", "0.5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen_running = False
    deadline = time.time() + 30
    while p.poll() is None and time.time() < deadline:
        out = cli("runs", "--remote", "share").stdout
        seen_running = seen_running or "running" in out
        time.sleep(0.2)
    assert p.wait(30) == 0, p.stderr.read()
    assert seen_running
    listed = cli("runs", "--remote", "share").stdout
    assert "completed" in listed
    rid = runyard.resolve_run_ids(1)[0]
    laptop = _other_home(tmp_path)
    assert "pulled 1 run" in cli("pull", "share", env=laptop).stderr
    assert _tree(project / ".guild" / "runs" / rid) == _tree(tmp_path / "laptop" / ".guild" / "runs" / rid)
    r = cli("run", "slow.py", "-y", "--sync", "nosuch")
    assert r.returncode == 2 and "no remote named 'nosuch'" in r.stderr
    assert len(runyard.ls_runs()) == 1  # nothing was made
    r = cli("run", "slow.py", "-y", "-b", "--sync", "share")
    assert r.returncode == 2 and "--sync needs a run in the foreground" in r.stderr
