"""Checks of the benchmark harness itself (fast): python -m pytest -q benchmarks/test_benchmarks.py"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_home  # noqa: E402
import run as bench_run  # noqa: E402


@pytest.fixture()
def bench_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_BENCH_DIR", str(tmp_path / "bench"))
    return tmp_path / "bench"


def test_home_has_n_runs_in_guild_format(bench_dir):
    home = make_home.build_home(40, quiet=True)
    assert home == bench_dir / "home-40"
    runs = [p for p in (home / "runs").iterdir() if (p / ".guild" / "opref").is_file()]
    assert len(runs) == 40
    statuses = {"completed": 0, "error": 0, "terminated": 0, "staged": 0}
    for run in runs:
        attrs = run / ".guild" / "attrs"
        assert yaml.safe_load((attrs / "id").read_text()) == run.name
        flags = yaml.safe_load((attrs / "flags").read_text())
        assert isinstance(flags["lr"], float) and isinstance(flags["units"], int)
        assert isinstance(flags["optimizer"], str) and isinstance(flags["epochs"], int)
        assert isinstance(yaml.safe_load((attrs / "label").read_text()), str)
        assert isinstance(yaml.safe_load((attrs / "started").read_text()), int)
        if (run / ".guild" / "STAGED").exists():
            statuses["staged"] += 1
            continue
        code = yaml.safe_load((attrs / "exit_status").read_text())
        statuses[{0: "completed", 1: "error", -15: "terminated"}[code]] += 1
        lines = (run / ".guild" / "output").read_bytes().count(b"\n")
        assert len((run / ".guild" / "output.index").read_bytes()) == 9 * lines
        assert bench_run.count_event_scalars(run, "loss") == 3
        assert bench_run.count_event_scalars(run, "acc") == 3
    expected = make_home.expected_counts(40)
    assert statuses == {k: expected[k] for k in statuses}


def test_home_is_reused_when_complete(bench_dir):
    home = make_home.build_home(10, quiet=True)
    marker = home / make_home.MARKER
    before = marker.stat().st_mtime_ns
    assert make_home.build_home(10, quiet=True) == home
    assert marker.stat().st_mtime_ns == before
    make_home.build_home(10, force=True, quiet=True)
    assert marker.stat().st_mtime_ns != before


def test_harness_never_crashes_and_writes_json(bench_dir):
    r = subprocess.run([sys.executable, str(HERE / "run.py"), "--sizes", "20", "--only", "list,runs",
                        "--no-guild", "--repeats", "1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "operation" in r.stdout and "runs --all" in r.stdout
    results = sorted(bench_dir.glob("results-*.json"))
    assert results
    data = json.loads(results[-1].read_text())
    assert {row["key"] for row in data["rows"]} >= {"runs"}
    for row in data["rows"]:
        assert isinstance(row["runyard"], float) or row["runyard"] == bench_run.NA
        assert row["guild"] == bench_run.NA


def guild_exe() -> str:
    """Guild 0.9: the test command's (RUNYARD_GUILD), else scripts/guild-venv.sh's venv."""
    venv = Path(os.environ.get("RUNYARD_GUILD_VENV") or HERE.parent / ".venv-guild")
    return os.environ.get("RUNYARD_GUILD") or str(venv / "bin" / "guild")


def test_guild_reads_the_synthetic_home(bench_dir):
    home = make_home.build_home(30, quiet=True)
    env = dict(os.environ, GUILD_HOME=str(home))
    out = subprocess.run([guild_exe(), "compare", "--csv", "-"], env=env, capture_output=True,
                         text=True, timeout=120).stdout.splitlines()
    assert out[0].split(",")[-2:] == ["acc", "loss"]
    assert len(out) == 31
    counts = make_home.expected_counts(30)
    rows = [line.split(",") for line in out[1:]]
    assert sum(row[4] == "completed" for row in rows) == counts["completed"]
    assert all(row[-1] for row in rows if row[4] != "staged")


def test_cpu_proc_splits_the_scripts_cpu_from_the_rest(tmp_path):
    """The capture rows' measure: the whole tree's CPU (wait4) and the script's own (it reports
    at exit), the lines read from its stdout; a wrapper's CPU shows as the difference."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "busy.py").write_text(bench_run.CPU_REPORT + "x = sum(range(3_000_000))\nprint('a')\nprint('b')\n")
    wrapper = "import subprocess, sys; sum(range(3_000_000)); sys.exit(subprocess.call([sys.executable, 'busy.py']))"
    alone = bench_run.cpu_proc([sys.executable, "busy.py"], bench_run.env_for(None), proj)
    wrapped = bench_run.cpu_proc([sys.executable, "-c", wrapper], bench_run.env_for(None), proj)
    for r in (alone, wrapped):
        assert r.returncode == 0 and r.lines == 2 and r.script is not None and 0 < r.script <= r.cpu
    assert wrapped.cpu - wrapped.script > alone.cpu - alone.script  # the wrapper's own work


def test_trackers_rows_say_not_installed_without_their_venv(bench_dir, tmp_path):
    """--trackers with no MLflow/Aim python: their rows say "not installed", runyard's are timed,
    nothing is installed (no network) and nothing fails."""
    r = subprocess.run([sys.executable, str(HERE / "run.py"), "--sizes", "20", "--only", "list,trivial",
                        "--no-guild", "--repeats", "1", "--trackers", str(tmp_path / "no-venv" / "python")],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    rows = {row["key"]: row for row in json.loads(sorted(bench_dir.glob("results-*.json"))[-1].read_text())["rows"]}
    for key in ("list-mlflow-sqlite", "list-mlflow-file", "list-aim", "trivial-mlflow", "trivial-aim"):
        assert rows[key]["runyard"].startswith("not installed: "), rows[key]
    assert isinstance(rows["list-runyard"]["runyard"], float) and rows["list-runyard"]["extra"]["rows"] == 20
    assert isinstance(rows["trivial-runyard"]["runyard"], float)
    assert "not installed" in r.stdout


def test_floor_supervisor_copies_every_line_and_converts_every_value(tmp_path):
    """The floor rows' supervisor (floor_supervisor.py) does the job it stands for: the output
    whole on its stdout and in `output`, one 9-byte index record a line, and (`convert`) one
    number for each printed value."""
    script = tmp_path / "p.py"
    script.write_text("for i in range(5000):\n    print(f'step: {i}')\n    print(f'loss: {1 / (i + 1):.6f}')\n")
    expected = b"".join(b"step: %d\nloss: %.6f\n" % (i, 1 / (i + 1)) for i in range(5000))
    for mode in ("tee", "convert"):
        out = tmp_path / mode
        r = subprocess.run([sys.executable, str(HERE / "floor_supervisor.py"), mode, str(out), "--",
                            sys.executable, str(script)], capture_output=True, check=True)
        assert r.stdout == expected
        assert (out / "output").read_bytes() == expected
        assert len((out / "output.index").read_bytes()) == 9 * 10000
    assert (tmp_path / "convert" / "converted").read_text() == "10000"
    assert not (tmp_path / "tee" / "converted").exists()
