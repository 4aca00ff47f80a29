"""Issue 9 fault matrix, concurrency rows: no change to a run's annotations is ever lost or torn.

Real processes throughout: concurrent ``runyard`` CLI processes, the API in another process,
the web view over HTTP, Guild AI 0.9 itself, and SIGKILL at random moments.
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

import runyard
from conftest import cli, write
from guildrun import run_guild

CLI = [sys.executable, "-m", "runyard.cli"]


@pytest.fixture
def one_run(project):
    """One completed run; its id. The index holds its record, as after any listing."""
    write(project / "train.py", "x = 1\nprint('loss: 0.5')\n")
    rid = runyard.run("train.py", echo=False)["id"][0]
    assert cli("runs").returncode == 0  # the cached record is now fresh: a stale read would use it
    return rid


def attrs_dir(project: Path, rid: str) -> Path:
    return project / ".guild" / "runs" / rid / ".guild" / "attrs"


def attr_file(project: Path, rid: str, name: str):
    """An attribute as a YAML reader (Guild AI's) sees it: None when absent."""
    p = attrs_dir(project, rid) / name
    return yaml.safe_load(p.read_text()) if p.exists() else None


def start_together(cmds: list[list[str]]) -> list[subprocess.Popen]:
    return [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for c in cmds]


def wait_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err


def indexed(rid: str) -> dict:
    """The run's record as ``runyard runs --json`` (the index) shows it."""
    r = cli("runs", "--json")
    assert r.returncode == 0, r.stderr
    return next(d for d in json.loads(r.stdout) if d["id"] == rid)


# --- concurrent runyard processes ----------------------------------------------------------------

def test_twenty_concurrent_pairs_of_tag_keep_all_40_tags(project, one_run):
    tags = [f"pair{i}-{side}" for i in range(20) for side in "ab"]
    wait_all(start_together([[*CLI, "tag", one_run, "-a", t, "-y"] for t in tags]))
    assert sorted(attr_file(project, one_run, "tags")) == sorted(tags)
    assert sorted(indexed(one_run)["tags"]) == sorted(tags)  # the index was updated after each write


VIEW_AND_API = '''
import sys
import runyard
for i in range(5):
    runyard.runs_tag(sys.argv[1], f"api{i}")
'''


def _view_token(url: str) -> str:
    """The token the view's own page carries for its scripts."""
    page = urllib.request.urlopen(url, timeout=30).read().decode()
    return re.search(r'<meta name="runyard-token" content="([^"]+)">', page).group(1)


def _post_tag(url: str, token: str, rid: str, tag: str) -> None:
    req = urllib.request.Request(f"{url.rstrip('/')}/api/runs/tag", method="POST",
                                 data=json.dumps({"runs": [rid], "add": [tag]}).encode(),
                                 headers={"Content-Type": "application/json", "X-Runyard-Token": token,
                                          "Origin": url.rstrip("/")})
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 200


def test_cli_api_and_view_changing_one_run_at_once_lose_nothing(project, one_run):
    """Tags from CLI processes, a process using the API and the web view; comments and label
    words from CLI processes: all at the same moment, all kept."""
    url = runyard.view(open=False)
    try:
        token = _view_token(url)
        cli_tags = [f"cli{i}" for i in range(4)]
        words = [f"w{i}" for i in range(3)]
        bodies = [f"note {i}" for i in range(3)]
        cmds = [[*CLI, "tag", one_run, "-a", t, "-y"] for t in cli_tags]
        cmds += [[*CLI, "label", one_run, "--append", w, "-y"] for w in words]
        cmds += [[*CLI, "comment", one_run, "--add", b, "-y"] for b in bodies]
        cmds.append([sys.executable, "-c", VIEW_AND_API, one_run])
        procs = start_together(cmds)
        view_tags = [f"view{i}" for i in range(6)]
        threads = [threading.Thread(target=_post_tag, args=(url, token, one_run, t)) for t in view_tags]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        wait_all(procs)
    finally:
        runyard.view(stop=True)
    want_tags = cli_tags + view_tags + [f"api{i}" for i in range(5)]
    assert sorted(attr_file(project, one_run, "tags")) == sorted(want_tags)
    assert sorted(attr_file(project, one_run, "label").split()) == sorted(["x=1", *words])  # x=1: the run's own
    assert sorted(c["body"] for c in attr_file(project, one_run, "comments")) == sorted(bodies)
    rec = indexed(one_run)
    assert sorted(rec["tags"]) == sorted(want_tags) and len(rec["comments"]) == len(bodies)


# --- Guild AI 0.9 interleaved --------------------------------------------------------------------

def test_a_change_by_guild_a_moment_before_runyard_is_kept(project, one_run):
    home = project / ".guild"

    def g(*args: str) -> None:
        run_guild(*args, one_run, "-y", home=home, check=True)

    def ry(*args: str) -> None:
        r = cli(*args, one_run, "-y")
        assert r.returncode == 0, r.stderr

    g("tag", "-a", "by-guild")
    ry("tag", "-a", "by-runyard")
    ry("tag", "-a", "second-runyard")
    g("tag", "-a", "second-guild")  # and the other way round: Guild reads what runyard wrote
    g("label", "--set", "guild-words")
    ry("label", "--append", "runyard-words")
    g("comment", "-a", "from guild")
    ry("comment", "--add", "from runyard")  # runyard writes last, so its index entry is current
    assert sorted(attr_file(project, one_run, "tags")) == ["by-guild", "by-runyard", "second-guild",
                                                           "second-runyard"]
    assert attr_file(project, one_run, "label") == "guild-words runyard-words"
    assert [c["body"] for c in attr_file(project, one_run, "comments")] == ["from guild", "from runyard"]
    rec = indexed(one_run)
    assert sorted(rec["tags"]) == ["by-guild", "by-runyard", "second-guild", "second-runyard"]
    assert rec["label"] == "guild-words runyard-words"
    r = run_guild("runs", "info", one_run, home=home)
    assert r.returncode == 0 and "runyard-words" in r.stdout, r.stderr


# --- SIGKILL during a write ----------------------------------------------------------------------

WRITER = '''
import sys
import runyard
rid, i = sys.argv[1], int(sys.argv[2])
big = "x" * 200_000  # a label big enough that a file written in place would be seen half-written
while True:
    runyard.runs_tag(rid, f"t{i:05d}")
    runyard.runs_label(rid, f"v{i:05d} {big}")
    runyard.runs_comment(rid, f"c{i:05d}")
    print(i, flush=True)
    i += 1
'''


def _numbers(values: list, prefix: str) -> list[int]:
    """The numbers of ``t00003``-style values, checking each is exactly such a value."""
    assert all(re.fullmatch(prefix + r"\d{5}", v) for v in values), values
    return [int(v[1:]) for v in values]


def test_sigkill_during_annotation_writes_leaves_the_old_or_the_new_file(project, one_run):
    rnd = random.Random(9)
    tags: list = []
    comments: list = []
    label_n = -1
    for _ in range(8):
        start = max(_numbers(tags, "t") + [label_n], default=-1) + 1
        p = subprocess.Popen([sys.executable, "-c", WRITER, one_run, str(start)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        assert p.stdout.readline(), p.stderr.read()  # in the loop now
        time.sleep(rnd.uniform(0, 0.3))
        p.send_signal(signal.SIGKILL)
        p.wait(30)
        # Every file is whole (a YAML reader takes it) and holds what some write left: what was
        # there before, plus new values in order, nothing lost.
        new_tags = attr_file(project, one_run, "tags")
        assert new_tags[:len(tags)] == tags and _numbers(new_tags, "t") == sorted(set(_numbers(new_tags, "t")))
        new_comments = [c["body"] for c in attr_file(project, one_run, "comments")]
        assert new_comments[:len(comments)] == comments
        assert _numbers(new_comments, "c") == sorted(set(_numbers(new_comments, "c")))
        label = attr_file(project, one_run, "label")
        n = _numbers([label.split()[0]], "v")[0]
        assert label == f"v{n:05d} {'x' * 200_000}" and n >= label_n
        tags, comments, label_n = new_tags, new_comments, n
    assert len(tags) >= 8
    # Nothing is left locked: the next change goes through at once.
    r = cli("tag", one_run, "-a", "after", "-y", timeout=60)
    assert r.returncode == 0, r.stderr
    assert attr_file(project, one_run, "tags") == tags + ["after"]


HOLDER = '''
import sys, time
from runyard.store.lock import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(600)
'''


def test_a_change_waits_for_the_lock_and_a_killed_holder_releases_it(project, one_run):
    run_dir = project / ".guild" / "runs" / one_run
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    tagger = subprocess.Popen([*CLI, "tag", one_run, "-a", "waited", "-y"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    assert tagger.poll() is None  # blocked on the lock
    assert attr_file(project, one_run, "tags") is None
    holder.send_signal(signal.SIGKILL)
    holder.wait(30)
    out, err = tagger.communicate(timeout=60)
    assert tagger.returncode == 0, err
    assert attr_file(project, one_run, "tags") == ["waited"]


def test_a_corrupt_attribute_file_is_never_overwritten(project, one_run):
    tags = attrs_dir(project, one_run) / "tags"
    tags.write_text("- [unclosed\n")
    r = cli("tag", one_run, "-a", "x", "-y")
    assert r.returncode != 0 and "corrupt attribute file" in r.stderr
    assert tags.read_text() == "- [unclosed\n"


IN_PLACE = '''
import fcntl, os, sys, time
tags, lock = sys.argv[1], sys.argv[2]
with open(tags, "w") as f:  # as Guild AI 0.9 writes an attribute: truncate, then write
    print("truncated", flush=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    end = time.monotonic() + 20
    while time.monotonic() < end:  # until runyard holds the run's lock, i.e. is reading the empty file
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            break
        fcntl.flock(fd, fcntl.LOCK_UN)
        time.sleep(0.005)
    time.sleep(0.05)
    f.write("- by-guild\\n- older\\n")
'''


def test_a_file_caught_between_truncate_and_write_is_read_once_written(project, one_run):
    tags = attrs_dir(project, one_run) / "tags"
    tags.write_text("- older\n")
    lock = tags.parent.parent / "attrs.lock"
    p = subprocess.Popen([sys.executable, "-c", IN_PLACE, str(tags), str(lock)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "truncated"
    runyard.runs_tag(one_run, "by-runyard")  # finds the file empty, and reads it again
    assert p.wait(30) == 0
    assert attr_file(project, one_run, "tags") == ["by-guild", "older", "by-runyard"]
