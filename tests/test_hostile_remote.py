"""Issue 21: a remote that someone else can write to must not be able to hurt you.

Each attack is what another user of a shared S3 bucket (moto's S3 server) or a shared folder can
write there; the victim uses the real ``runyard`` command: ``runs --remote``, ``pull``, ``push``,
``export``. Also the archive and JSON/YAML attacks of the same issue (import, the view, ``runyard
api``, batch files).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import runyard
from conftest import cli, write
from test_remotes import SCRIPT, _add, _other_home, config_dir, s3, s3_server  # noqa: F401 (fixtures)

OPREF = b"script:/somewhere '' '' evil.py\n"


class Share:
    """The remote as the attacker sees it: raw files on the shared folder or in the bucket."""

    def __init__(self, kind: str, tmp_path: Path, request):
        if kind == "folder":
            from fsspec.implementations.local import LocalFileSystem

            self.fs, self.root = LocalFileSystem(auto_mkdir=True), str(tmp_path / "share")
            self.url, self.opts = (tmp_path / "share").as_uri(), ()
        else:
            import s3fs

            bucket, endpoint = request.getfixturevalue("s3")
            self.fs, self.root = s3fs.S3FileSystem(endpoint_url=endpoint), f"{bucket}/team"
            self.url, self.opts = f"s3://{bucket}/team", (f"endpoint_url={endpoint}",)
        self.kind = kind
        self.n = 0

    def add(self, name: str = "share") -> None:
        _add(name, self.url, *self.opts)

    def put(self, rel: str, data: bytes | str) -> None:
        self.fs.pipe_file(f"{self.root}/{rel}", data.encode() if isinstance(data, str) else data)

    def get(self, rel: str) -> bytes:
        return self.fs.cat_file(f"{self.root}/{rel}")

    def files(self, under: str) -> list[str]:
        try:
            return sorted(self.fs.find(f"{self.root}/{under}"))
        except FileNotFoundError:
            return []

    def shard(self, home: str = "attacker0000001") -> dict:
        try:
            return json.loads(self.get(f".runyard/index/{home}.json"))
        except FileNotFoundError:
            return {"runs": {}}

    def write_shard(self, shard: dict | str, home: str = "attacker0000001", listing: bool = True) -> None:
        """An index shard and its listing shard (or raw text for both)."""
        if isinstance(shard, str):
            self.put(f".runyard/index/{home}.json", shard)
            self.put(f".runyard/listing/{home}.json", shard)
            return
        self.put(f".runyard/index/{home}.json", json.dumps(shard))
        if listing:
            lst = {rid: {k: e[k] for k in ("record", "pushed", "deleted") if k in e} for rid, e in shard["runs"].items()}
            self.put(f".runyard/listing/{home}.json", json.dumps({"runs": lst}))

    def plant(self, rid: str, files: dict[str, bytes], links: dict[str, str] | None = None, *,
              record: dict | None = None, pushed: float | None = None, home: str = "attacker0000001",
              level: int = 1) -> None:
        """A run of the attacker's making: its files in a pack, its entry in the attacker's shard."""
        self.n += 1
        pack = f"evil-{self.n}"
        files = {".guild/opref": OPREF, ".guild/attrs/exit_status": b"0\n", **files}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
            for rel, data in files.items():
                zf.writestr(rel, data)
        self.put(f"packs/{rid}/{pack}.zip", buf.getvalue())
        shard = self.shard(home)
        shard["runs"][rid] = {
            "record": record if record is not None else {
                "id": rid, "started": int(time.time() * 1e6), "status": "completed", "operation": "evil.py",
                "label": "evil", "flags": {}, "exit_status": 0},
            "files": {rel: [len(data), 1_700_000_000_000_000_000, 0o644, pack] for rel, data in files.items()},
            "links": links or {}, "pushed": time.time() if pushed is None else pushed}
        self.write_shard(shard, home)


@pytest.fixture(params=["folder", "s3"])
def share(request, tmp_path):
    return Share(request.param, tmp_path, request)


@pytest.fixture
def pushed(project, share):
    """Three runs of this home (x = 1..3), pushed to the share."""
    write(project / "train.py", SCRIPT)
    for x in (1, 2, 3):
        runyard.run("train.py", {"x": x}, echo=False)
    share.add()
    r = cli("push", "share")
    assert r.returncode == 0 and "pushed 3 runs" in r.stderr, r.stderr
    return project


def _runs_dir(tmp_path: Path, name: str = "laptop") -> Path:
    return tmp_path / name / ".guild" / "runs"


def _outside_runs(tmp_path: Path, runs: Path, name: str) -> list[Path]:
    """Files called ``name`` anywhere under tmp_path but inside a run of ``runs``."""
    return [p for p in tmp_path.rglob(name) if runs not in p.parents]


def _links_stay_inside(runs: Path) -> list[str]:
    """Every link of every pulled run: its real target inside the runs folder, else listed."""
    bad = []
    real = os.path.realpath(runs)
    for root, dirs, files in os.walk(runs):
        for n in dirs + files:
            p = os.path.join(root, n)
            if os.path.islink(p) and not os.path.realpath(p).startswith(real + os.sep):
                bad.append(p)
    return bad


def _one_line(r: subprocess.CompletedProcess, code: int, words: str) -> None:
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and words in r.stderr, r.stderr


# --- 1. nothing from a remote is written or read outside its run ---------------------------------------

def test_a_chain_of_links_is_never_made(pushed, share, tmp_path):
    good = runyard.ls_runs()["id"][0]
    rid = "c" * 32
    secret = tmp_path / "secret" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("FAKE-PRIVATE-KEY")
    share.plant(rid, {"a.txt": b"a"}, {
        "l1": "..", "l2": "l1/..", "l3": "l2/..", "l4": "l3/..",  # each looks inside; together: far out
        "deep/x": "../l3", "abs": "/etc", "key": "../../../../secret/id_rsa",
        "self": ".", "up": "../" + rid, "step": f"../{good}", "inner": "a.txt"})
    laptop = _other_home(tmp_path)
    r = cli("pull", "share", env=laptop)
    assert r.returncode == 0 and "pulled 4 runs" in r.stderr, r.stderr
    runs = _runs_dir(tmp_path)
    made = sorted(p.name for p in (runs / rid).iterdir() if p.is_symlink())
    assert made == ["inner", "step"]  # inside the run, and another run's folder (a pipeline step)
    assert _links_stay_inside(runs) == []
    for name, why in (("l1", "points at the runs folder"), ("l2", "goes through another link"),
                      ("abs", "absolute path"), ("self", "holds it"), ("up", "holds it"), ("key", "outside")):
        assert f"link '{name}' " in r.stderr and why in r.stderr, (name, r.stderr)
    # export -L of the pulled run reads nothing outside the runs (the fake key stays home).
    out = tmp_path / "out.zip"
    started = time.time()
    r = cli("export", str(out), rid, "-L", "-y", env=laptop)
    assert r.returncode == 0 and time.time() - started < 30, r.stderr
    with zipfile.ZipFile(out) as zf:
        data = b"".join(zf.read(n) for n in zf.namelist())
        names = zf.namelist()
    assert b"FAKE-PRIVATE-KEY" not in data and all(n.startswith((rid, good)) for n in names)
    assert f"{rid}/step/.guild/opref" in names  # the step's files are carried, as -L promises


def test_a_folder_turned_into_a_link_plants_nothing(pushed, share, tmp_path):
    """Version 1 has d/numpy.py; version 2 makes d a link that leads to the project folder. The
    step that keeps local files the remote doesn't have must not follow it."""
    rid = "d" * 32
    share.plant(rid, {"d/numpy.py": b"raise SystemExit('PWNED')\n"})
    laptop = _other_home(tmp_path)
    assert cli("pull", "share", rid, env=laptop).returncode == 0
    runs = _runs_dir(tmp_path)
    assert (runs / rid / "d" / "numpy.py").is_file()
    share.plant(rid, {"b.txt": b"b"}, {"l1": "..", "l2": "l1/..", "l3": "l2/..", "d": "l3"})
    r = cli("pull", "share", rid, env=laptop)
    assert r.returncode == 0, r.stderr
    assert _outside_runs(tmp_path, runs, "numpy.py") == []
    assert not (tmp_path / "laptop" / "numpy.py").exists() and _links_stay_inside(runs) == []
    # The same with d a link to another run's folder (a link that may stay): nothing lands in that run.
    good = runyard.ls_runs()["id"][0]
    share.plant(rid, {"d/numpy.py": b"raise SystemExit('PWNED')\n"})
    assert cli("pull", "share", rid, env=laptop).returncode == 0 and (runs / rid / "d" / "numpy.py").is_file()
    share.plant(rid, {"b.txt": b"b"}, {"d": f"../{good}"})
    r = cli("pull", "share", env=laptop)
    assert r.returncode == 0 and "local file 'd/numpy.py' is now behind a link on the remote: not kept" in r.stderr
    assert os.readlink(runs / rid / "d") == f"../{good}" and _outside_runs(tmp_path, runs / rid, "numpy.py") == []
    # A link the remote sends where a folder of the run is: the run is refused whole.
    share.plant(rid, {"e/x.txt": b"x"}, {"e": ".."})
    r = cli("pull", "share", rid, env=laptop)
    assert f"skipping remote run {rid}" in r.stderr and "is also a file or folder of the run" in r.stderr


def test_export_copy_links_of_a_chain_stays_inside(project, tmp_path):
    """A run that holds a chain of links (as an older pull made them): export -L reads nothing
    outside the runs, and ends at once instead of walking the whole filesystem."""
    write(project / "train.py", SCRIPT)
    rid = runyard.run("train.py", echo=False)["id"][0]
    run = project / ".guild" / "runs" / rid
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "id_rsa").write_text("FAKE-PRIVATE-KEY")
    for name, target in (("l1", ".."), ("l2", "l1/.."), ("l3", "l2/.."), ("l4", "l3/.."), ("root", "/"),
                         ("key", str(tmp_path / "secret" / "id_rsa")), ("rel", "l4/secret/id_rsa"),
                         ("loop", ".")):
        os.symlink(target, run / name)
    for args in (("-L",), ()):
        out = tmp_path / f"out{len(args)}.zip"
        started = time.time()
        r = cli("export", str(out), rid, "-y", *args, timeout=60)
        assert r.returncode == 0 and time.time() - started < 20, r.stderr
        with zipfile.ZipFile(out) as zf:
            assert b"FAKE-PRIVATE-KEY" not in b"".join(zf.read(n) for n in zf.namelist())
            assert not {n.split("/")[1] for n in zf.namelist() if "/" in n} & {"l1", "l2", "l3", "l4", "root",
                                                                                 "key", "rel", "loop"}


def test_import_refuses_links_out_of_their_run(project, tmp_path):
    write(project / "train.py", SCRIPT)
    a, b = (runyard.run("train.py", {"x": x}, echo=False)["id"][0] for x in (1, 2))
    runs = project / ".guild" / "runs"
    # A directory export whose run links to the runs folder: 286 recursive copies on export -L before.
    d = tmp_path / "exported"
    assert cli("export", str(d), a, "-y").returncode == 0
    os.symlink("..", d / a / "up1")
    home = {"GUILD_HOME": str(tmp_path / "other" / ".guild")}
    _one_line(cli("import", str(d), "-y", env=home), 2, "'" + a + "/up1' is a link that points at the runs folder")
    os.unlink(d / a / "up1")
    os.symlink("l0/..", d / a / "l1")
    os.symlink(".", d / a / "l0")
    _one_line(cli("import", str(d), "-y", env=home), 2, "is a link that")
    assert not (tmp_path / "other" / ".guild" / "runs").exists() or not list((tmp_path / "other" / ".guild" / "runs").iterdir())
    # A zip link to a run that is not in the archive: refused (docs/cli.md), not a dangling link.
    z = tmp_path / "one.zip"
    assert cli("export", str(z), a, "-y").returncode == 0
    with zipfile.ZipFile(z, "a") as zf:
        info = zipfile.ZipInfo(f"{a}/step")
        info.create_system = 3
        info.external_attr = (0o120777) << 16
        zf.writestr(info, f"../{b}")
    _one_line(cli("import", str(z), "-y", env=home), 2, "points at a run that is not among these runs")
    # The same link with its run in the archive is a pipeline step: kept.
    z2 = tmp_path / "two.zip"
    assert cli("export", str(z2), a, b, "-y").returncode == 0
    os.symlink(f"../{b}", runs / a / "step")
    z3 = tmp_path / "three.zip"
    assert cli("export", str(z3), a, b, "-y").returncode == 0
    assert cli("import", str(z3), "-y", env=home).returncode == 0
    assert os.readlink(tmp_path / "other" / ".guild" / "runs" / a / "step") == f"../{b}"


# --- 2. what a remote sends is held to import's rules --------------------------------------------------

def test_a_pack_bomb_is_refused(pushed, share, tmp_path):
    rid = "b" * 32
    share.plant(rid, {"zeros.bin": bytes(40 * 1024 * 1024)}, level=9)
    laptop = _other_home(tmp_path)
    r = cli("pull", "share", env=laptop)
    assert r.returncode == 0 and "pulled 3 runs" in r.stderr, r.stderr
    assert f"refusing remote run {rid[:8]}: pack entry 'zeros.bin' expands" in r.stderr and "zip bomb" in r.stderr
    assert not (_runs_dir(tmp_path) / rid).exists() and not list(_runs_dir(tmp_path).glob(".pull*"))


def test_bad_file_entries_are_refused_and_the_rest_pulled(pushed, share, tmp_path):
    bad = {"1" * 32: (1, 10 ** 30), "2" * 32: (2, "x"), "3" * 32: (0, -1), "4" * 32: (2, 0o170000)}
    huge, longer = "5" * 32, "a" * 32
    for rid in [*bad, huge, longer]:
        share.plant(rid, {"x.bin": b"x" * 1000})
    shard = share.shard()
    for rid, (field, value) in bad.items():  # an mtime past 2262, a mode that is no number, ...
        shard["runs"][rid]["files"]["x.bin"][field] = value
    shard["runs"][huge]["files"]["x.bin"][0] = 10 ** 13  # says it holds 10 TB: more than is free here
    shard["runs"][longer]["files"]["x.bin"][0] = 10  # says 10 bytes; the pack holds 1000
    share.write_shard(shard)
    r = cli("pull", "share", env=_other_home(tmp_path))
    assert r.returncode == 0 and "pulled 3 runs" in r.stderr and "Traceback" not in r.stderr, r.stderr
    for rid in bad:
        assert f"skipping remote run {rid} in shard attacker0000001.json: bad file entry for 'x.bin'" in r.stderr
    assert f"{longer[:8]}: it changed on the remote" in r.stderr
    assert f"refusing remote run {huge[:8]}: it needs 10,000,000,000,034 bytes but only" in r.stderr
    assert not any((_runs_dir(tmp_path) / rid).exists() for rid in [*bad, longer, huge])


def test_pull_memory_stays_under_100_mb(project, share, tmp_path):
    write(project / "big.py", "import os\nwith open('big.bin', 'wb') as f:\n"
                              "    for _ in range(150):\n        f.write(os.urandom(1 << 20))\n")
    runyard.run("big.py", echo=False)
    share.add()
    assert cli("push", "share").returncode == 0
    env = {**os.environ, **_other_home(tmp_path)}
    code = ("import resource, subprocess, sys\n"
            "r = subprocess.run([sys.executable, '-m', 'runyard.cli', 'pull', 'share'])\n"
            "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    rc, peak_kb = out.stdout.split()
    assert rc == "0", out.stderr
    assert int(peak_kb) < 100 * 1024, f"pull peaked at {int(peak_kb) // 1024} MB"
    assert (_runs_dir(tmp_path) / runyard.ls_runs()["id"][0] / "big.bin").stat().st_size == 150 << 20


@pytest.mark.parametrize("share", ["folder"], indirect=True)
def test_a_fifo_on_a_folder_remote_hangs_nothing(pushed, tmp_path):
    share = tmp_path / "share"
    os.mkfifo(share / ".runyard" / "listing" / "zz.json")
    os.mkfifo(share / ".runyard" / "index" / "zz.json")
    r = cli("runs", "--remote", "share", timeout=30)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3, r.stderr
    assert "skipping remote shard zz.json: not a regular file" in r.stderr
    # A FIFO where a pack should be: that run is refused, the others pulled.
    [rid] = [p.name for p in (share / "packs").iterdir()][:1]
    for pack in (share / "packs" / rid).iterdir():
        pack.unlink()
        os.mkfifo(pack)
    r = cli("pull", "share", env=_other_home(tmp_path), timeout=30)
    assert r.returncode == 0 and "pulled 2 runs" in r.stderr and f"{rid[:8]}: pack" in r.stderr, r.stderr
    assert cli("push", "share", timeout=30).returncode == 0


# --- 3. push never sends a secret -----------------------------------------------------------------------

def test_push_never_sends_a_secret(pushed, share, tmp_path):
    rid = runyard.ls_runs()["id"][0]
    env_attr = pushed / ".guild" / "runs" / rid / ".guild" / "attrs" / "env"
    env_attr.write_text("KAGGLE_KEY: kaggle-secret-41\nDATABASE_URL: postgres://u:pw-42@h/db\nPATH: /usr/bin\n")
    r = cli("push", "share")
    assert r.returncode == 0 and "pushed 1 run" in r.stderr, r.stderr
    assert "pushed 0 runs" in cli("push", "share").stderr  # sent once: the filtered size is what is compared
    blob = b""
    for path in share.files(""):
        data = share.fs.cat_file(path)
        blob += data
        if path.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                blob += b"".join(zf.read(n) for n in zf.namelist())
    assert b"kaggle-secret-41" not in blob and b"pw-42" not in blob and b"/usr/bin" in blob
    laptop = _other_home(tmp_path)
    assert cli("pull", "share", env=laptop).returncode == 0
    text = (_runs_dir(tmp_path) / rid / ".guild" / "attrs" / "env").read_text()
    assert "PATH" in text and "kaggle" not in text and "pw-42" not in text


# --- 4. --delete is safe --------------------------------------------------------------------------------

def test_pull_delete_refuses_an_empty_or_mistyped_remote(pushed, share, tmp_path):
    wrong = (tmp_path / "does-not-exist").as_uri() if share.kind == "folder" else share.url + "rooot"
    _add("wrong", wrong, *share.opts)
    r = cli("pull", "wrong", "--delete", "-y")
    _one_line(r, 2, "refusing --delete: remote wrong holds no runs")
    assert len(runyard.ls_runs()) == 3 and len(runyard.ls_runs("--deleted")) == 0


def test_pull_delete_counts_asks_and_spares_running_runs(pushed, share, tmp_path):
    write(pushed / "slow.py", "import time\nfor i in range(600):\n    time.sleep(0.05)\n")
    extra = runyard.run("train.py", {"x": 9}, echo=False)["id"][0]  # not on the remote
    assert cli("run", "slow.py", "-b", "-y").returncode == 0
    deadline = time.time() + 20
    while time.time() < deadline and "running" not in cli("runs").stdout:
        time.sleep(0.1)
    try:
        r = cli("pull", "share", "--delete")  # no terminal to ask on, no -y: nothing is done
        _one_line(r, 2, "--delete would move 1 local run that share doesn't have to the trash: add -y")
        assert len(runyard.ls_runs()) == 5
        r = cli("pull", "share", "--delete", "-y")
        assert r.returncode == 0 and "1 deleted" in r.stderr and "is running here: not moved" in r.stderr, r.stderr
        assert list(runyard.ls_runs("--deleted")["id"]) == [extra]
        assert "running" in cli("runs").stdout
    finally:
        cli("stop", "-y")


def test_push_delete_refuses_from_an_empty_home_and_spares_running_runs(pushed, share, tmp_path):
    empty = _other_home(tmp_path, "empty")
    r = cli("push", "share", "--delete", "-y", env=empty)
    _one_line(r, 2, "refusing --delete: this home holds no runs")
    assert len(cli("runs", "--remote", "share").stdout.splitlines()) == 3
    # Another home's run is running (pushed with --include-running): never removed.
    rid = "f" * 32
    share.plant(rid, {}, record={"id": rid, "status": "running", "started": int(time.time() * 1e6)})
    r = cli("push", "share", "--delete")
    assert r.returncode == 0 and f"{rid[:8]} is running on the remote: not deleted" in r.stderr, r.stderr
    assert rid[:8] in cli("runs", "--remote", "share").stdout


# --- 5. every record is checked on the way in ----------------------------------------------------------

BAD_RECORDS = [("started", '"x"'), ("started", "[1]"), ("started", "1e30"), ("started", "Infinity"),
               ("started", "NaN"), ("stopped", "-Infinity"), ("label", "3"), ("tags", "5"), ("flags", "[1]"),
               ("exit_status", '"0"'), ("status", '"pwned"'), ("marked", '"yes"'), ("scalars", '{"loss": "x"}'),
               ("comments", "7")]


def test_bad_records_are_skipped_with_one_warning_each(pushed, share, tmp_path):
    entries = []
    for i, (field, raw) in enumerate(BAD_RECORDS):
        rid = f"{i:032x}"
        entries.append(f'"{rid}": {{"record": {{"id": "{rid}", "status": "completed", "{field}": {raw}}}, '
                       f'"pushed": {time.time()}}}')
    share.write_shard('{"runs": {' + ", ".join(entries) + "}}")
    for args in (("runs", "--remote", "share"), ("runs", "--remote", "share", "-Fl", "x"),
                 ("runs", "--remote", "share", "-Ft", "best")):
        r = cli(*args)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stdout.splitlines()) == (3 if "-Fl" in args else 0 if "-Ft" in args else 3), r.stdout
        for i, (field, _raw) in enumerate(BAD_RECORDS):
            assert r.stderr.count(f"skipping remote run {i:032x} ") == 1 and f"bad {field}" in r.stderr
    assert cli("tag", "1", "--add", "best", "-y").returncode == 0 and cli("push", "share").returncode == 0
    laptop = _other_home(tmp_path)
    r = cli("pull", "share", "--tag", "best", env=laptop)
    assert r.returncode == 0 and "pulled 1 run" in r.stderr, r.stderr
    r = cli("pull", "share", env=laptop)
    assert r.returncode == 0 and "pulled 2 runs" in r.stderr, r.stderr


MALFORMED_SHARDS = ['{"runs": {"%s": {"record": {}, "pushed": "abc"}}}' % ("1" * 32), '{"runs": [1]}', "[1]",
                    "[" * 100_000 + "]" * 100_000, '{"runs": ' * 50_000 + "{}" + "}" * 50_000, "{", "\xff",
                    '{"runs": {"%s": {"record": {}, "pushed": 1, "files": {"a": [1, 2]}}}}' % ("2" * 32)]


def test_malformed_shards_hide_nothing(pushed, share, tmp_path):
    for i, text in enumerate(MALFORMED_SHARDS):
        share.write_shard(text, home=f"bad{i:02d}")
    r = cli("runs", "--remote", "share")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("runyard: warning: skipping") == len(MALFORMED_SHARDS), r.stderr
    assert "could not convert" not in r.stderr
    assert cli("label", "1", "--set", "new", "-y").returncode == 0
    r = cli("push", "share")
    assert r.returncode == 0 and "pushed 1 run" in r.stderr, r.stderr
    r = cli("pull", "share", env=_other_home(tmp_path))
    assert r.returncode == 0 and "pulled 3 runs" in r.stderr, r.stderr
    extra = runyard.run("train.py", {"x": 7}, echo=False)["id"][0]  # a run here the remote doesn't have...
    r = cli("pull", "share", "--delete", "-y")
    _one_line(r, 2, "refusing --delete: remote share could not be read whole")  # ...but its index isn't whole
    assert extra in list(runyard.ls_runs()["id"])


def test_a_shard_cannot_pin_another_homes_run(pushed, share, tmp_path):
    rid = runyard.ls_runs()["id"][0]
    theirs = share.shard(next(p.rsplit("/", 1)[-1][:-5] for p in share.files(".runyard/index")))["runs"][rid]
    for pushed_at in (1e300, time.time() + 10 * 24 * 3600):
        share.write_shard({"runs": {rid: dict(theirs, record=dict(theirs["record"], label="PINNED"),
                                              pushed=pushed_at)}})
        r = cli("runs", "--remote", "share")
        assert "PINNED" not in r.stdout and f"skipping remote run {rid}" in r.stderr, r.stderr
    # Within the clock skew allowed, the owner's next push still wins.
    share.write_shard({"runs": {rid: dict(theirs, record=dict(theirs["record"], label="PINNED"),
                                          pushed=time.time() + 300)}})
    assert "PINNED" in cli("runs", "--remote", "share").stdout
    assert cli("label", rid, "--set", "mine", "-y").returncode == 0
    assert cli("push", "share").returncode == 0
    out = cli("runs", "--remote", "share").stdout
    assert "PINNED" not in out and "mine" in out


# --- 6. remote text is printed escaped ------------------------------------------------------------------

def test_remote_text_reaches_the_terminal_escaped(pushed, share, tmp_path):
    rid = "e" * 32
    evil = "\x1b]0;PWNED\x07\x1b[2J"
    share.plant(rid, {"a.txt": b"a"}, {evil: "/etc"})
    share.write_shard('{"runs": {"' + evil + '": 1}}', home="x" + evil.replace("/", ""))
    for args in (("pull", "share"), ("runs", "--remote", "share")):
        r = cli(*args, env=_other_home(tmp_path))
        assert r.returncode == 0, r.stderr
        assert "\x1b" not in r.stderr + r.stdout and "\x07" not in r.stderr + r.stdout
        assert "\\x1b]0;PWNED" in r.stderr, r.stderr


# --- 7. deep or huge JSON and YAML: one line, at once ----------------------------------------------------

def test_deep_json_and_yaml_are_refused_at_once(project, tmp_path):
    write(project / "train.py", "x = 1\nprint(x)\n")
    rid = runyard.run("train.py", echo=False)["id"][0]
    deep = "[" * 30_000 + "]" * 30_000
    run_dir = str(project / ".guild" / "runs" / rid)
    r = cli("api", "write-attr", "note", deep, "--run-dir", run_dir)
    _one_line(r, 2, "the value of 'note' is nested more than 100 levels deep")
    (tmp_path / "deep.json").write_text("[" + "{\"x\": " * 30_000 + "1" + "}" * 30_000 + "]")
    _one_line(cli("api", "run", "train.py", f"@{tmp_path / 'deep.json'}"), 2, "nested more than 100 levels deep")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9))
    (tmp_path / "bomb.yml").write_text(bomb + "x: 1\n")
    started = time.time()
    r = cli("run", "train.py", f"@{tmp_path / 'bomb.yml'}", "-y")
    _one_line(r, 2, "its YAML aliases expand to more than")
    assert time.time() - started < 5
    (tmp_path / "ok.yml").write_text("- {x: &one 1}\n- {x: *one}\n")  # a small anchor is fine
    assert cli("run", "train.py", f"@{tmp_path / 'ok.yml'}", "-y").returncode == 0
    assert len(runyard.ls_runs()) == 3


def test_view_refuses_deep_or_broken_bodies(project):
    pytest.importorskip("starlette")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from runyard.web.app import create_app

    write(project / "train.py", "x = 1\nprint(x)\n")
    rid = runyard.run("train.py", echo=False)["id"][0]
    base = "http://127.0.0.1:8766"
    app = create_app(port=8766)
    try:
        with TestClient(app, base_url=base) as c:
            h = {"X-Runyard-Token": app.view.token, "Origin": base, "Content-Type": "application/json"}
            deep = '{"runs": ["%s"], "add": ' % rid + "[" * 100_000 + "]" * 100_000 + "}"
            for action in ("tag", "label", "comment"):
                started = time.time()
                resp = c.post(f"/api/runs/{action}", content=deep, headers=h)
                assert resp.status_code == 400 and "nested more than 100" in resp.json()["error"]
                assert time.time() - started < 1
            for body in ("{", "[1]", deep):
                resp = c.post("/api/tensorboard", content=body, headers=h)
                assert resp.status_code == 400, (body[:5], resp.status_code)
            resp = c.post("/api/runs/label", content=json.dumps({"runs": [rid], "label": "fine"}), headers=h)
            assert resp.status_code == 200
    finally:
        app.view.close()
    assert runyard.ls_runs()["label"][0] == "fine"
