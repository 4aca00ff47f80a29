"""Issue 23: the first hour, second pass — a project as people have them: git, a git-ignored
``data/`` folder, a project ``.venv`` holding a package runyard's interpreter lacks, a ``utils/``
package, an empty ``plots/`` folder, argparse flags with hyphens and ``nargs="+"``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import cli, runs_in, write

TRAIN = '''
import argparse
import sys

from utils.helpers import describe

p = argparse.ArgumentParser()
p.add_argument("--learning-rate", type=float, default=0.1)
p.add_argument("--layers", type=int, nargs="+", default=[128, 64])
a = p.parse_args()
print("prefix", sys.prefix)
print(describe(a.learning_rate, a.layers))
'''


def _git(project: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", *args], cwd=project, check=True, env=env, capture_output=True)


def _venv(where: Path, module: str) -> Path:
    """A plain virtualenv (no pip) holding one module of its own: ``module`` prints its name."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    site = next((where / "lib").glob("python*/site-packages"))
    write(site / f"{module}.py", f"NAME = {module!r}\n")
    return where


def _no_venv_env() -> dict:
    """This process's environment with no active virtualenv or conda environment."""
    return {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV")}


def _cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real command with exactly ``env`` (default: no active virtualenv)."""
    e = env if env is not None else _no_venv_env()
    return subprocess.run([sys.executable, "-m", "runyard.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=e, timeout=120)


@pytest.fixture
def proj(project):
    """The issue's project: git, a git-ignored data/ folder, a .venv with a package of its own
    (``tabulate_ish``), utils/, an empty plots/ folder."""
    write(project / "train_sgd.py", TRAIN)
    write(project / "utils" / "__init__.py", "")
    write(project / "utils" / "helpers.py", "def describe(lr, layers):\n    return f'lr={lr} layers={layers}'\n")
    (project / "plots").mkdir()
    (project / "data").mkdir()
    write(project / "data" / "covtype_like.csv", "a,b\n1,2\n")
    write(project / ".gitignore", ".guild/\n.venv/\ndata/\n")
    _venv(project / ".venv", "tabulate_ish")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "init")
    return project


def _only_run(project: Path) -> Path:
    runs = runs_in(project / ".guild")
    assert len(runs) == 1, runs
    return runs[0]


def _attr(run: Path, name: str):
    import yaml

    return yaml.safe_load((run / ".guild" / "attrs" / name).read_text())


# --- 1. the user's interpreter ---------------------------------------------------------------

USES_VENV = '''
import sys
import tabulate_ish
print("prefix", sys.prefix)
print("hooks", "runyard_streams" in sys.modules)
'''


def test_the_projects_venv_runs_the_script(proj):
    write(proj / "uses_venv.py", USES_VENV)
    r = _cli("run", "uses_venv.py", "--print-cmd")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == str(proj / ".venv" / "bin" / "python")
    r = _cli("run", "uses_venv.py", "-y")
    assert r.returncode == 0, r.stderr
    assert f"prefix {proj / '.venv'}" in r.stdout
    assert "hooks True" in r.stdout  # runyard's helpers ran in an interpreter without runyard
    run = _only_run(proj)
    assert _attr(run, "interpreter") == str(proj / ".venv" / "bin" / "python")
    assert f"interpreter: {proj / '.venv' / 'bin' / 'python'}" in _cli("runs", "info").stdout.splitlines()


def test_an_active_virtualenv_comes_first(proj, tmp_path):
    other = _venv(tmp_path / "other", "tabulate_ish")
    env = {**_no_venv_env(), "VIRTUAL_ENV": str(other)}
    write(proj / "uses_venv.py", USES_VENV)
    r = _cli("run", "uses_venv.py", "-y", env=env)
    assert r.returncode == 0, r.stderr
    assert f"prefix {other}" in r.stdout


def test_python_option_and_front_matter_override(proj, tmp_path):
    other = _venv(tmp_path / "other", "tabulate_ish")
    write(proj / "uses_venv.py", USES_VENV)
    r = _cli("run", "uses_venv.py", "-y", "--python", str(other / "bin" / "python"))
    assert r.returncode == 0, r.stderr
    assert f"prefix {other}" in r.stdout
    write(proj / "pinned.py", "#| python: ../other/bin/python\n" + USES_VENV)
    r = _cli("run", "pinned.py", "-y")
    assert r.returncode == 0, r.stderr
    assert f"prefix {other}" in r.stdout
    n = len(runs_in(proj / ".guild"))
    r = _cli("run", "uses_venv.py", "-y", "--python", str(tmp_path / "nope" / "python"))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "nope" in r.stderr
    assert len(runs_in(proj / ".guild")) == n  # no half-made run


def test_without_any_venv_runyards_own_interpreter_runs_it(project):
    write(project / "plain.py", "import sys\nprint('prefix', sys.prefix)\n")
    r = _cli("run", "plain.py", "-y")
    assert r.returncode == 0, r.stderr
    assert f"prefix {sys.prefix}" in r.stdout


def test_rscript_is_overridable(project, tmp_path):
    import shutil

    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("R is not installed")
    wrapper = write(tmp_path / "bin" / "myR", f"#!/bin/sh\necho via-wrapper >&2\nexec {rscript} \"$@\"\n")
    wrapper.chmod(0o755)
    write(project / "train.R", "x <- 1\ncat('x is', x, '\\n')\n")
    r = _cli("run", "train.R", "-y", "--rscript", str(wrapper))
    assert r.returncode == 0, r.stderr
    assert "via-wrapper" in r.stderr and "x is 1" in r.stdout
    assert _attr(_only_run(project), "interpreter") == str(wrapper)


# --- 3. running from a subfolder ---------------------------------------------------------------


def test_running_from_a_subfolder_finds_the_project(proj):
    (proj / ".guild").mkdir(exist_ok=True)
    env = {k: v for k, v in _no_venv_env().items() if k != "GUILD_HOME"}  # the home found from the cwd
    r = _cli("run", "../train_sgd.py", "-y", env=env, cwd=proj / "utils")
    assert r.returncode == 0, r.stderr
    assert not (proj / "utils" / ".guild").exists()
    assert not (proj / ".guild" / "runs" / "train_sgd.py").exists()  # no copy outside the run
    run = _only_run(proj)
    assert (run / "train_sgd.py").is_file() and (run / "utils" / "helpers.py").is_file()
    assert "lr=0.1 layers=[128, 64]" in r.stdout
    assert _attr(run, "op")["script"] == "train_sgd.py"
    r = _cli("runs", "--json", env=env, cwd=proj / "utils")
    assert json.loads(r.stdout)[0]["operation"] == "train_sgd.py"


# --- 6. crashes and orphans --------------------------------------------------------------------


def test_scalars_of_runs_without_scalars(project):
    r = cli("scalars")
    assert r.returncode == 0, r.stderr
    assert "No scalars." in r.stdout
    write(project / "quiet.py", "x = 1\n")
    assert cli("run", "quiet.py", "-y", "-q").returncode == 0
    for args in (("scalars",), ("scalars", "1"), ("scalars", "--summary"), ("scalars", "-F", "flag:x = 1")):
        r = cli(*args)
        assert r.returncode == 0, r.stderr
        assert "No scalars." in r.stdout
    import runyard

    for summary in (False, True):
        df = runyard.ls_scalars(summary=summary)
        assert len(df) == 0
        assert all(df[c].dtype == object for c in ("run", "path", "tag"))


@pytest.mark.parametrize("fork", ["1", "0"])
def test_a_killed_supervisor_takes_its_run_along(project, fork):
    import psutil

    pidfile = project / "child.pid"
    write(project / "sleepy.py", f"""
        import os, time
        open({str(pidfile)!r}, "w").write(str(os.getpid()))
        time.sleep(60)
        """)
    sup = subprocess.Popen([sys.executable, "-m", "runyard.cli", "run", "sleepy.py", "-y", "-q"],
                           env={**os.environ, "RUNYARD_FORK": fork}, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = psutil.Process(int(pidfile.read_text()))
    assert child.pid != sup.pid
    sup.send_signal(signal.SIGKILL)
    sup.wait()
    try:
        child.wait(10)  # gone with its supervisor, not an orphan
    except psutil.TimeoutExpired:
        child.kill()
        pytest.fail("the run's process outlived its killed supervisor")
    r = cli("runs", "--json")
    assert json.loads(r.stdout)[0]["status"] == "error"


def test_print_cmd_and_test_flags_with_a_grid(project):
    write(project / "train.py", "units = 8\nlr = 0.1\n")
    r = cli("run", "train.py", "units=[16,32]", "--print-cmd")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.endswith("train.py") for line in lines)
    r = cli("run", "train.py", "units=[16,32]", "--test-flags")
    assert r.returncode == 0, r.stderr
    assert "units: 16" in r.stdout and "units: 32" in r.stdout
    assert not runs_in(project / ".guild")


# --- 2. the data the script needs ----------------------------------------------------------------

READS_DATA = '''
import sys
print(open("data/covtype_like.csv").read().splitlines()[0])
'''


def test_a_git_ignored_data_folder_gets_a_hint(proj):
    write(proj / "reads_data.py", READS_DATA)
    r = _cli("run", "reads_data.py", "-y")
    assert r.returncode == 1
    assert "FileNotFoundError" in r.stderr
    hint = [line for line in r.stderr.splitlines() if line.startswith("runyard: the run could not open")]
    assert hint == ["runyard: the run could not open data/covtype_like.csv: data/ was not copied into the "
                    "run's folder (ignored by git); to bring it in, add to the script's front matter: "
                    "#| requires: [{file: data}]"]


@pytest.mark.parametrize("name, content, why", [
    ("big.csv", "x,y\n" + "1,2\n" * 300_000, "over 1.0 MiB (1.1 MiB)"),
    ("weights.bin", "\x00\x01" * 100, "binary"),
])
def test_a_skipped_file_the_script_opens_gets_a_hint(proj, name, content, why):
    write(proj / name, content)
    write(proj / "reads.py", f"print(open({name!r}).read()[:3])\n")
    r = _cli("run", "reads.py", "-y")
    assert r.returncode == 1
    assert (f"runyard: the run could not open {name}: it was not copied into the run's folder ({why}); "
            f"to bring it in, add to the script's front matter: #| requires: [{{file: {name}}}]") in r.stderr


def test_files_skipped_for_size_are_named_when_the_run_starts(proj):
    write(proj / "big.csv", "x,y\n" + "1,2\n" * 300_000)
    write(proj / "ok.py", "print('fine')\n")
    r = _cli("run", "ok.py", "-y")
    assert r.returncode == 0, r.stderr
    assert ("runyard: not copied into the run, as over 1.0 MiB: big.csv (1.1 MiB); a script that reads one "
            "needs e.g. #| requires: [{file: big.csv}]") in r.stderr.splitlines()


def test_empty_folders_are_made_in_the_run(proj):
    (proj / "outputs" / "models").mkdir(parents=True)
    write(proj / "outputs" / "models" / ".gitkeep", "")
    write(proj / "saves.py", """
        open("plots/loss.txt", "w").write("1")
        open("outputs/models/m.txt", "w").write("1")
        print("saved")
        """)
    r = _cli("run", "saves.py", "-y")
    assert r.returncode == 0, r.stderr
    run = _only_run(proj)
    assert (run / "plots" / "loss.txt").is_file() and (run / "outputs" / "models" / "m.txt").is_file()
    assert not (run / "data").exists() and not (run / ".venv").exists()


# --- 5. compare shows the metrics --------------------------------------------------------------

SEVEN_FLAGS = '''
import argparse
p = argparse.ArgumentParser()
p.add_argument("--learning-rate", type=float, default=0.1)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--epochs", type=int, default=2)
p.add_argument("--optimizer", default="sgd-with-momentum")
p.add_argument("--weight-decay", type=float, default=0.0001)
p.add_argument("--dropout-rate", type=float, default=0.25)
p.add_argument("--hidden-units", type=int, default=256)
a = p.parse_args()
print(f"loss: {a.learning_rate / 3:.4f}")
print(f"acc: {1 - a.learning_rate:.4f}")
print(f"val_loss: {a.learning_rate / 2:.4f}")
print(f"val_acc: {0.9 - a.learning_rate:.4f}")
print("time: 12.5")
'''


def test_compare_shows_the_metrics_first(project):
    write(project / "train.py", SEVEN_FLAGS)
    for lr in ("0.1", "0.2", "0.3"):
        r = cli("run", "train.py", f"learning-rate={lr}", "-y", "-q")
        assert r.returncode == 0, r.stderr
    for cols in ("100", "120"):
        r = cli("compare", env={"COLUMNS": cols})
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].startswith("Same in every run: ")
        same = " ".join(line for line in lines if not line.startswith(("run ", "[")) and " completed " not in line)
        for flag in ("batch_size=32", "epochs=2", "optimizer=sgd-with-momentum", "hidden_units=256"):
            assert flag.split("=")[1] in same
        head = next(line for line in lines if line.startswith("run "))
        for scalar in ("loss", "acc", "val_loss", "val_acc", "scalar:time"):
            assert scalar in head.split(), head
        assert all(len(line) <= int(cols) for line in lines), r.stdout
        assert all(len(line) <= int(cols) for line in r.stderr.splitlines()), r.stderr
    r = cli("compare", "--csv", "-")
    header = r.stdout.splitlines()[0].split(",")
    assert header.index("loss") < header.index("learning_rate") and "scalar:time" in header and "time" in header
    r = cli("compare", "--min", "scalar:time", "--csv", "-")
    assert r.returncode == 0, r.stderr


def test_the_not_shown_note_is_wrapped(project):
    write(project / "train.py", SEVEN_FLAGS)
    for lr in ("0.1", "0.2"):
        for bs in ("8", "16"):
            assert cli("run", "train.py", f"learning-rate={lr}", f"batch-size={bs}", "-y", "-q").returncode == 0
    r = cli("compare", env={"COLUMNS": "60"})
    assert "not shown" in r.stderr
    assert len(r.stderr.splitlines()) > 1 and all(len(line) <= 60 for line in r.stderr.splitlines())


# --- 7. flags as people write them ---------------------------------------------------------------


def test_one_name_rule_for_hyphenated_flags(project):
    write(project / "train_sgd.py", TRAIN)
    write(project / "utils" / "__init__.py", "")
    write(project / "utils" / "helpers.py", "def describe(lr, layers):\n    return f'lr={lr} layers={layers}'\n")
    for lr in ("0.02", "0.1"):
        r = cli("run", "train_sgd.py", f"learning-rate={lr}", "-y", "-q")
        assert r.returncode == 0, r.stderr
    r = cli("runs", "--json", "--filter", "flag:learning-rate < 0.05")
    assert [x["flags"]["learning_rate"] for x in json.loads(r.stdout)] == [0.02]
    r = cli("compare", "--csv", "-", "--min", "flag:learning-rate")
    assert r.returncode == 0, r.stderr
    import runyard

    assert runyard.ls_runs(filter="flag:learning-rate < 0.05")["flags.learning_rate"].tolist() == [0.02]
    help_ = cli("run", "train_sgd.py", "--help-op").stdout
    assert "  learning-rate " in help_ and "learning_rate" not in help_
    assert "layers" in help_ and "default is [128, 64]" in help_ and "list of int" in help_


def test_a_list_option_takes_a_list(project):
    write(project / "train_sgd.py", TRAIN)
    write(project / "utils" / "__init__.py", "")
    write(project / "utils" / "helpers.py", "def describe(lr, layers):\n    return f'lr={lr} layers={layers}'\n")
    r = cli("run", "train_sgd.py", "layers=[256,32]", "-y")
    assert r.returncode == 0, r.stderr
    assert "layers=[256, 32]" in r.stdout and len(runs_in(project / ".guild")) == 1
    r = cli("run", "train_sgd.py", "layers=[[8,4],[16]]", "-y", "-q")
    assert r.returncode == 0, r.stderr
    outs = sorted(cli("cat", str(i)).stdout.splitlines()[-1] for i in (1, 2))
    assert outs == ["lr=0.1 layers=[16]", "lr=0.1 layers=[8, 4]"]
    import runyard

    df = runyard.run("train_sgd.py", {"layers": [64, 8]}, echo=False)
    assert len(df) == 1 and df["flags.layers"][0] == "64 8"


def test_a_list_global_and_a_syntax_error_say_why(project):
    write(project / "train.py", "lr = 0.1\nhidden_sizes = [64, 32]\nprint(lr, hidden_sizes)\n")
    r = cli("run", "train.py", "hidden_sizes=[8,4]", "-y")  # a list global is a list flag (as in Guild)
    assert r.returncode == 0 and "0.1 [8, 4]" in r.stdout, r.stderr
    write(project / "train.py", "lr = 0.1\nconf = {'a': 1}\nprint(lr)\n")
    r = cli("run", "train.py", "conf=2", "-y")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "conf" in r.stderr and "is a dict" in r.stderr, r.stderr
    assert "--force-flags accepts flags the script doesn't declare" in r.stderr
    write(project / "broken.py", "lr = (0.1\nx = 1\n")
    r = cli("run", "broken.py", "-y")
    assert r.returncode == 2
    assert r.stderr.strip() == "runyard: cannot read flags of broken.py: '(' was never closed (line 1)"


def test_a_search_for_a_scalar_never_recorded_warns(project):
    write(project / "train.py", "lr = 0.1\nprint(f'loss: {lr}')\n")
    r = cli("run", "train.py", "lr=[0.1:0.5]", "--optimizer", "random", "--max-trials", "2", "--maximize", "acc",
            "-y", "-q")
    assert r.returncode == 0, r.stderr
    warn = [line for line in r.stderr.splitlines() if "recorded no scalar 'acc'" in line]
    assert len(warn) == 1 and "it recorded loss" in warn[0]


# --- 9. smaller things ---------------------------------------------------------------------------


def test_metavars_name_what_options_take():
    r = cli("run", "--help", env={"COLUMNS": "200"})
    for opt, meta in (("--restart", "RUN"), ("--proto", "RUN"), ("--sync", "REMOTE"), ("--gpus", "IDS"),
                      ("--test-output-scalars", "FILE"), ("--python", "PATH")):
        assert f"{opt} {meta}" in r.stdout, opt


def test_workers_off_a_terminal_print_info_lines(project):
    write(project / "train.py", "x = 1\nprint('x', x)\n")
    r = cli("run", "train.py", "x=[1,2,3]", "--workers", "2", "-y")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("INFO: Running trial") == 3
    assert "━" not in r.stderr and "\x1b[" not in r.stderr


def test_reading_never_creates_a_home(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "GUILD_HOME"}
    env["HOME"] = str(tmp_path)
    for args in (("runs",), ("compare",), ("scalars",), ("runs", "--deleted")):
        r = subprocess.run([sys.executable, "-m", "runyard.cli", *args], cwd=empty, env=env, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    code = ("import runyard, urllib.request\n"
            "print(len(runyard.ls_runs()), len(runyard.ls_scalars()))\n"
            "url = runyard.view(open=False)\n"
            "print(urllib.request.urlopen(url + 'api/runs').status)\n"
            "runyard.view(stop=True)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=empty, env=env, capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["0", "0", "200"], r.stderr
    assert list(empty.iterdir()) == []


def test_ctrl_c_exits_130_for_a_run_and_a_batch(project):
    write(project / "slow.py", """
        import time
        x = 1
        print("start", flush=True)
        time.sleep(30)
        """)
    for flags in (["x=1"], ["x=[1,2]"]):
        before = set(runs_in(project / ".guild"))
        p = subprocess.Popen([sys.executable, "-m", "runyard.cli", "run", "slow.py", *flags, "-y"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)

        def started():
            return any((r / ".guild" / "output").exists() and b"start" in (r / ".guild" / "output").read_bytes()
                       for r in set(runs_in(project / ".guild")) - before)

        deadline = time.monotonic() + 30
        while not started() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        os.killpg(p.pid, signal.SIGINT)  # what the terminal sends its foreground group
        _, err = p.communicate(timeout=60)
        assert p.returncode == 130, (flags, err)


# --- 8. the view and diffs ----------------------------------------------------------------------


def test_html_diff_colours_scalars_by_their_direction(project):
    import re

    import runyard

    write(project / "train.py", """
        quality = 0.9
        print(f"acc: {quality}")
        print(f"loss: {1 - quality:.2f}")
        print(f"lr_now: {quality * 2}")
        """)
    a = runyard.run("train.py", echo=False)["id"][0]
    b = runyard.run("train.py", {"quality": 0.8}, echo=False)["id"][0]
    def scalar_rows(html: str) -> dict:
        table = html.split('class="data vs scalars"', 1)[1].split("</table>", 1)[0]
        return {name: cls for cls, name in re.findall(r'<tr class="([^"]*)"><td class="mono">([^<]+)</td>', table)}

    html = Path(runyard.view_runs_diff([a, b], open=False)).read_text()
    assert scalar_rows(html) == {"acc": "changed worse", "loss": "changed worse", "lr_now": "changed"}
    c = runyard.run("train.py", {"quality": 0.95}, echo=False)["id"][0]
    html = Path(runyard.view_runs_diff([b, c], open=False)).read_text()
    assert scalar_rows(html) == {"acc": "changed better", "loss": "changed better", "lr_now": "changed"}


PIPELINE = """
prepare:
  main: prepare
  requires:
    - file: data.csv
train:
  main: train
  requires:
    - operation: prepare
      select: out\\.txt
pipe:
  steps:
    - prepare
    - train
"""


def _pipeline_project(project: Path) -> None:
    write(project / "guild.yml", PIPELINE)
    write(project / "data.csv", "1,2\n")
    write(project / "prepare.py", "open('out.txt', 'w').write(open('data.csv').read())\n")
    write(project / "train.py", "print('got', open('out.txt').read().strip())\n")


def test_diff_shows_the_files_each_dependency_resolved(project):
    _pipeline_project(project)
    for _ in range(2):
        assert cli("run", "-y", "prepare").returncode == 0
    assert cli("run", "-y", "train").returncode == 0
    first_prepare = sorted(runs_in(project / ".guild"), key=lambda d: d.stat().st_mtime)[0].name
    assert cli("run", "-y", "train", f"prepare={first_prepare[:8]}").returncode == 0
    r = cli("diff", "-D")
    assert r.returncode == 0, r.stderr
    minus = [line for line in r.stdout.splitlines() if line.startswith("-operation:prepare")]
    plus = [line for line in r.stdout.splitlines() if line.startswith("+operation:prepare")]
    assert len(minus) == 1 and minus[0].endswith("/out.txt") and "run " in minus[0]
    assert len(plus) == 1 and plus[0].endswith(f"{first_prepare}/out.txt")


def test_exporting_a_pipeline_without_its_steps_says_so(project):
    _pipeline_project(project)
    r = cli("run", "-y", "pipe")
    assert r.returncode == 0, r.stderr
    r = cli("export", str(project / "out"), "-Fo", "^pipe$", "-y")
    assert r.returncode == 0, r.stderr
    note = [line for line in r.stderr.splitlines() if "links runs not in this export" in line]
    assert len(note) == 1 and "prepare (" in note[0] and "train (" in note[0] and "--copy-links" in note[0]
    r = cli("export", str(project / "all"), "-y")  # the pipeline with its steps: nothing to say
    assert r.returncode == 0 and "links runs not in this export" not in r.stderr


def test_check_and_test_sourcecode_say_what_a_run_gets(proj):
    r = _cli("check")
    assert f"run_python:        {proj / '.venv' / 'bin' / 'python'} (the project's .venv)" in r.stdout
    r = _cli("run", "train_sgd.py", "--test-sourcecode")
    assert r.returncode == 0, r.stderr
    assert "Empty folders made in the run: plots/" in r.stdout


def test_an_r_script_opening_a_left_out_file_gets_the_hint(proj):
    import shutil

    if shutil.which("Rscript") is None:
        pytest.skip("R is not installed")
    write(proj / "reads.R", 'd <- read.csv("data/covtype_like.csv")\nprint(nrow(d))\n')
    r = _cli("run", "reads.R", "-y")
    assert r.returncode == 1
    assert ("runyard: the run could not open data/covtype_like.csv: data/ was not copied into the run's folder "
            "(ignored by git); to bring it in, add to the script's front matter: #| requires: [{file: data}]"
            ) in r.stderr.splitlines()


def test_a_guild_yml_operation_runs_on_the_users_python_too(proj, tmp_path):
    """A guild.yml operation (``main`` and ``exec`` with ``${python_exe}``) runs on the
    interpreter a plain script would: the project's .venv, else ``--python``."""
    write(proj / "uses_venv.py", USES_VENV)
    write(proj / "guild.yml", "train:\n  main: uses_venv\nviaexec:\n  exec: ${python_exe} uses_venv.py\n")
    venv_python = str(proj / ".venv" / "bin" / "python")
    for op in ("train", "viaexec"):
        r = _cli("run", op, "--print-cmd")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split()[0] == venv_python, (op, r.stdout)
        r = _cli("run", op, "-y")
        assert r.returncode == 0, r.stderr
        assert f"prefix {proj / '.venv'}" in r.stdout and "hooks True" in r.stdout, (op, r.stdout)
    assert {_attr(run, "interpreter") for run in runs_in(proj / ".guild")} == {venv_python}
    other = _venv(tmp_path / "other", "tabulate_ish")
    r = _cli("run", "train", "-y", "--python", str(other / "bin" / "python"))
    assert r.returncode == 0, r.stderr
    assert f"prefix {other}" in r.stdout
