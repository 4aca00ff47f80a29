"""Issue 9 points 3 and 4, one test per fault-matrix row: import treats every archive and
directory as hostile, readers stay inside a run, import and export are atomic (real processes
SIGKILLed at random moments)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import runyard
from runyard.errors import UsageError
from conftest import cli, write

OPREF = "script:/x '' '' t.py\n"


def _tree(d: Path) -> dict:
    """Every file under ``d`` (relative path -> bytes; links -> their target)."""
    out = {}
    for p in sorted(d.rglob("*")):
        if p.is_symlink():
            out[str(p.relative_to(d))] = ("link", os.readlink(p))
        elif p.is_file():
            out[str(p.relative_to(d))] = p.read_bytes()
    return out


def _runs(home: Path) -> list[str]:
    d = home / "runs"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def _fake_zip(path: Path, run_id: str, extra: dict | None = None) -> Path:
    """A zip holding one minimal run ``run_id`` (plus ``extra`` entries)."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{run_id}/.guild/opref", OPREF)
        zf.writestr(f"{run_id}/.guild/attrs/started", "1700000000000000\n")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def _one_line_refusal(r: subprocess.CompletedProcess, words: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert words in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr


@pytest.fixture
def real_run(project):
    """One real completed run made by runyard; returns its directory."""
    write(project / "t.py", "x = 1\nprint('loss: 0.5')\n")
    rid = runyard.run("t.py", echo=False).iloc[0]["id"]
    return project / ".guild" / "runs" / rid


def _clone(src: Path, runs_dir: Path, n: int, files: int = 0, size: int = 10_000) -> list[str]:
    """``n`` copies of run ``src`` under new ids in ``runs_dir``, each with ``files`` files of
    ``size`` random bytes (so exports and imports take long enough to be killed half-way)."""
    ids = []
    for _ in range(n):
        rid = uuid.uuid4().hex
        d = runs_dir / rid
        shutil.copytree(src, d, symlinks=True)
        if files:
            (d / "data").mkdir()
        for k in range(files):
            (d / "data" / f"part{k:04d}.bin").write_bytes(os.urandom(size))
        ids.append(rid)
    return ids


# --- 3. import treats every archive and directory as hostile ---------------------------------------------

BAD_IDS = ["--help", "cache", "abc\x1b]0;pwned\x07def", "ABCDEF1234567890ABCDEF1234567890",
           "abcdef1234567890abcdef123456789", "abcdef12-3456-7890-abcd-ef1234567890"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_run_ids_must_be_32_lowercase_hex(project, tmp_path, bad):
    good = "0123456789abcdef0123456789abcdef"
    z = _fake_zip(tmp_path / "ids.zip", good, {f"{bad}/.guild/opref": OPREF})
    r = cli("import", str(z), "-y")
    _one_line_refusal(r, "32 lowercase hex digits")
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr  # the bad id is shown escaped
    assert _runs(project / ".guild") == []
    d = tmp_path / "dir"
    (d / bad / ".guild").mkdir(parents=True)
    (d / bad / ".guild" / "opref").write_text(OPREF)
    with pytest.raises(UsageError, match="32 lowercase hex"):
        runyard.runs_import(d)
    _one_line_refusal(cli("import", str(d), "-y"), "32 lowercase hex digits")
    assert _runs(project / ".guild") == []


def test_extracted_files_get_plain_permissions(project, tmp_path):
    rid = "0123456789abcdef0123456789abcdef"
    z = tmp_path / "modes.zip"
    modes = {"suid": 0o4777, "sgid": 0o2755, "sticky": 0o1777, "worldw": 0o666, "exe": 0o755, "ro": 0o444}
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(f"{rid}/.guild/opref", OPREF)
        for name, mode in modes.items():
            info = zipfile.ZipInfo(f"{rid}/{name}")
            info.external_attr = (stat.S_IFREG | mode) << 16
            zf.writestr(info, name)
    r = cli("import", str(z), "-y")
    assert r.returncode == 0, r.stderr
    got = {n: stat.S_IMODE(os.stat(project / ".guild" / "runs" / rid / n).st_mode) for n in modes}
    assert got == {"suid": 0o775, "sgid": 0o755, "sticky": 0o775, "worldw": 0o664, "exe": 0o755, "ro": 0o444}
    # the same from an export directory
    d = tmp_path / "dir" / rid.replace("0", "1")
    (d / ".guild").mkdir(parents=True)
    (d / ".guild" / "opref").write_text(OPREF)
    (d / "suid").write_text("x")
    os.chmod(d / "suid", 0o6777)
    assert cli("import", str(d.parent), "-y").returncode == 0
    assert stat.S_IMODE(os.stat(project / ".guild" / "runs" / d.name / "suid").st_mode) == 0o775


def test_links_and_dotdot_entries_stay_refused(project, tmp_path):
    rid = "0123456789abcdef0123456789abcdef"
    for name in ("../evil.txt", f"{rid}/../../evil.txt", "/tmp/evil.txt"):
        _one_line_refusal(cli("import", str(_fake_zip(tmp_path / "dd.zip", rid, {name: "evil"})), "-y"),
                          "would land outside")
    z = tmp_path / "link.zip"
    _fake_zip(z, rid)
    with zipfile.ZipFile(z, "a") as zf:
        info = zipfile.ZipInfo(f"{rid}/passwd")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    _one_line_refusal(cli("import", str(z), "-y"), "is a link")
    d = tmp_path / "dir"
    (d / rid / ".guild").mkdir(parents=True)
    (d / rid / ".guild" / "opref").write_text(OPREF)
    os.symlink("/etc/passwd", d / rid / "passwd")
    _one_line_refusal(cli("import", str(d), "-y"), "points outside the archive")
    os.unlink(d / rid / "passwd")
    os.mkfifo(d / rid / "fifo")
    _one_line_refusal(cli("import", str(d), "-y"), "not a regular file")
    assert _runs(project / ".guild") == [] and not list(project.rglob("evil.txt"))


def test_size_checked_against_free_space(project, tmp_path):
    """A zip whose central directory declares 1 PB is refused before a byte is written."""
    rid = "0123456789abcdef0123456789abcdef"
    z = tmp_path / "huge.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(f"{rid}/.guild/opref", OPREF)
        zf.writestr(f"{rid}/big.bin", b"x" * 100)
        zf.filelist[-1].file_size = 2 ** 50  # written as a zip64 size in the central directory
    assert zipfile.ZipFile(z).getinfo(f"{rid}/big.bin").file_size == 2 ** 50
    for force in ((), ("--force",)):
        _one_line_refusal(cli("import", str(z), "-y", *force), "is free")
    assert _runs(project / ".guild") == [] and not (project / ".guild" / "tmp").exists()


def test_zip_bomb_refused_unless_force(project, tmp_path):
    rid = "0123456789abcdef0123456789abcdef"
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_BZIP2) as zf:
        zf.writestr(f"{rid}/.guild/opref", OPREF)
        zf.writestr(f"{rid}/zeros.bin", bytes(12 * 1024 * 1024))
    assert z.stat().st_size < 20_000
    r = cli("import", str(z), "-y")
    _one_line_refusal(r, "zip bomb?")
    assert "--force" in r.stderr and _runs(project / ".guild") == []
    with pytest.raises(UsageError, match="expands"):
        runyard.runs_import(z)
    r = cli("import", str(z), "-y", "--force")
    assert r.returncode == 0, r.stderr
    assert (project / ".guild" / "runs" / rid / "zeros.bin").stat().st_size == 12 * 1024 * 1024


def test_many_small_bomb_entries_refused_as_a_whole(project, tmp_path):
    """Entries each under 10 MB still add up: the archive's own ratio is checked too."""
    rid = "0123456789abcdef0123456789abcdef"
    z = tmp_path / "bombs.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_BZIP2) as zf:
        zf.writestr(f"{rid}/.guild/opref", OPREF)
        for k in range(3):
            zf.writestr(f"{rid}/zeros{k}.bin", bytes(5 * 1024 * 1024))
    _one_line_refusal(cli("import", str(z), "-y"), "the archive expands")
    assert _runs(project / ".guild") == []


def test_corrupt_or_truncated_zip_one_line_nothing_written(real_run, project, tmp_path):
    home = project / ".guild"
    ids = _clone(real_run, tmp_path / "src", 2, files=4)
    z = tmp_path / "ok.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for rid in ids:
            for p in sorted((tmp_path / "src" / rid).rglob("*")):
                zf.write(p, p.relative_to(tmp_path / "src").as_posix())
    data = z.read_bytes()
    before = _runs(home)
    (tmp_path / "trunc.zip").write_bytes(data[: len(data) // 2])
    (tmp_path / "notzip.zip").write_bytes(b"this is not a zip")
    # a flipped byte inside the second run's last file: found only when it is read (CRC)
    with zipfile.ZipFile(z) as zf:
        last = [i for i in zf.infolist() if i.filename.startswith(ids[1]) and i.file_size][-1]
    off = last.header_offset + 30 + len(last.filename.encode()) + len(last.extra) + 10
    bad = bytearray(data)
    bad[off] ^= 0xFF
    (tmp_path / "crc.zip").write_bytes(bytes(bad))
    for name in ("trunc.zip", "notzip.zip", "crc.zip"):
        r = cli("import", str(tmp_path / name), "-y")
        _one_line_refusal(r, "damaged or truncated")
        assert _runs(home) == before, name  # not even the first, intact run
        assert not (home / "tmp").exists() or not list((home / "tmp").iterdir())


def _hostile_run(home: Path, outside: Path, hostile: bool = True) -> str:
    """A run whose manifest names files outside it, a device and a FIFO; with links out of it."""
    rid = uuid.uuid4().hex
    d = home / "runs" / rid
    (d / ".guild" / "attrs").mkdir(parents=True)
    (d / ".guild" / "opref").write_text(OPREF)
    (d / ".guild" / "attrs" / "started").write_text("1700000000000000\n")
    (d / ".guild" / "attrs" / "exit_status").write_text("0\n")
    (d / "t.py").write_text("x = 1\n" if hostile else "x = 2\n")
    if hostile:
        os.symlink(outside, d / "link.txt")
        os.mkfifo(d / "fifo.txt")
    rels = ["t.py", "link.txt", "fifo.txt", "/dev/zero", "../../../../../../dev/zero",
            os.path.relpath(outside, d), str(outside)] if hostile else ["t.py"]
    (d / ".guild" / "manifest").write_text("".join(f"s {r} 0\n" for r in rels))
    return rid


def test_readers_stay_inside_the_run(project, tmp_path):
    home = project / ".guild"
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("TOP-SECRET-OUTSIDE\n")
    a, b = _hostile_run(home, outside), _hostile_run(home, outside, hostile=False)
    r = cli("diff", a, b, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "TOP-SECRET" not in r.stdout and "not read" in r.stdout and "x = 2" in r.stdout
    r = cli("diff", a, b, "-p", "../outside-secret.txt", timeout=60)
    assert r.returncode == 2 and "TOP-SECRET" not in r.stdout
    for rel, words in (("link.txt", "outside the run"), ("../../../outside-secret.txt", "outside the run"),
                       ("fifo.txt", "not a regular file")):
        r = cli("cat", a, "-p", rel, timeout=60)
        _one_line_refusal(r, words)
        assert "TOP-SECRET" not in r.stdout
    _one_line_refusal(cli("ls", a, "-p", "..", timeout=60), "outside the run")
    r = cli("report", a, "-n", timeout=60)
    assert r.returncode == 0, r.stderr
    assert "TOP-SECRET" not in Path(r.stdout.strip()).read_text()
    html = Path(runyard.view_runs_diff([a, b], open=False)).read_text()
    assert "TOP-SECRET" not in html

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from runyard.web.app import create_app

    app = create_app(port=8766)
    with TestClient(app, base_url="http://127.0.0.1:8766") as c:
        for url in (f"/files/{a}/link.txt", f"/files/{a}/fifo.txt", f"/api/run/{a}/source?path=link.txt",
                    f"/api/run/{a}/source?path=fifo.txt", f"/api/run/{a}/source?path=/dev/zero",
                    f"/run/{a}", f"/diff/{a}/{b}"):
            resp = c.get(url)
            assert resp.status_code < 500 and "TOP-SECRET" not in resp.text, url
    app.view.close()


# --- 4. import and export are atomic ---------------------------------------------------------------------

def _runyard(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runyard.cli", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_writing(p: subprocess.Popen, writing) -> float | None:
    """Wait until ``writing()`` turns true (the process has begun writing); returns the time, or
    None if the process ended first."""
    deadline = time.monotonic() + 60
    while not writing():
        if p.poll() is not None or time.monotonic() > deadline:
            p.wait()
            return None
        time.sleep(0.002)
    return time.monotonic()


def _writing_time(args: tuple, writing, cwd: Path) -> float:
    """How long a whole (unkilled) ``runyard ARGS`` writes, from its first write to its exit."""
    p = _runyard(*args, cwd=cwd)
    began = _wait_writing(p, writing)
    assert p.wait() == 0, p.stderr.read()
    return time.monotonic() - began if began else 0.05


def _kill_once_writing(p: subprocess.Popen, writing, rng: random.Random, most: float) -> None:
    """SIGKILL ``p`` at a random moment within ``most`` seconds after it has begun writing
    (in its first 60%: ``most`` is one earlier run's time, and a loaded machine varies)."""
    _kill_writing_after(p, writing, rng.uniform(0, most * 0.6))


def _kill_writing_after(p: subprocess.Popen, writing, delay: float) -> None:
    """SIGKILL ``p`` ``delay`` seconds after it has begun writing."""
    if _wait_writing(p, writing) is not None:
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
    p.wait()


def _tries(rng: random.Random, duration: float, landed) -> Iterator[float]:
    """Kill delays: three at random moments of the writing, then, while no kill has landed before
    the work finished (``landed()``; a loaded machine can make every random moment too late), up to
    seven more at the moment writing begins. The test never depends on the machine's speed."""
    for n in range(10):
        if n >= 3 and landed():
            return
        yield rng.uniform(0, duration * 0.6) if n < 3 else 0.0


def _has_entries(*dirs: Path) -> bool:
    for d in dirs:
        try:
            if any(True for _ in os.scandir(d)):
                return True
        except FileNotFoundError:
            pass
    return False


@pytest.mark.parametrize("kind", ["zip", "dir"])
def test_import_sigkill_leaves_whole_runs_or_none(real_run, project, tmp_path, kind):
    home = project / ".guild"
    src = tmp_path / "src"
    ids = _clone(real_run, src, 4, files=80)
    trees = {i: _tree(src / i) for i in ids}
    archive = tmp_path / "all.zip" if kind == "zip" else tmp_path / "exported"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for i in ids:
                for p in sorted((src / i).rglob("*")):
                    zf.write(p, p.relative_to(src).as_posix())
    else:
        shutil.copytree(src, archive, symlinks=True)
    (home / "runs").mkdir(parents=True, exist_ok=True)
    rng = random.Random(9)
    interrupted = 0
    writing = lambda: _has_entries(home / "runs", home / "tmp")  # noqa: E731  (in runs/ or a temp dir)
    duration = _writing_time(("import", str(archive), "-y"), writing, project)
    for delay in _tries(rng, duration, lambda: interrupted):
        for i in ids:
            shutil.rmtree(home / "runs" / i, ignore_errors=True)
        p = _runyard("import", str(archive), "-y", cwd=project)
        _kill_writing_after(p, writing, delay)
        present = [i for i in _runs(home) if i in trees]
        for i in present:  # a run that is there is whole
            assert _tree(home / "runs" / i) == trees[i]
        r = cli("import", str(archive), "-y")  # the same import again completes it
        assert r.returncode == 0, r.stderr
        assert {i: _tree(home / "runs" / i) for i in ids} == trees
        interrupted += len(present) < len(ids)
    assert interrupted  # at least one kill landed before the import had finished
    assert not (home / "tmp").exists() or not list((home / "tmp").iterdir())


def test_export_sigkill_never_damages_the_archive(real_run, project, tmp_path):
    home = project / ".guild"
    first = _clone(real_run, home / "runs", 2, files=3)
    out = tmp_path / "out"
    out.mkdir()
    z = out / "runs.zip"
    assert cli("export", str(z), *first, "-y").returncode == 0
    with zipfile.ZipFile(z) as zf:
        original = {i.filename: zf.read(i) for i in zf.infolist()}
    size = z.stat().st_size
    more = _clone(real_run, home / "runs", 4, files=80)
    every = set(first + more) | {real_run.name}
    rng = random.Random(10)
    interrupted = 0
    writing = lambda: z.stat().st_size != size or len(os.listdir(out)) > 1  # noqa: E731  (in place or a copy)
    shutil.copyfile(z, tmp_path / "keep.zip")
    duration = _writing_time(("export", str(z), "-y"), writing, project)
    shutil.copyfile(tmp_path / "keep.zip", z)
    for delay in _tries(rng, duration, lambda: interrupted):  # appending, killed as it writes
        p = _runyard("export", str(z), "-y", cwd=project)
        _kill_writing_after(p, writing, delay)
        with zipfile.ZipFile(z) as zf:  # always a readable zip, the old runs intact
            assert zf.testzip() is None
            got = {i.filename: zf.read(i) for i in zf.infolist() if i.filename in original}
            interrupted += len({n.split("/", 1)[0] for n in zf.namelist()}) < len(every)
        assert got == original
    assert interrupted
    new = out / "new.zip"
    for _ in range(2):  # a new archive: under its final name only when whole
        p = _runyard("export", str(new), "-y", cwd=project)
        _kill_once_writing(p, lambda: len(os.listdir(out)) > 1, rng, duration)
        if new.exists():
            with zipfile.ZipFile(new) as zf:
                assert zf.testzip() is None
            new.unlink()
    for location in (z, new):
        r = cli("export", str(location), "-y")
        assert r.returncode == 0, r.stderr
        with zipfile.ZipFile(location) as zf:
            assert {n.split("/", 1)[0] for n in zf.namelist()} == every
    assert sorted(os.listdir(out)) == ["new.zip", "runs.zip"]  # killed exports' temp files are cleaned
    d = tmp_path / "dirout"
    p = _runyard("export", str(d), "-y", cwd=project)
    _kill_once_writing(p, lambda: _has_entries(d), rng, duration)
    for name in os.listdir(d) if d.exists() else []:
        if not name.startswith("."):
            assert _tree(d / name) == _tree(home / "runs" / name)  # every run there is whole
