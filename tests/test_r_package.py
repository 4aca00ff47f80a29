"""The R package in r/: installed from source, its testthat tests run on real runs.

Each file of r/tests/testthat/ is one test here. An R test that is skipped counts as a
failure: in the test command every R test must really run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PKG = REPO / "r"
R_TESTS = sorted(p.name for p in (PKG / "tests" / "testthat").glob("test-*.R"))
NEEDED = ("jsonlite", "tibble", "processx", "testthat", "withr", "dplyr", "tidyr", "ggplot2")

RUN_FILE = r"""
args <- commandArgs(trailingOnly = TRUE)
res <- as.data.frame(testthat::test_file(args[[1]], package = "runyard", load_package = "installed",
                                         reporter = testthat::ProgressReporter$new(show_praise = FALSE)))
bad <- res$failed > 0 | res$error | res$skipped
if (any(bad)) {
  cat("\nNot passed:", paste0("'", res$test[bad], "'", ifelse(res$skipped[bad], " (skipped)", "")), sep = "\n  ")
  quit(save = "no", status = 1)
}
"""


def _runyard_command() -> str:
    """The runyard console script of this Python (not a pyenv shim: it starts faster)."""
    here = Path(sys.executable).parent / "runyard"
    return str(here) if here.exists() else (shutil.which("runyard") or "")


# The module fixtures are made once: under pytest-xdist the tests share one worker.
pytestmark = pytest.mark.xdist_group("r-package")


@pytest.fixture(scope="module")
def r_lib(tmp_path_factory) -> Path:
    """The package installed from r/ into a library of its own."""
    if not shutil.which("Rscript"):
        pytest.fail("R is needed: apt-get install -y r-base-core (scripts/test.sh installs it)")
    missing = subprocess.run(
        ["Rscript", "-e", f"cat(setdiff(c({', '.join(repr(p) for p in NEEDED)}), rownames(installed.packages())))"],
        capture_output=True, text=True).stdout.split()
    if missing:
        pytest.fail("R packages missing: " + " ".join(missing) + " (scripts/test.sh installs r-cran-"
                    + " r-cran-".join(missing) + ")")
    lib = tmp_path_factory.mktemp("rlib")
    proc = subprocess.run(["R", "CMD", "INSTALL", "--no-docs", "--no-multiarch", "--no-test-load", "-l", str(lib),
                           str(PKG)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return lib


@pytest.mark.parametrize("test_file", R_TESTS)
def test_r_package(r_lib, test_file, tmp_path):
    if not _runyard_command():
        pytest.fail("the runyard command is not on PATH (pip install -e . installs it)")
    script = tmp_path / "run-test-file.R"
    script.write_text(RUN_FILE)
    tests = shutil.copytree(PKG / "tests" / "testthat", tmp_path / "testthat")  # testthat writes there
    env = dict(os.environ)
    env.pop("GUILD_HOME", None)
    env.update({
        "R_LIBS": str(r_lib) + os.pathsep + env.get("R_LIBS", ""),
        "RUNYARD_REPO": str(REPO),
        "RUNYARD_COMMAND": _runyard_command(),
        "LC_ALL": "C.UTF-8",
        "NOT_CRAN": "true",
        "TMPDIR": str(tmp_path),
    })
    proc = subprocess.run(["Rscript", str(script), test_file], cwd=tests, env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{test_file}:\n{proc.stdout}\n{proc.stderr}"


# -- the JSON commands the package reads, through the CLI ------------------------------------------

def _py_script(project: Path) -> None:
    (project / "t.py").write_text("x = 0.5\nname = 'a'\nprint('loss:', x * 2)\nprint('step: 1')\n"
                                  "print('loss:', float('nan'))\n")


def test_api_runs_and_scalars_json(project):
    import json

    from conftest import cli

    _py_script(project)
    ids_file = project / "ids.json"
    done = cli("api", "run", "t.py", "x=0.25", "--label", "first", "--ids-file", str(ids_file), "-q")
    assert done.returncode == 0, done.stderr
    (rid,) = json.loads(ids_file.read_text())
    runs = json.loads(cli("api", "runs").stdout)
    assert [r["id"] for r in runs] == [rid]
    r = runs[0]
    assert list(r) == ["id", "label", "tags", "marked", "flags", "scalars", "operation", "started", "stopped",
                       "comments", "status", "exit_status", "deps", "project_dir", "dir", "sourcecode_digest"]
    assert r["label"] == "first" and r["flags"] == {"x": 0.25, "name": "a"} and r["status"] == "completed"
    assert r["tags"] == [] and r["comments"] == [] and r["deps"] == [] and r["exit_status"] == 0
    (loss,) = [s for s in r["scalars"] if s["tag"] == "loss"]
    assert loss["path"] == ".guild" and loss["first_val"] == 0.5 and loss["count"] == 2
    assert loss["last_val"] in ("NaN", None) and loss["last_step"] == 1  # JSON has no NaN (R reads both as NA/NaN)
    cols = json.loads(cli("api", "scalars", rid[:8]).stdout)
    assert list(cols) == ["run", "path", "tag", "value", "step"]
    got = sorted(zip(cols["tag"], cols["value"], cols["step"]), key=str)
    assert got == sorted([("loss", 0.5, 0), ("loss", "NaN", 1)], key=str)
    assert json.loads(cli("api", "runs", "--marked").stdout) == []
    bad = cli("api", "runs", "nope")
    assert bad.returncode == 2 and bad.stderr.startswith("runyard: ") and len(bad.stderr.splitlines()) == 1


def test_api_run_exit_codes_and_ids(project):
    import json

    from conftest import cli

    (project / "fail.py").write_text("raise SystemExit(3)\n")
    ids_file = project / "ids.json"
    p = cli("api", "run", "fail.py", "--ids-file", str(ids_file), "-q")
    assert p.returncode == 1 and len(json.loads(ids_file.read_text())) == 1
    p = cli("api", "run", "fail.py", "nosuch=1", "--ids-file", str(project / "none.json"))
    assert p.returncode == 2 and "nosuch" in p.stderr and not (project / "none.json").exists()


def test_api_write_attr(project):
    from conftest import cli

    _py_script(project)
    assert cli("api", "run", "t.py", "-q").returncode == 0
    run_dir = json_runs(cli)[0]["dir"]
    assert cli("api", "write-attr", "note", '{"a": [1, 2]}', "--run-dir", run_dir).returncode == 0
    assert cli("select", "--attr", "note").stdout == "a: [1, 2]\n"
    assert cli("api", "write-attr", "note", "--run-dir", run_dir).returncode == 0
    assert cli("select", "--attr", "note").stdout == "\n"
    p = cli("api", "write-attr", "flags", "{}", "--run-dir", run_dir)
    assert p.returncode == 2 and p.stderr == "runyard: cannot write attribute 'flags': runyard writes it\n"
    p = cli("api", "write-attr", "note", "{bad", "--run-dir", run_dir)
    assert p.returncode == 2 and "not valid JSON" in p.stderr
    p = cli("api", "write-attr", "note", "1", env={"RUN_DIR": ""})
    assert p.returncode == 2 and "inside a run" in p.stderr


def json_runs(cli) -> list:
    import json

    return json.loads(cli("api", "runs").stdout)
