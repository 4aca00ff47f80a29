"""Issue 9 point 1: no secret is ever written — under the runs home, into an export, into a view response.

Every test starts runs with credential-looking variables in the environment, each holding a
unique marker, and then looks for the markers in every byte of every file runyard wrote.
The scripts print only a digest of what they saw, so finding a marker means runyard wrote it.
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
from pathlib import Path

import pytest

import runyard
from conftest import cli, wait_for, write
from runyard import environ
from runyard.store.run import Run

SHOW = '''
import hashlib, os
x = 1
passes = 3  # a flag whose FLAG_PASSES looks like a secret but isn't one
print("FLAG_PASSES=" + os.environ.get("FLAG_PASSES", "missing"))
for name in sorted(os.environ):
    if name.startswith(("KAGGLE", "DATABASE", "CACHE", "ACME", "MYCORP", "STRIPE")):
        print("saw", name, hashlib.sha256(os.environ[name].encode()).hexdigest()[:12])
print("loss: 0.5")
'''

# name -> value; every value is a marker that must never be found in a file runyard wrote
SECRETS = {
    "KAGGLE_KEY": "mk-kaggle-1f3a",
    "STRIPE_KEY": "mk-stripe-2b4c",
    "DATABASE_URL": "postgres://u:mk-dbpw-3c5d@db.example/app",
    "AZURE_STORAGE_CONNECTION_STRING": "mk-azure-4d6e",
    "GH_TOKEN": "mk-ghtoken-5e7f",
    "AWS_SECRET_ACCESS_KEY": "mk-aws-6f80",
    "MY_PASSWD": "mk-passwd-7091",
    "DB_PASS": "mk-pass-81a2",
    "GOOGLE_APPLICATION_CREDENTIALS_JSON": "mk-cred-92b3",
    "proxy_auth": "mk-auth-a3c4",
    "SSH_PRIVATE": "mk-private-b4d5",
    "web_session_id": "mk-session-c5e6",
    "Browser_Cookie": "mk-cookie-d6f7",
    "CACHE_URL": "redis://:mk-redispw-e708@cache.example:6379/0",  # innocent name, password in the URL
    "MYCORP_ONE": "mk-userpattern-env-f819",  # a user pattern given in RUNYARD_SECRET_PATTERNS
    "ACME_THING": "mk-userpattern-file-0a2b",  # a user pattern given in the config file
}
MARKERS = [v.split("@")[0].split(":")[-1] if "://" in v else v for v in SECRETS.values()]


@pytest.fixture
def secret_env(project, tmp_path, monkeypatch):
    patterns = tmp_path / "config" / "runyard" / "secret-patterns"
    write(patterns, "# my own secrets\nacme_*   # a glob\n")
    env = dict(SECRETS, RUNYARD_SECRET_PATTERNS="mycorp", XDG_CONFIG_HOME=str(tmp_path / "config"),
               PLAIN_SETTING="plain-visible-1234")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    write(project / "show.py", SHOW)
    return env


def _files(root: Path):
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            yield Path(dirpath, f)


def assert_no_secret(root: Path) -> None:
    found = []
    for p in _files(root):
        data = p.read_bytes()
        found += [(str(p.relative_to(root)), m) for m in MARKERS if m.encode() in data]
        if p.suffix == ".zip":
            with zipfile.ZipFile(p) as z:
                for n in z.namelist():
                    data = z.read(n)
                    found += [(f"{p.name}:{n}", m) for m in MARKERS if m.encode() in data]
    assert not found, found


def _digest(v: str) -> str:
    return hashlib.sha256(v.encode()).hexdigest()[:12]


def test_secret_rules():
    for name, value in SECRETS.items():
        if not name.startswith(("MYCORP", "ACME")):
            assert environ.is_secret(name, value), name
    for name, value in [("PATH", "/usr/bin"), ("HOME", "/root"), ("LANG", "C.UTF-8"),
                        ("SITE_URL", "https://user@example.com/x"), ("PROXY", "http://proxy:3128"),
                        ("DOCS", "see https://example.com:8080/a@b")]:
        assert not environ.is_secret(name, value), name
    kept = environ.storable({"A": "1", "": "empty name", "B": "x\udcff"})
    assert kept == {"A": "1", "B": "x\\xff"}


def test_plain_run_writes_no_secret_and_the_script_sees_them(secret_env, project):
    r = cli("run", "show.py", "-y")
    assert r.returncode == 0, r.stderr
    assert f"saw KAGGLE_KEY {_digest(SECRETS['KAGGLE_KEY'])}" in r.stdout  # the process had it
    assert_no_secret(project / ".guild")
    env = runyard.ls_runs().iloc[0]
    stored = Run(Path(env["dir"])).get("env")
    assert stored["PLAIN_SETTING"] == "plain-visible-1234" and "KAGGLE_KEY" not in stored
    info = cli("runs", "info", "--env")
    assert "PLAIN_SETTING" in info.stdout and "KAGGLE" not in info.stdout


def test_background_and_batch_runs_write_no_secret(secret_env, project):
    r = cli("run", "show.py", "--background", "-y")
    assert r.returncode == 0, r.stderr
    r = cli("run", "show.py", "x=[1,2]", "-y")
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: len(runyard.ls_runs(completed=True)) == 3, timeout=30)  # (and the batch run, not listed)
    outputs = [(d / ".guild" / "output").read_text() for d in (project / ".guild" / "runs").iterdir()]
    trials = [o for o in outputs if "loss: 0.5" in o]
    assert len(outputs) == 4 and len(trials) == 3
    assert all(f"saw KAGGLE_KEY {_digest(SECRETS['KAGGLE_KEY'])}" in o for o in trials)
    assert_no_secret(project / ".guild")


def test_staged_run_keeps_no_environment_file_and_the_queue_supplies_secrets(secret_env, project):
    r = cli("run", "show.py", "--stage", "-y")
    assert r.returncode == 0, r.stderr
    run_dir = Path(runyard.ls_runs().iloc[0]["dir"])
    assert not (run_dir / ".guild" / "ENV").exists()
    assert_no_secret(project / ".guild")
    # The queue runs in another environment: the staged run gets the queue's secrets.
    r = cli("queue", "--run-once", env={"KAGGLE_KEY": "mk-queue-kaggle-99", "DATABASE_URL": "postgres://q:pw@h/db"})
    assert r.returncode == 0, r.stderr
    out = (run_dir / ".guild" / "output").read_text()
    assert f"saw KAGGLE_KEY {_digest('mk-queue-kaggle-99')}" in out
    assert f"saw DATABASE_URL {_digest('postgres://q:pw@h/db')}" in out
    assert "FLAG_PASSES=3" in out  # runyard's own variables are kept
    assert "PLAIN_SETTING" in Run(run_dir).get("env")  # the staged environment otherwise
    assert_no_secret(project / ".guild")


def test_a_guild_staged_environment_file_is_used_then_removed(secret_env, project):
    r = cli("run", "show.py", "--stage", "-y")
    run_dir = Path(runyard.ls_runs().iloc[0]["dir"])
    # Guild AI 0.9 stages a run with its whole environment in .guild/ENV
    (run_dir / ".guild" / "ENV").write_text(
        f"export PATH={os.environ['PATH']}\nexport STRIPE_KEY='from-guild-env'\n")
    r = cli("queue", "--run-once")
    assert r.returncode == 0, r.stderr
    assert f"saw STRIPE_KEY {_digest('from-guild-env')}" in (run_dir / ".guild" / "output").read_text()
    assert not (run_dir / ".guild" / "ENV").exists()


def test_export_and_view_hold_no_secret(secret_env, project, tmp_path):
    assert cli("run", "show.py", "-y").returncode == 0
    assert cli("run", "show.py", "--stage", "-y").returncode == 0
    r = cli("export", str(tmp_path / "out.zip"), "-y")
    assert r.returncode == 0, r.stderr
    r = cli("export", str(tmp_path / "outdir"), "-y")
    assert r.returncode == 0, r.stderr
    assert_no_secret(tmp_path)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from runyard.web.app import create_app

    app = create_app(port=8771)
    try:
        with TestClient(app, base_url="http://127.0.0.1:8771") as c:
            bodies = [c.get("/api/runs").content, c.get("/").content]
            for rid in runyard.ls_runs()["id"]:
                for path in (f"/run/{rid}", f"/files/{rid}/.guild/ENV", f"/files/{rid}/.guild/attrs/env",
                             f"/api/run/{rid}/files?path=.guild", f"/api/run/{rid}/output"):
                    r = c.get(path)
                    assert r.status_code in (200, 403, 404), (path, r.status_code)
                    bodies.append(r.content)
                assert c.get(f"/files/{rid}/.guild/ENV").status_code in (403, 404)  # refused or absent
    finally:
        app.view.close()
    leaked = [m for m in MARKERS for b in bodies if m.encode() in b]
    assert not leaked


def test_dask_trials_write_no_secret(secret_env, project):
    distributed = pytest.importorskip("distributed")
    # The workers are started now, so they inherit the secrets: trials get them from their worker.
    cluster = distributed.LocalCluster(processes=True, n_workers=1, threads_per_worker=2, dashboard_address=None)
    try:
        df = runyard.run("show.py", {"x": [1, 2]}, dask=cluster.scheduler_address, echo=False)
    finally:
        cluster.close()
    assert set(df["status"]) == {"completed"}
    for d in df["dir"]:
        assert f"saw KAGGLE_KEY {_digest(SECRETS['KAGGLE_KEY'])}" in (Path(d) / ".guild" / "output").read_text()
    assert_no_secret(project / ".guild")


def test_runs_info_never_shows_a_secret_another_tool_stored(project):
    write(project / "show.py", SHOW)
    run_dir = Path(runyard.run("show.py", echo=False).iloc[0]["dir"])
    # Guild AI 0.9 drops only names holding password/token/secret: its runs may hold a KAGGLE_KEY
    (run_dir / ".guild" / "attrs" / "env").write_text("KAGGLE_KEY: mk-kaggle-1f3a\nPATH: /usr/bin\n")
    r = cli("runs", "info", "--env", "--json")
    assert r.returncode == 0, r.stderr
    assert "mk-kaggle" not in r.stdout and "/usr/bin" in r.stdout


def test_a_guild_staged_environment_file_never_leaves_the_run(secret_env, project, tmp_path):
    """A run Guild AI staged (its .guild/ENV holds the whole environment) that runyard hasn't
    started: export, the view, cat and push never carry that file."""
    assert cli("run", "show.py", "--stage", "-y").returncode == 0
    run_dir = Path(runyard.ls_runs().iloc[0]["dir"])
    (run_dir / ".guild" / "ENV").write_text("export STRIPE_KEY='sk_live_guild_staged'\n")
    for dest in ("guild.zip", "guild-dir"):
        assert cli("export", str(tmp_path / dest), "-y").returncode == 0
    with zipfile.ZipFile(tmp_path / "guild.zip") as zf:
        assert not [n for n in zf.namelist() if n.endswith(".guild/ENV")]
    assert not list((tmp_path / "guild-dir").rglob("ENV"))
    r = cli("cat", "1", "-p", ".guild/ENV")
    assert r.returncode == 2 and "holds a process environment" in r.stderr and "sk_live" not in r.stdout
    share = tmp_path / "share"
    env = {"RUNYARD_CONFIG_DIR": str(tmp_path / "cfg")}
    assert cli("remote", "add", "share", share.as_uri(), env=env).returncode == 0
    assert cli("push", "share", "--include-running", env=env).returncode == 0
    assert not [p for p in share.rglob("*") if p.is_file() and b"sk_live_guild_staged" in p.read_bytes()]


def test_a_guild_made_env_attribute_is_exported_and_served_without_its_secrets(project, tmp_path):
    """Guild AI 0.9 keeps KAGGLE_KEY and DATABASE_URL passwords in a run's env attribute; an
    export and the view carry that attribute without them (runyard's own runs are exported as
    they are: they hold no secret)."""
    write(project / "t.py", "x = 1\n")
    assert cli("run", "t.py", "-y").returncode == 0
    run_dir = Path(runyard.ls_runs().iloc[0]["dir"])
    mine = (run_dir / ".guild" / "attrs" / "env").read_bytes()
    assert cli("run", "t.py", "-y").returncode == 0
    guild_run = Path(runyard.ls_runs().iloc[0]["dir"])
    (guild_run / ".guild" / "attrs" / "env").write_text(
        "HOME: /root\nKAGGLE_KEY: kg-123-secret\nDATABASE_URL: postgres://u:pw-secret@h/db\nFLAG_X: '1'\n")
    assert cli("export", str(tmp_path / "out.zip"), "-y").returncode == 0
    assert cli("export", str(tmp_path / "out"), "-y").returncode == 0
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        env_g = zf.read(f"{guild_run.name}/.guild/attrs/env").decode()
        assert zf.read(f"{run_dir.name}/.guild/attrs/env") == mine  # untouched: nothing to drop
    env_d = (tmp_path / "out" / guild_run.name / ".guild" / "attrs" / "env").read_text()
    for text in (env_g, env_d):
        assert "secret" not in text and "HOME: /root" in text and "FLAG_X" in text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from runyard.web.app import create_app

    app = create_app(port=8772)
    try:
        with TestClient(app, base_url="http://127.0.0.1:8772") as c:
            r = c.get(f"/files/{guild_run.name}/.guild/attrs/env")
            assert r.status_code == 200 and b"HOME" in r.content and b"secret" not in r.content
    finally:
        app.view.close()
