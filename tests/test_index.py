"""The index sees other tools' edits at its recheck without statting every attribute file
(issue 10, point 7): Guild AI rewrites label, tags, comments and flags in place and creates or
deletes the others; the recheck stats a run's attrs directory and the in-place files it has."""

from __future__ import annotations

import sqlite3
import time

import pytest

import runyard
from conftest import write

SCRIPT = "x = 1\nprint('loss: 0.5')\n"


def _guild_write(path, text: str) -> None:
    """As Guild AI 0.9's Run.write_attr: open(path, "w") — in place, not atomic."""
    with open(path, "w") as f:
        f.write(text)


@pytest.fixture
def two(project, monkeypatch):
    write(project / "train.py", SCRIPT)
    for x in (1, 2):
        runyard.run("train.py", {"x": x}, echo=False)
    monkeypatch.setenv("RUNYARD_INDEX_RECHECK", "0")  # every listing is "after the interval"
    return project


def _attrs(project, rid: str):
    return project / ".guild" / "runs" / rid / ".guild" / "attrs"


def test_recheck_sees_guild_style_edits(two):
    rid = runyard.ls_runs(1)["id"][0]
    attrs = _attrs(two, rid)
    time.sleep(0.01)
    _guild_write(attrs / "label", "relabeled\n")  # in place
    assert runyard.ls_runs(1)["label"][0] == "relabeled"
    _guild_write(attrs / "tags", "- first\n")  # a new file: the directory changes
    assert runyard.ls_runs(1)["tags"][0] == ["first"]
    time.sleep(0.01)
    _guild_write(attrs / "tags", "- first\n- second\n")  # then in place
    assert runyard.ls_runs(1)["tags"][0] == ["first", "second"]
    _guild_write(attrs / "comments", "- body: hi\n  host: h\n  time: 1\n  user: u\n")
    time.sleep(0.01)
    _guild_write(attrs / "comments", "- body: edited\n  host: h\n  time: 1\n  user: u\n")
    assert runyard.ls_runs(1)["comments"][0][0]["body"] == "edited"
    _guild_write(attrs / "marked", "true\n")
    assert bool(runyard.ls_runs(1)["marked"][0])
    (attrs / "marked").unlink()  # Guild's unmark deletes the file
    assert not bool(runyard.ls_runs(1)["marked"][0])
    time.sleep(0.01)
    _guild_write(attrs / "flags", "x: 7\n")
    assert runyard.ls_runs(1)["flags.x"][0] == 7


def test_recheck_stats_only_the_files_a_run_has(two, monkeypatch):
    """The index records which in-place files each run has; an index written before it knew
    (the plain FINAL kind) still sees in-place edits."""
    from runyard import index

    runyard.ls_runs()
    db = sqlite3.connect(two / ".guild" / "cache" / index.DB_NAME)
    finals = [f for (f,) in db.execute("SELECT final FROM runs")]
    assert finals and all(f & 3 == index.FINAL and f & index.KNOWN for f in finals)
    assert all(f & (1 << 2) and f & (1 << 5) and not f & (1 << 3) for f in finals)  # label, flags; no tags
    db.execute("UPDATE runs SET final = ?", (index.FINAL,))  # as an older index wrote it
    db.commit()
    db.close()
    index._MEM.clear()
    rid = runyard.ls_runs(2)["id"][0]
    time.sleep(0.01)
    _guild_write(_attrs(two, rid) / "label", "seen by an old index\n")
    assert runyard.ls_runs(2)["label"][0] == "seen by an old index"


def test_within_the_interval_finished_runs_are_trusted(two, monkeypatch):
    monkeypatch.setenv("RUNYARD_INDEX_RECHECK", "3600")
    runyard.ls_runs()
    rid = runyard.ls_runs(1)["id"][0]
    time.sleep(0.01)
    _guild_write(_attrs(two, rid) / "label", "not yet\n")
    assert runyard.ls_runs(1)["label"][0] != "not yet"  # (the documented window)
    monkeypatch.setenv("RUNYARD_INDEX_RECHECK", "0")
    assert runyard.ls_runs(1)["label"][0] == "not yet"


def test_another_process_writes_are_seen_at_once(two, monkeypatch):
    """Inside the interval this process reuses the rows it last saw while the index's
    generation is unchanged: another runyard process's label, tag, delete and new run change
    it, and the next listing here shows them."""
    from conftest import cli

    monkeypatch.setenv("RUNYARD_INDEX_RECHECK", "3600")
    first = runyard.ls_runs()
    assert len(first) == 2 and len(runyard.ls_runs()) == 2  # (the second from the kept rows)
    newest, older = first["id"][0], first["id"][1]
    r = cli("label", newest[:8], "--set", "set elsewhere", "-y", cwd=two)
    assert r.returncode == 0, r.stderr
    assert runyard.ls_runs(newest[:8])["label"][0] == "set elsewhere"
    r = cli("tag", older[:8], "--add", "far", "-y", cwd=two)
    assert r.returncode == 0, r.stderr
    assert runyard.ls_runs(older[:8])["tags"][0] == ["far"]
    r = cli("run", "train.py", "x=3", "-y", "-q", cwd=two)
    assert r.returncode == 0, r.stderr
    listed = runyard.ls_runs()
    assert len(listed) == 3 and listed["flags.x"].tolist() == [3, 2, 1]
    r = cli("runs", "delete", older[:8], "-y", cwd=two)
    assert r.returncode == 0, r.stderr
    assert older not in runyard.ls_runs()["id"].tolist()
    assert len(runyard.ls_runs()) == 2


def test_a_new_process_lists_newest_first_as_this_one_does(project, monkeypatch):
    """A new process takes the index's rows in the database's order (newest first) instead of
    sorting them: ties on the start time go by id, a run with no start time comes last."""
    import json

    from conftest import cli

    write(project / "train.py", SCRIPT)
    for x in range(5):
        runyard.run("train.py", {"x": x}, echo=False)
    ids = runyard.ls_runs()["id"].tolist()
    for rid in ids[:3]:  # three runs started at the same microsecond (written as runyard does)
        tmp = _attrs(project, rid).parent / "started.tmp"
        tmp.write_text("1700000000000000\n")
        tmp.replace(_attrs(project, rid) / "started")
    (_attrs(project, ids[3]) / "started").unlink()
    monkeypatch.setenv("RUNYARD_INDEX_RECHECK", "0")
    expected = [r["id"] for r in runyard.ls_records()]
    assert expected == [ids[4], *sorted(ids[:3], reverse=True), ids[3]]
    r = cli("runs", "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    assert [x["id"] for x in json.loads(r.stdout)] == expected


# A child process's listing: the frame (pickled to a file of the test's own), whether it was
# taken whole from the snapshot and whether its frame was the one kept (the calls are observed,
# not replaced).
_CHILD = """
import json, pickle, sys
import runyard
from runyard import index
seen = {"whole": False, "frame": False, "kept": False}
def observed(name, real):
    def call(*a, **k):
        out = real(*a, **k)
        seen[name] = seen[name] or out is not None
        return out
    return call
index.db._unchanged_since_snapshot = observed("whole", index.db._unchanged_since_snapshot)
index.snapshot_frame = observed("frame", index.snapshot_frame)
index.kept_frame = observed("kept", index.kept_frame)
df = runyard.ls_runs()
with open(sys.argv[1], "wb") as f:
    pickle.dump(df, f)
print(json.dumps(seen))
"""


def _child_listing(project, tmp_path, frame=False, **env):
    import json
    import os
    import pickle
    import subprocess
    import sys

    out = tmp_path / "frame.pickle"
    r = subprocess.run([sys.executable, "-c", _CHILD, str(out)], cwd=project, capture_output=True, text=True,
                       env={**os.environ, **env}, timeout=120)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    whole = seen["whole"] or seen["kept"]  # (records taken whole, or the frame kept of them)
    with open(out, "rb") as f:
        return (pickle.load(f), whole, seen["frame"] or seen["kept"]) if frame else (pickle.load(f), whole)


def test_a_new_process_takes_the_listing_whole_from_the_snapshot_and_sees_every_change(project, tmp_path,
                                                                                          monkeypatch):
    """A process that read the runs row by row stores them as one snapshot (and the frame made of
    them); the next processes take them whole while nothing can have changed, and get the very
    same frame. A Guild-style edit (at the recheck), a run made by runyard and a run directory
    copied in by another tool (within the interval) are each seen at once."""
    import os
    import shutil

    from pandas.testing import assert_frame_equal

    from runyard import api

    write(project / "train.py", "x = 1\nlr = 0.1\nname = 'a'\nprint('loss: 0.5')\n")
    write(project / "other.py", "units = 3\nprint('acc: 0.9')\n")
    runyard.run("train.py", {"x": 1, "lr": 0.5, "name": "b"}, echo=False, tags=["t"])
    runyard.run("train.py", {"x": 2}, echo=False, label="mine")
    runyard.run("other.py", {"units": 4}, echo=False)  # (flags.x: Int64, some runs lack it)
    runyard.run("other.py", {"units": 5}, echo=False, stage=True)
    runyard.run("other.py", {"units": [6, 7]}, echo=False)  # a batch (not listed by default) and 2 trials
    monkeypatch.setenv("RUNYARD_INDEX_RECHECK", "3600")
    home = project / ".guild"
    runs_dir = home / "runs"
    expected = api._build_frame(runyard.ls_records())
    assert len(expected) == 6 and str(expected["flags.x"].dtype) == "Int64"
    old = time.time_ns() - 10_000_000_000  # (a directory whose mtime is only just past vouches for nothing)
    os.utime(runs_dir, ns=(old, old))

    first, whole = _child_listing(project, tmp_path)  # reads the rows; notes the directory as listed
    assert not whole
    for _ in range(2):  # whole (the frame stored beside it by the first if no process had yet)
        df, whole, frame = _child_listing(project, tmp_path, frame=True)
        assert whole
        assert_frame_equal(df, expected)
    assert frame
    assert_frame_equal(first, expected)

    rid = expected["id"][1]
    time.sleep(0.01)
    _guild_write(_attrs(project, rid) / "label", "edited by guild\n")
    df, whole = _child_listing(project, tmp_path, RUNYARD_INDEX_RECHECK="0")
    assert not whole and df.set_index("id")["label"][rid] == "edited by guild"
    df, whole = _child_listing(project, tmp_path)  # (that listing stored the snapshot anew)
    assert whole and df.set_index("id")["label"][rid] == "edited by guild"

    from conftest import cli

    r = cli("label", rid[:8], "--set", "set by runyard", "-y", cwd=project)
    assert r.returncode == 0, r.stderr
    df, whole = _child_listing(project, tmp_path)
    assert not whole and df.set_index("id")["label"][rid] == "set by runyard"

    runyard.run("train.py", {"x": 9}, echo=False)
    os.utime(runs_dir, ns=(old, old))
    df, whole = _child_listing(project, tmp_path)
    assert len(df) == 7 and df["flags.x"][0] == 9
    copied = "f" * 32
    shutil.copytree(runs_dir / rid, runs_dir / copied)  # (as rsync would: nothing tells the index)
    df, whole = _child_listing(project, tmp_path)
    assert not whole and copied in df["id"].tolist() and len(df) == 8


def test_a_run_directory_copied_in_is_listed_by_the_process_that_listed_before(two, monkeypatch):
    """A process reuses its last listing of ``runs/`` while the directory's mtime is unchanged
    (and was settled): a run directory another tool copies in or removes changes it."""
    import os
    import shutil

    monkeypatch.setenv("RUNYARD_INDEX_RECHECK", "3600")
    runs_dir = two / ".guild" / "runs"
    old = time.time_ns() - 10_000_000_000
    os.utime(runs_dir, ns=(old, old))
    ids = runyard.ls_runs()["id"].tolist()
    assert len(runyard.ls_runs()) == 2
    copied = "e" * 32
    shutil.copytree(runs_dir / ids[0], runs_dir / copied)
    assert copied in runyard.ls_runs()["id"].tolist()
    os.utime(runs_dir, ns=(old, old))  # (settled again, as the directory would be after a while)
    assert len(runyard.ls_runs()) == 3
    shutil.rmtree(runs_dir / copied)
    assert runyard.ls_runs()["id"].tolist() == ids


@pytest.mark.parametrize("damage", ["records", "frame"])
def test_a_damaged_snapshot_is_read_past(project, tmp_path, monkeypatch, damage):
    """A snapshot or stored frame that decodes to the wrong shape (or not at all) is no
    snapshot: the listing is read from the rows, and right."""
    import os

    from pandas.testing import assert_frame_equal

    from runyard import api, index

    write(project / "train.py", SCRIPT)
    for x in (1, 2, 3):
        runyard.run("train.py", {"x": x}, echo=False)
    monkeypatch.setenv("RUNYARD_INDEX_RECHECK", "3600")
    runs_dir = project / ".guild" / "runs"
    old = time.time_ns() - 10_000_000_000
    os.utime(runs_dir, ns=(old, old))
    expected = api._build_frame(runyard.ls_records())
    _child_listing(project, tmp_path)
    _, whole, frame = _child_listing(project, tmp_path, frame=True)
    assert whole and frame
    db = sqlite3.connect(project / ".guild" / "cache" / index.DB_NAME)
    for bad in (b'[{"no id": 1}, 2, 3]', b"[1, 2, 3]", b'{"id": 1}', b"\xff\x00 not json"):
        if damage == "records":  # (and no kept frame, which would spare reading them)
            db.execute("UPDATE listing SET records = ?", (bad,))
            db.execute("DELETE FROM listing_frame")
        else:
            db.execute("UPDATE listing_frame SET frame = ?", (bad,))
        db.commit()
        df, whole = _child_listing(project, tmp_path)
        assert_frame_equal(df, expected)
        assert whole == (damage == "frame")  # (a damaged frame is rebuilt from the records)
    db.close()


def test_a_run_half_made_at_a_listing_is_seen_when_its_opref_comes(project, tmp_path, monkeypatch):
    """A directory in ``runs/`` without ``opref`` (a run being made: opref comes last) is no run
    yet; when its opref is written the next process lists it, even though ``runs/`` itself
    didn't change and the snapshot was taken whole before."""
    import os
    import shutil

    write(project / "train.py", SCRIPT)
    for x in (1, 2):
        runyard.run("train.py", {"x": x}, echo=False)
    monkeypatch.setenv("RUNYARD_INDEX_RECHECK", "3600")
    runs_dir = project / ".guild" / "runs"
    rid = runyard.ls_runs(1)["id"][0]
    making = runs_dir / ("d" * 32)
    shutil.copytree(runs_dir / rid, making)
    opref = (making / ".guild" / "opref").read_bytes()
    (making / ".guild" / "opref").unlink()
    old = time.time_ns() - 10_000_000_000
    for d in (making / ".guild", making, runs_dir):
        os.utime(d, ns=(old, old))
    df, whole = _child_listing(project, tmp_path)
    assert len(df) == 2
    df, whole = _child_listing(project, tmp_path)
    assert whole and len(df) == 2
    (making / ".guild" / "opref").write_bytes(opref)
    df, whole = _child_listing(project, tmp_path)
    assert not whole and making.name in df["id"].tolist()


def test_processes_listing_at_once_after_a_change_all_see_it(project, monkeypatch):
    """Six `runyard runs --json` at once, right after a label changed: each reads the rows,
    several store the snapshot in the same moment; every one prints the new label, and the
    next listing, taken whole, too."""
    import json
    import os
    import subprocess
    import sys

    write(project / "train.py", SCRIPT)
    for x in range(4):
        runyard.run("train.py", {"x": x}, echo=False)
    env = {**os.environ, "RUNYARD_INDEX_RECHECK": "3600"}
    old = time.time_ns() - 10_000_000_000
    os.utime(project / ".guild" / "runs", ns=(old, old))
    rid = runyard.ls_runs(2)["id"][0]
    from conftest import cli

    assert cli("label", rid[:8], "--set", "all six see this", "-y", cwd=project).returncode == 0
    procs = [subprocess.Popen([sys.executable, "-m", "runyard.cli", "runs", "--json"], cwd=project, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert {r["id"]: r["label"] for r in json.loads(out)}[rid] == "all six see this"
    r = cli("runs", "--json", cwd=project, env={"RUNYARD_INDEX_RECHECK": "3600"})
    assert {x["id"]: x["label"] for x in json.loads(r.stdout)}[rid] == "all six see this"
