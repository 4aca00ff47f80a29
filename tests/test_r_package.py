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
NEEDED = ("jsonlite", "tibble", "processx", "testthat", "withr", "dplyr", "tidyr")

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
    proc = subprocess.run(["Rscript", str(script), test_file], cwd=PKG / "tests" / "testthat", env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{test_file}:\n{proc.stdout}\n{proc.stderr}"
