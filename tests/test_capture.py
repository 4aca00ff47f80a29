"""The supervisor's capture of a run's output, under load: the real CLI, real processes, Guild AI
0.9 reading the result. (How fast it is is a benchmark: benchmarks/run.py, rows `print`,
`tqdm`, `flood`.)"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import cli, runs_in, write
from guildrun import run_guild


def _guild_run(project: Path, *args: str) -> subprocess.CompletedProcess:
    return run_guild(*args, home=project / ".guild", cwd=project, timeout=300, check=True, text=False)


def _index(run_dir: Path) -> list[tuple[int, int]]:
    data = (run_dir / ".guild" / "output.index").read_bytes()
    return [struct.unpack_from("!QB", data, i) for i in range(0, len(data) - len(data) % 9, 9)]


def test_print_heavy_run_keeps_every_line_and_scalar(project):
    """40,000 step/loss lines (the print-heavy shape the supervisor parses as columns): echoed in
    order, stored whole with one index record each, every loss a scalar at its step; Guild reads
    the same last value and step."""
    write(project / "noisy.py", '''
    import sys
    for i in range(20000):
        print(f"step: {i}")
        print(f"loss: {1.0 / (i + 1):.6f}")
    sys.stderr.write("done\\n")
    ''')
    # (RUNYARD_FLUSH_SECONDS=0: no flushing thread in the script, whose flush of stdout's text
    # can race the main thread's prints in CPython — this test is about the capture's order)
    r = cli("run", "noisy.py", "-y", cwd=project, env={"RUNYARD_FLUSH_SECONDS": "0"})
    assert r.returncode == 0, r.stderr
    want = "".join(f"step: {i}\nloss: {1.0 / (i + 1):.6f}\n" for i in range(20000))
    assert r.stdout == want
    run_dir = runs_in(project / ".guild")[0]
    out = (run_dir / ".guild" / "output").read_bytes()
    assert out == want.encode() + b"done\n"
    index = _index(run_dir)
    assert len(index) == 40001 and [s for _, s in index[-2:]] == [0, 1]
    import runyard

    s = runyard.ls_scalars(run_dir.name)
    loss = s[s.tag == "loss"]
    assert len(loss) == 20000 and list(loss.step) == list(range(20000))
    assert loss.value.iloc[-1] == pytest.approx(1 / 20000, rel=1e-6)
    rows = list(csv.DictReader(io.StringIO(_guild_run(project, "compare", "--csv", "-").stdout.decode())))
    assert float(rows[0]["loss"]) == pytest.approx(1 / 20000, rel=1e-6) and rows[0]["step"] == "19999"


def test_progress_bar_redraws_show_live_and_output_keeps_each_lines_last_state(project):
    """A tqdm-style bar on stderr, redrawn with "\\r" 3,000 times (shorter drawings over longer
    ones): the terminal gets every drawing, the output one line per bar as a terminal shows it
    at its end, and Guild's `cat --output` shows the same."""
    write(project / "bar.py", '''
    import sys
    sys.stderr.write("start\\n")  # one stream: the order between two pipes is the reader's timing
    for i in range(3001):
        sys.stderr.write(f"\\r{i * 100 // 3000:3d}%|{'#' * (i * 20 // 3000):<20}| {i}/3000")
        sys.stderr.flush()
    sys.stderr.write("\\rok\\n")
    sys.stderr.write("\\r 50%|##  | a\\r 60%|\\n")
    sys.stderr.write("end\\n")
    ''')
    r = subprocess.run([sys.executable, "-m", "runyard.cli", "run", "bar.py", "-y"], cwd=project,
                       capture_output=True, timeout=120)  # (bytes: text mode would turn "\r" into "\n")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count(b"\r") >= 3001 and b"|####################| 3000/3000\rok\n" in r.stderr
    run_dir = runs_in(project / ".guild")[0]
    out = (run_dir / ".guild" / "output").read_bytes()
    assert out == b"start\nok0%|####################| 3000/3000\n 60%|##  | a\nend\n"
    assert [s for _, s in _index(run_dir)] == [1, 1, 1, 1]
    shown = _guild_run(project, "cat", "--output", run_dir.name[:8]).stdout
    assert shown.splitlines() == out.splitlines()


FLOOD = '''
import hashlib, os, sys, time
# Writes MB megabytes of numbered lines as fast as it can; reports its longest write.
mb = int(os.environ["FLOOD_MB"])
block = b"".join(b"%09d flood line, some text to make it longer than a number\\n" % i for i in range(16384))  # 1 MiB
h = hashlib.sha256()
worst = 0.0
out = sys.stdout.buffer
for k in range(mb * (1 << 20) // len(block)):
    t = time.monotonic()
    out.write(block)
    out.flush()
    worst = max(worst, time.monotonic() - t)
    h.update(block)
with open("flood.json", "w") as f:
    f.write('{"worst": %f, "sha": "%s"}' % (worst, h.hexdigest()))
'''


def test_a_flood_of_output_arrives_whole_with_flat_memory(project):
    """256 MB written as fast as the script can: every byte in the output, in order, one index
    record per line; the supervisor's memory stays flat; the script is never held up long."""
    import json

    import psutil

    write(project / "flood.py", FLOOD)
    env = {**os.environ, "FLOOD_MB": "256"}
    proc = subprocess.Popen([sys.executable, "-m", "runyard.cli", "run", "flood.py", "-y", "-q"], cwd=project,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    supervisor = psutil.Process(proc.pid)
    rss = []
    while proc.poll() is None:
        try:
            rss.append(supervisor.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    assert proc.wait() == 0, proc.stderr.read()
    run_dir = runs_in(project / ".guild")[0]
    report = json.loads((run_dir / "flood.json").read_text())
    out = run_dir / ".guild" / "output"
    h = hashlib.sha256()
    lines = 0
    with open(out, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
            lines += chunk.count(b"\n")
    assert out.stat().st_size == 256 << 20 and h.hexdigest() == report["sha"]
    assert len(_index(run_dir)) == lines == (256 << 20) // 64
    assert max(rss) - min(rss[len(rss) // 4:]) < 64 << 20, "memory grew with the output"
    assert report["worst"] < 5, f"the script waited {report['worst']:.1f} s to write"


def test_sigkill_of_the_supervisor_leaves_readable_output(project):
    """A supervisor killed mid-flood leaves an output whose index never runs ahead of it, which
    runyard and Guild read (the run reads `error`)."""
    write(project / "flood.py", FLOOD.replace('out.flush()', 'out.flush()\n    open("pid", "w").write(str(os.getpid()))'))
    env = {**os.environ, "FLOOD_MB": "100000"}
    proc = subprocess.Popen([sys.executable, "-m", "runyard.cli", "run", "flood.py", "-y", "-q"], cwd=project,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        out = None
        while time.monotonic() < deadline:
            runs = runs_in(project / ".guild")
            out = runs[0] / ".guild" / "output" if runs else None
            if out is not None and out.exists() and out.stat().st_size > 20 << 20:
                break
            time.sleep(0.05)
        assert out is not None and out.stat().st_size > 20 << 20
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run_dir = out.parent.parent
    try:
        os.kill(int((run_dir / "pid").read_text()), signal.SIGKILL)  # the script, if it outlived us
    except (OSError, ValueError):
        pass
    data = out.read_bytes()
    index = _index(run_dir)
    # A SIGKILL may cut the last write short at a page boundary (Linux stops a write between
    # pages for a fatal signal): at most part of one record after the whole ones, which readers skip.
    assert len((run_dir / ".guild" / "output.index").read_bytes()) - 9 * len(index) < 9
    assert 0 < len(index) <= data.count(b"\n")
    assert data.count(b"\n") - len(index) <= (2 << 20) // 64  # at most the last read's lines
    lines = data.split(b"\n")
    assert all(len(line) == 63 for line in lines[:len(index)])  # whole lines, in order
    assert [int(line[:9]) % 16384 for line in lines[:5000]] == [i % 16384 for i in range(5000)]
    import runyard

    assert runyard.ls_runs().iloc[0]["status"] == "error"
    shown = _guild_run(project, "cat", "--output", run_dir.name[:8]).stdout
    assert shown.startswith(data[:64 * 100])


def test_a_run_that_printed_numbers_but_no_scalars_says_how_to_record_them(project):
    write(project / "quiet.py", '''
    for i in range(3):
        print(f"iteration {i}: the loss is now {0.5 / (i + 1)}")
    ''')
    write(project / "pairs.py", '''
    for i in range(3):
        print(f"epoch: {i} loss: {0.5 / (i + 1)} acc: {0.5 + i / 10}")
    ''')
    r = cli("run", "quiet.py", "-y", cwd=project)
    assert r.returncode == 0 and "printed numbers but runyard recorded no scalars" in r.stderr
    assert "#| output-scalars:" in r.stderr and "--test-output-scalars" in r.stderr
    r = cli("run", "quiet.py", "-y", "-q", cwd=project)
    assert r.returncode == 0 and "recorded no scalars" not in r.stderr
    write(project / "fails.py", 'print("step 1 of 3")\nraise SystemExit(3)\n')
    r = cli("run", "fails.py", "-y", cwd=project)  # a failed run: its error is the news
    assert r.returncode == 1 and "recorded no scalars" not in r.stderr
    r = cli("run", "pairs.py", "-y", cwd=project)
    assert r.returncode == 0 and "recorded no scalars" not in r.stderr
    import runyard

    s = runyard.ls_scalars(1)
    assert sorted(zip(s.tag, s.step)) == [("acc", 0), ("acc", 1), ("acc", 2), ("epoch", 0), ("epoch", 1),
                                          ("epoch", 2), ("loss", 0), ("loss", 1), ("loss", 2)]
