"""Issue 3: find, compare and manage runs."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import runyard
from conftest import cli, write

SCRIPT = '''
import sys
x = 1
lr = 0.1
print("step: 1")
print(f"loss: {1.0 / x:.4f}")
print(f"acc: {x / 10:.2f}")
if x == 3:
    sys.exit(3)
'''


@pytest.fixture
def five(project):
    """Five completed/error runs: x = 1..5 (x=3 fails), newest is x=5."""
    write(project / "train.py", SCRIPT)
    for x in range(1, 6):
        runyard.run("train.py", {"x": x, "lr": 0.1 if x % 2 else 0.01}, echo=False)
    return project


def xs(df) -> list:
    return list(df["flags.x"]) if len(df) else []


def test_selectors(five):
    assert xs(runyard.ls_runs()) == [5, 4, 3, 2, 1]
    assert xs(runyard.ls_runs(1)) == [5]
    assert xs(runyard.ls_runs("2:4")) == [4, 3, 2]
    assert xs(runyard.ls_runs([1, "5"])) == [5, 1]
    assert xs(runyard.ls_runs(range(1, 3))) == [5, 4]
    all_ids = list(runyard.ls_runs()["id"])
    assert xs(runyard.ls_runs(all_ids[2])) == [3]
    assert xs(runyard.ls_runs(all_ids[2][:6])) == [3]
    scal = runyard.ls_scalars()
    assert xs(runyard.ls_runs(scal[scal.value == 0.25])) == [4]  # a DataFrame with a 'run' column
    assert xs(runyard.ls_runs(runyard.ls_runs("1:2"))) == [5, 4]  # with an 'id' column
    assert runyard.resolve_run_ids(1) == [all_ids[0]]


def test_selector_errors(five):
    with pytest.raises(runyard.errors.SelectError, match="no run 9"):
        runyard.ls_runs(9)
    with pytest.raises(runyard.errors.SelectError, match="no run matches 'zzzz'"):
        runyard.ls_runs("zzzz")
    ids = list(runyard.ls_runs()["id"])
    # Two ids sharing a prefix: make one by renaming a run directory.
    home = five / ".guild" / "runs"
    a = ids[0]
    os.rename(home / a, home / (ids[1][:6] + a[6:]))
    with pytest.raises(runyard.errors.SelectError, match="ambiguous"):
        runyard.ls_runs(ids[1][:6])
    r = cli("runs", "zzzz")
    assert r.returncode == 2 and r.stderr.strip() == "runyard: no run matches 'zzzz'"


def test_filters(five):
    assert xs(runyard.ls_runs(error=True)) == [3]
    assert xs(runyard.ls_runs(completed=True, error=True)) == [5, 4, 3, 2, 1]
    assert xs(runyard.ls_runs(1, completed=True)) == [5]
    assert xs(runyard.ls_runs(filter="flag:x > 2 and scalar:loss < 0.3")) == [5, 4]
    assert xs(runyard.ls_runs(filter="x = 1 or x = 2 and lr = 0.1")) == [1]  # and binds tighter
    assert xs(runyard.ls_runs(filter="lr in [0.01]")) == [4, 2]
    assert xs(runyard.ls_runs(filter="nope is undefined and x = 2")) == [2]
    assert xs(runyard.ls_runs(started="today")) == [5, 4, 3, 2, 1]
    assert xs(runyard.ls_runs(started="before 2001-01-01")) == []
    assert xs(runyard.ls_runs(operation="train")) == [5, 4, 3, 2, 1]
    assert xs(runyard.ls_runs(operation="other")) == []
    with pytest.raises(runyard.errors.SelectError, match="invalid filter"):
        runyard.ls_runs(filter="x <")
    r = cli("runs", "--filter", "x < and")
    assert r.returncode == 2 and "invalid filter" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(runyard.errors.SelectError, match="invalid time range"):
        runyard.ls_runs(started="the other day")


def test_digest_filter_tells_source_versions_apart(five):
    old = set(runyard.ls_runs()["id"])
    with open(five / "train.py", "a") as f:
        f.write("# a second version of the source\n")
    runyard.run("train.py", {"x": 6}, echo=False)
    runyard.run("train.py", {"x": 7}, echo=False)
    new = set(runyard.ls_runs()["id"]) - old
    digests = {i: d for i, d in zip(runyard.ls_runs()["id"], runyard.ls_runs()["sourcecode_digest"])}
    old_d, new_d = {digests[i] for i in old}, {digests[i] for i in new}
    assert len(old_d) == len(new_d) == 1 and old_d != new_d  # one digest per source version
    (a,), (b,) = old_d, new_d
    n = next(n for n in range(4, 33) if a[:n] != b[:n])
    assert set(runyard.ls_runs(digest=a[:n])["id"]) == old
    assert set(runyard.ls_runs(digest=b[:n])["id"]) == new
    r = cli("select", "--all", "-Fd", b[:n])
    assert r.returncode == 0 and set(r.stdout.split()) == new


def test_terminal_syntax_from_python(five):
    runyard.runs_mark(2)
    assert xs(runyard.ls_runs("--marked")) == [4]
    assert xs(runyard.ls_runs("--marked", started="last hour")) == [4]
    assert xs(runyard.ls_runs("--marked --started 'last hour'")) == [4]
    assert xs(runyard.ls_runs("--unmarked", "--started", "last hour")) == [5, 3, 2, 1]
    assert xs(runyard.ls_runs(["-Se"])) == [3]


def test_annotations_chain(five):
    out = runyard.runs_tag(1, "best")
    assert out == 1
    runyard.runs_tag(runyard.runs_tag("1:2", ["a", "b"]), remove="a")
    df = runyard.ls_runs("1:2")
    assert df["tags"].tolist() == [["best", "b"], ["b"]]
    assert xs(runyard.ls_runs(tag="best")) == [5]
    runyard.runs_tag(1, clear=True)
    assert runyard.ls_runs(1)["tags"][0] == []
    runyard.runs_label(1, "hello")
    runyard.runs_label(1, append="world")
    assert runyard.ls_runs(1)["label"][0] == "hello world"
    assert xs(runyard.ls_runs(label="world")) == [5]
    runyard.runs_label(None, "relabeled", "-Fl", "world")  # a label filter beside the new label
    assert runyard.ls_runs()["label"].tolist()[:2] == ["relabeled", "lr=0.01 x=4"]
    runyard.runs_comment(1, "first")
    runyard.runs_comment(1, "second")
    runyard.runs_comment(1, delete=1)
    assert [c["body"] for c in runyard.ls_runs(1)["comments"][0]] == ["second"]
    runyard.runs_mark([1, 2])
    assert xs(runyard.ls_runs(marked=True)) == [5, 4]
    runyard.runs_mark(1, clear=True)
    assert xs(runyard.ls_runs(marked=True)) == [4]


def test_seed_workflow_best_run_export(five):
    runyard.run("train.py", {"x": 2}, echo=False)  # the newest run is not the best one
    best = runyard.ls_scalars()
    best = best[best.tag == "acc"].nlargest(1, "value")
    runyard.runs_export(runyard.runs_tag(best, "best"), "./best-runs")
    exported = list((five / "best-runs").iterdir())
    names = [p.name for p in exported if not p.name.startswith(".")]
    assert len(names) == 1 and names[0] == runyard.ls_runs(tag="best")["id"][0]
    assert runyard.ls_runs(tag="best")["flags.x"][0] == 5


def _tree(d: Path) -> dict:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_delete_restore_purge(five):
    ids = list(runyard.ls_runs()["id"])
    home = five / ".guild"
    before = _tree(home / "runs" / ids[0])
    runyard.runs_delete(1)
    assert xs(runyard.ls_runs()) == [4, 3, 2, 1]
    assert xs(runyard.ls_runs(deleted=True)) == [5]
    assert (home / "trash" / "runs" / ids[0]).is_dir()
    runyard.runs_restore(ids[0][:8])
    assert xs(runyard.ls_runs()) == [5, 4, 3, 2, 1]
    assert _tree(home / "runs" / ids[0]) == before
    runyard.runs_delete("1:2")
    runyard.runs_purge(ids[0])
    assert xs(runyard.ls_runs(deleted=True)) == [4]
    assert not (home / "trash" / "runs" / ids[0]).exists()


def test_cli_delete_purge_restore(five):
    r = cli("runs", "delete", "1", "-y")
    assert r.returncode == 0, r.stderr
    r = cli("runs", "list", "--deleted")
    assert len(r.stdout.strip().splitlines()) == 1
    assert cli("runs", "restore", "1", "-y").returncode == 0
    assert len(runyard.ls_runs()) == 5
    assert cli("runs", "delete", "--permanent", "1", "-y").returncode == 0
    assert len(runyard.ls_runs()) == 4 and len(runyard.ls_runs(deleted=True)) == 0
    gone = runyard.ls_runs("1:2")["id"].tolist()
    assert cli("runs", "delete", "1:2", "-y").returncode == 0
    r = cli("runs", "purge", "-y")
    assert r.returncode == 0 and r.stdout.strip() == "Purged 2 run(s)", r.stderr
    assert cli("runs", "list", "--deleted").stdout == ""
    assert not any((five / ".guild" / p / i).exists() for p in ("runs", "trash/runs") for i in gone)
    assert len(runyard.ls_runs()) == 2


def test_export_import_zip_and_dir_lossless(five, tmp_path):
    ids = list(runyard.ls_runs()["id"])
    home = five / ".guild"
    trees = {i: _tree(home / "runs" / i) for i in ids}
    runyard.runs_export(None, tmp_path / "all.zip")
    runyard.runs_export("1:2", tmp_path / "two")
    runyard.runs_delete(permanent=True)
    assert len(runyard.ls_runs()) == 0
    imported = runyard.runs_import(tmp_path / "all.zip")
    assert sorted(imported) == sorted(ids)
    assert {i: _tree(home / "runs" / i) for i in ids} == trees
    assert runyard.runs_import(tmp_path / "two") == []  # already present: skipped
    runyard.runs_delete(permanent=True)
    assert sorted(runyard.runs_import(tmp_path / "two", move=True)) == sorted(ids[:2])
    assert not (tmp_path / "two" / ids[0]).exists()
    assert xs(runyard.ls_runs()) == [5, 4]


@pytest.mark.parametrize("name", ["../evil.txt", "/tmp/evil.txt", "abcdef12/../../evil.txt"])
def test_import_refuses_escaping_zip_entries(project, tmp_path, name):
    z = tmp_path / "bad.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("abcdef1234567890abcdef1234567890/.guild/opref", "script:/x '' '' t.py\n")
        zf.writestr(name, "evil")
    with pytest.raises(runyard.errors.UsageError, match="refusing to import"):
        runyard.runs_import(z)
    assert not (project / ".guild" / "runs").exists() or not list((project / ".guild" / "runs").iterdir())
    r = cli("import", str(z), "-y")
    assert r.returncode == 2 and "refusing to import" in r.stderr


def test_import_refuses_zip_symlinks(project, tmp_path):
    z = tmp_path / "link.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("abcdef1234567890abcdef1234567890/.guild/opref", "script:/x '' '' t.py\n")
        info = zipfile.ZipInfo("abcdef1234567890abcdef1234567890/passwd")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(runyard.errors.UsageError, match="is a link"):
        runyard.runs_import(z)
    assert not list((project / ".guild").rglob("passwd"))


def test_compare_cli(five):
    r = cli("compare", "--csv", "-")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["x"] for row in rows] == ["5", "4", "3", "2", "1"]
    assert rows[0]["loss"] == "0.2" and rows[2]["status"] == "error"
    assert list(rows[0])[:6] == ["run", "operation", "started", "time", "status", "label"]


def printed(home: Path) -> dict:
    """{run id: {"loss": .., "acc": ..}} read from what each run printed (not from runyard's scalars)."""
    import re

    out = {}
    for d in (home / "runs").iterdir():
        text = (d / ".guild" / "output").read_text()
        out[d.name] = {k: float(v) for k, v in re.findall(r"^(loss|acc): ([0-9.]+)$", text, re.M)}
    return out


def test_select_and_compare_sort_by_the_scalar_not_by_time(five):
    runyard.run("train.py", {"x": 2}, echo=False)  # now the newest run is neither the best nor the worst
    newest = runyard.ls_runs(1)["id"][0]
    vals = printed(five / ".guild")
    low_loss = min(vals, key=lambda i: vals[i]["loss"])
    high_loss = max(vals, key=lambda i: vals[i]["loss"])
    high_acc = max(vals, key=lambda i: vals[i]["acc"])
    assert newest not in (low_loss, high_loss, high_acc)
    assert cli("select", "--min", "loss").stdout.strip() == low_loss
    assert cli("select", "--max", "loss").stdout.strip() == high_loss
    assert cli("select", "--max", "scalar:acc", "-Fo", "train").stdout.strip() == high_acc
    r = cli("compare", "--table", "--max", "acc", "-n", "2")
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and "acc" in lines[0] and lines[1].split()[0] == high_acc[:8]
    rows = list(csv.DictReader(io.StringIO(cli("compare", "--csv", "-", "--min", "acc").stdout)))
    assert [float(row["acc"]) for row in rows] == sorted(v["acc"] for v in vals.values())
    assert rows[-1]["run"] == high_acc[:8] and rows[0]["run"] == high_loss[:8]


def test_scalars_cli_and_summary(five):
    r = cli("scalars", "1", "--csv", "-")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {row["tag"] for row in rows} == {"loss", "acc"} and rows[0]["path"] == ".guild"
    s = runyard.ls_scalars(summary=True)
    assert set(s.columns) >= {"first_val", "first_step", "last_val", "last_step", "min_val", "min_step", "max_val",
                              "max_step", "avg_val", "total", "count"}
    write(five / "series.py", """
    for step, loss in [(1, 0.5), (2, 0.2), (3, 0.4), (4, 0.3)]:
        print(f"step: {step}")
        print(f"loss: {loss}")
    """)
    rid = runyard.run("series.py", echo=False)["id"][0]
    r = cli("scalars", rid[:8], "--summary", "--csv", "-")
    assert r.returncode == 0, r.stderr
    (row,) = list(csv.DictReader(io.StringIO(r.stdout)))
    want = {"run": rid, "path": ".guild", "tag": "loss", "first_val": 0.5, "first_step": 1, "last_val": 0.3,
            "last_step": 4, "min_val": 0.2, "min_step": 2, "max_val": 0.5, "max_step": 1, "avg_val": 0.35,
            "total": 1.4, "count": 4}
    assert set(row) == set(want)
    for k, v in want.items():
        assert (float(row[k]) == pytest.approx(v)) if isinstance(v, float) else (row[k] == str(v)), k
    table = cli("scalars", rid[:8], "-s").stdout
    assert "first_val" in table.splitlines()[0] and rid[:8] in table.splitlines()[1]


def test_select_cat_ls_diff(five):
    assert cli("select").stdout.strip() == runyard.ls_runs(1)["id"][0]
    assert cli("select", "--short-id", "2").stdout.strip() == runyard.ls_runs(2)["id"][0][:8]
    assert cli("select", "--attr", "flags", "1").stdout.strip().splitlines() == ["x: 5", "lr: 0.1"]
    assert "loss: 0.2000" in cli("cat").stdout
    assert "x = 4" in cli("cat", "2", "-p", "train.py").stdout
    r = cli("cat", "1", "-p", "../../../etc/passwd")
    assert r.returncode == 2 and "outside the run directory" in r.stderr
    ls = cli("ls").stdout.splitlines()
    assert ls[0].endswith(":") and ls[1:] == ["  train.py"]
    assert ".guild/opref" in cli("ls", "-a").stdout
    d = cli("diff").stdout
    assert "- x: 4" in d and "+ x: 5" in d and "-x = 4" in d and "+x = 5" in d and "-loss: 0.2500" in d


def test_stop_and_watch(project):
    write(project / "slow.py", "import time\nfor i in range(300):\n    print(f'tick {i}', flush=True)\n"
                               "    time.sleep(0.1)\n")
    runyard.run("slow.py", wait=False)
    watcher = subprocess.Popen([sys.executable, "-m", "runyard.cli", "watch"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    r = cli("stop", "-y")
    assert r.returncode == 0 and "Stopped 1 run" in r.stdout
    out, err = watcher.communicate(timeout=20)
    assert "tick 0" in out and "stopped (terminated)" in err
    row = runyard.ls_runs(1).iloc[0]
    assert row["status"] == "terminated" and row["exit_status"] == -15


def test_corrupt_run_is_listed_and_others_unaffected(five, monkeypatch):
    monkeypatch.setenv("RUNYARD_INDEX_RECHECK", "0")  # notice in-place edits at once
    ids = list(runyard.ls_runs()["id"])
    (five / ".guild" / "runs" / ids[1] / ".guild" / "attrs" / "flags").write_text("x: [unclosed\n")
    df = runyard.ls_runs()
    assert len(df) == 5
    bad = df[df.id == ids[1]].iloc[0]
    assert "corrupt attribute file" in bad["error"] and "flags" in bad["error"]
    assert df[df.id == ids[0]].iloc[0]["flags.x"] == 5
    r = cli("runs")
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) == 5


def test_index_is_rebuildable_and_sees_outside_changes(five, monkeypatch):
    monkeypatch.setenv("RUNYARD_INDEX_RECHECK", "0")
    home = five / ".guild"
    assert len(runyard.ls_runs()) == 5
    for f in (home / "cache").iterdir():
        f.unlink()
    assert xs(runyard.ls_runs()) == [5, 4, 3, 2, 1]
    # Another tool changes a run's label behind our back.
    rid = runyard.ls_runs(1)["id"][0]
    attrs = home / "runs" / rid / ".guild" / "attrs"
    tmp = attrs.parent / "tmp-label"
    tmp.write_text("changed elsewhere\n")
    os.replace(tmp, attrs / "label")
    assert runyard.ls_runs(1)["label"][0] == "changed elsewhere"
    time.sleep(0.01)
    (attrs / "label").write_text("edited in place\n")  # as Guild AI writes attributes
    assert runyard.ls_runs(1)["label"][0] == "edited in place"


CONCURRENT = '''
import sys, os
sys.path.insert(0, {src!r})
os.chdir({proj!r})
import runyard
for i in range(3):
    runyard.run("train.py", {{"x": 10 + i}}, echo=False)
'''


def test_concurrent_writers_and_a_reader(project):
    write(project / "train.py", SCRIPT)
    src = str(Path(runyard.__file__).parent.parent)
    code = CONCURRENT.format(src=src, proj=str(project))
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for _ in range(8)]
    seen_errors = []
    while any(p.poll() is None for p in procs):
        try:
            runyard.ls_runs()
        except Exception as e:  # noqa: BLE001
            seen_errors.append(repr(e))
        time.sleep(0.05)
    for p in procs:
        assert p.returncode == 0, p.stderr.read().decode()
    assert not seen_errors
    df = runyard.ls_runs()
    assert len(df) == 24 and set(df["status"]) == {"completed"}
    assert df["scalars.loss"].notna().all()


def test_runs_json_and_limits(five):
    import json

    r = cli("runs", "--json")
    data = json.loads(r.stdout)
    assert [d["flags"]["x"] for d in data] == [5, 4, 3, 2, 1]
    assert data[2]["status"] == "error" and data[0]["scalars"]["loss"] == 0.2
    assert len(cli("runs", "-n", "2").stdout.strip().splitlines()) == 2
    r = cli("runs", "--completed", "--filter", "x >= 4")
    assert [l.split()[-1] for l in r.stdout.strip().splitlines()] == ["x=5", "x=4"]
