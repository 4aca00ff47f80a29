"""What runyard prints on a terminal (issue 10, points 4, 5 and 7; issue 9, point 7).

Tables fit the width (COLUMNS, or the pty's), colour only on a terminal, empty results on
stderr, the batch progress bar, the closing line of ``run``, help that teaches, and every
control character a run's text holds shown escaped. On-terminal cases run the real command
in a pseudo-terminal.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import select
import subprocess
import sys
import time

import pytest

import runyard
from conftest import cli, write

pytestmark = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals")

SCRIPT = '''
x = 1
lr = 0.1
print("step: 1")
print(f"loss: {1.0 / x:.4f}")
print(f"acc: {x / 10:.2f}")
'''
LONG = "a label that goes on " * 6 + "END"
EVIL = "evil\x1b]0;PWNED\x07\x1b[2J\rcr\x9bc1\u202eend"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]")


def pty_cli(*args: str, env: dict | None = None, cols: int = 100, timeout: float = 60) -> str:
    """Run the real command with stdin, stdout and stderr on a pseudo-terminal of ``cols``
    columns; returns everything it wrote."""
    import fcntl
    import pty
    import struct
    import termios

    e = dict(os.environ, TERM="xterm", **(env or {}))
    e.pop("COLUMNS", None)
    e.pop("NO_COLOR", None)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "runyard.cli", *args], stdin=slave, stdout=slave,
                            stderr=slave, env=e, close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed its side
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def invoke(*args: str):
    """The CLI in this process (click's runner), for read-only commands: stdout + stderr, exit code."""
    from click.testing import CliRunner

    from runyard.cli import main

    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.output, r.exit_code


def plain(text: str) -> str:
    """Terminal output without its ANSI codes and carriage returns."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r\n", "\n")


@pytest.fixture
def three(project):
    write(project / "train.py", SCRIPT)
    for x in (1, 2, 3):
        runyard.run("train.py", {"x": x}, echo=False)
    runyard.runs_label(2, LONG)
    return project


def test_tables_fit_the_width_cut_labels_and_name_dropped_columns(three):
    wide = cli("runs", env={"COLUMNS": "400"})
    assert wide.returncode == 0 and LONG in wide.stdout and wide.stderr == ""
    lines = wide.stdout.splitlines()
    assert len(lines) == 3 and [l[:3] for l in lines] == ["[1:", "[2:", "[3:"]
    assert len({l.index("completed") for l in lines}) == 1  # aligned
    r = cli("runs", env={"COLUMNS": "80"})
    lines = r.stdout.splitlines()
    assert all(len(l) <= 80 for l in lines) and "…" in lines[1] and "END" not in r.stdout
    assert "2026" in r.stdout or "20" in lines[0]  # started still shown at 80 columns
    r = cli("runs", env={"COLUMNS": "40"})
    assert all(len(l) <= 40 for l in r.stdout.splitlines())
    assert "not shown" in r.stderr and "started" in r.stderr and r.returncode == 0

    r = cli("compare", env={"COLUMNS": "70"})
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and all(len(l) <= 70 for l in lines), r.stdout
    if lines[0].startswith("Same in every run:"):  # flags equal in every row: above the table, wrapped
        lines = lines[next(i for i, line in enumerate(lines) if line.startswith("run ")):]
    assert lines[0].split()[0] == "run" and "loss" in lines[0] and "x" in lines[0].split()
    dropped = r.stderr.split(":", 1)[1]
    assert "started" in dropped and "loss" not in dropped  # scalars outlast the run's times
    assert "\x1b[" not in r.stdout + r.stderr  # no styles off a terminal
    # CSV and JSON are data: whole, unstyled, never cut.
    rows = list(csv.DictReader(io.StringIO(cli("compare", "--csv", "-", env={"COLUMNS": "20"}).stdout)))
    assert rows[1]["label"] == LONG and len(rows) == 3
    assert json.loads(cli("runs", "--json", env={"COLUMNS": "20"}).stdout)[1]["label"] == LONG


def test_styles_and_width_on_a_terminal(three):
    out = pty_cli("runs", cols=60)
    assert "\x1b[32m" in out  # completed in green
    text = plain(out)
    lines = [l for l in text.splitlines() if l.startswith("[")]
    assert len(lines) == 3 and all(len(l) <= 60 for l in lines) and "…" in text
    out = pty_cli("compare", cols=200)
    assert "\x1b[1m" in out and "loss" in plain(out)  # a bold header
    assert "\x1b[" not in cli("runs").stdout


def test_empty_results_say_so_on_stderr(three):
    for args in (("runs", "-Fl", "no-such-label"), ("runs", "5:9"), ("compare", "5:9"),
                 ("compare", "--filter", "x > 10"), ("runs", "--running")):
        r = cli(*args)
        assert r.returncode == 0 and r.stdout == "", args
        assert r.stderr.startswith("no runs match ") and args[-1] in r.stderr, (args, r.stderr)
    r = cli("runs", env={"GUILD_HOME": str(three / "empty-home")})
    assert r.returncode == 0 and r.stdout == "" and r.stderr.startswith("no runs yet in ")
    r = cli("stop", "-y")
    assert r.returncode == 0 and r.stderr == "no runs match --running\n"
    r = cli("runs", "99")  # a single index past the end stays an error
    assert r.returncode == 2 and "no run 99" in r.stderr


def test_runs_list_keeps_the_index_of_the_filtered_list(three):
    lines = cli("runs", "2:3").stdout.splitlines()
    assert [l[:3] for l in lines] == ["[2:", "[3:"]


def test_run_ends_with_its_short_id_and_directory(project):
    write(project / "train.py", SCRIPT)
    r = cli("run", "train.py", "-y")
    rid = runyard.ls_runs(1)["id"][0]
    assert r.stderr.strip().splitlines()[-1] == f"Run {rid[:8]} completed: {project / '.guild' / 'runs' / rid}"
    r = cli("run", "train.py", "-y", "-q")
    assert r.stderr == "" and r.stdout == ""


@pytest.mark.parametrize("workers", [None, "2"], ids=["in-process", "workers"])
def test_batch_shows_a_progress_bar_on_a_terminal(project, workers):
    write(project / "train.py", SCRIPT)
    args = ["run", "train.py", "x=[1,2,4]", "-y"] + (["--workers", workers] if workers else [])
    text = plain(pty_cli(*args))
    assert "train.py: trial 3 of 3" in text and "best loss 0.25" in text, text
    assert re.search(r"\d:\d\d:\d\d", text)  # elapsed
    assert "Batch finished: 3 of 3 trials done" in text
    if not workers:
        assert text.count("INFO: Running trial ") == 3 and "loss: 0.2500" in text  # output above the bar


def test_export_include_batch(project, tmp_path):
    write(project / "train.py", SCRIPT)
    assert cli("run", "train.py", "x=[1,2]", "-y", "-q").returncode == 0
    r = cli("export", str(tmp_path / "out"), "--include-batch", "-y")
    assert r.returncode == 0, r.stderr
    assert len([p for p in (tmp_path / "out").iterdir() if len(p.name) == 32]) == 3
    r = cli("mark", "--include-batch", "-y")
    assert r.returncode == 0 and "Marked 3 run(s)" in r.stdout


def test_help_teaches_selection_filters_and_metavars(project):
    r = cli("runs", "--help")
    assert r.returncode == 0
    for word in ("1:3", "id prefix", "--filter EXPR", "--started RANGE", "-Fl, --label TEXT", "delete",
                 "runyard help filters"):
        assert word in r.stdout, word
    sel = cli("help", "selection").stdout
    assert "1:3" in sel and "a1b2c3d4" in sel and "no runs match 5:9" in sel
    filters = cli("help", "filters").stdout
    assert "flag:lr < 0.01" in filters and "is undefined" in filters and "last 3 days" in filters
    assert cli("help", "nope").returncode == 2
    assert "--workers N" in invoke("run", "--help")[0]
    for cmd in ("runs", "compare", "run", "select", "view", "diff", "cat", "ls", "tag", "export", "queue"):
        text = invoke(cmd, "--help")[0]
        assert not re.search(r"\bVAL\b|\bINTEGER\b", text), (cmd, text)


def test_control_characters_are_shown_escaped_everywhere(three):
    runyard.runs_label(1, EVIL)
    runyard.runs_tag(1, [EVIL])
    runyard.runs_comment(1, EVIL)
    rid = runyard.ls_runs(1)["id"][0]
    run_dir = three / ".guild" / "runs" / rid
    (run_dir / ("file" + EVIL.replace("/", "") + ".txt")).write_text("x")
    write(three / "flags.py", "name = 'a'\nprint('loss: 1')\n")
    runyard.run("flags.py", {"name": EVIL}, echo=False)
    r = cli("runs", "-a")  # the real command once; the rest in this process
    outputs = [(("runs", "-a"), r.stdout + r.stderr)]
    for args in (("runs",), ("compare", "--table"), ("runs", "info", "2"), ("runs", "info"),
                 ("select", "2", "--attr", "label"), ("select", "2", "--attr", "tags"), ("ls", "2"),
                 ("comment", "2", "--list"), ("runs", "no\x1b[2Jsuch"), ("runs", "-Fl", "\x1b[2J"),
                 ("scalars", "2")):
        outputs.append((args, invoke(*args)[0]))
    for args, out in outputs:
        assert not CONTROL.search(out), (args, out)
    joined = "".join(o for _, o in outputs)
    assert "\\x1b]0;PWNED\\x07" in joined and "\\x9b" in joined and "\\r" in joined and "\\u202e" in joined
    info = dict(outputs)[("runs", "info", "2")]
    assert "label: evil\\x1b]0;PWNED" in info


def test_building_the_index_shows_a_progress_line_on_a_terminal(project):
    import shutil
    import uuid

    write(project / "train.py", SCRIPT)
    runyard.run("train.py", echo=False)
    runs = project / ".guild" / "runs"
    first = next(runs.iterdir())
    for _ in range(249):
        shutil.copytree(first, runs / uuid.uuid4().hex, symlinks=True)
    shutil.rmtree(project / ".guild" / "cache")
    quick = {"RUNYARD_PROGRESS_AFTER": "0"}  # (the 0.5 s wait, shortened so the test needs no big home)
    out = pty_cli("runs", "-n", "1", env=quick)
    assert "indexing 250 runs: " in out and " of 250" in out
    assert "\r\x1b[K" in out  # the line is cleared before the listing
    assert "indexing" not in pty_cli("runs", "-n", "1", env=quick)  # the index is built: nothing to show
    shutil.rmtree(project / ".guild" / "cache")
    r = cli("runs", "-n", "1", env=quick)  # not a terminal: no progress line
    assert r.returncode == 0 and "indexing" not in r.stderr
    shutil.rmtree(project / ".guild" / "cache")
    assert "indexing" not in pty_cli("runs", "-n", "1", env={"RUNYARD_PROGRESS_AFTER": "60"})  # done sooner


def test_every_control_character_is_escaped_and_wide_labels_fit(three):
    from runyard.terminal import cell_width, safe

    for n in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x202E, 0x2066]:
        out = safe(f"a{chr(n)}b")
        assert not CONTROL.search(out) and "\u2028" not in out and out.startswith("a\\") and out.endswith("b"), n
    assert safe("plain ünïcode 训练") == "plain ünïcode 训练"
    runyard.runs_label(1, "训练" * 40)
    lines = cli("runs", env={"COLUMNS": "70"}).stdout.splitlines()
    assert all(cell_width(l) <= 70 for l in lines) and "…" in lines[0]
