"""Issue 5 end to end: R scripts run the way the seed runs them (real R)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import runyard
from conftest import cli, runs_in, write

EXAMPLE = Path(__file__).parent.parent / "examples" / "train.R"


@pytest.fixture(autouse=True)
def need_r():
    if not shutil.which("Rscript"):
        pytest.fail("R is needed: apt-get install -y r-base-core (scripts/test.sh installs it)")


@pytest.fixture
def train_r(project):
    shutil.copy(EXAMPLE, project / "train.R")
    return project / "train.R"


def test_seed_vignette_flow(train_r, capfd):
    row = runyard.run("train.R").iloc[0]
    shown = capfd.readouterr().out
    assert "> span <- .75" in shown and "mse:" in shown  # echoed like source(echo = TRUE)
    assert row["status"] == "completed" and row["operation"] == "train.R"
    assert row["flags.span"] == 0.75 and row["flags.family"] == "gaussian"
    assert row["label"] == "family=gaussian span=0.75"
    assert row["scalars.rmse"] == pytest.approx(row["scalars.mse"] ** 0.5, rel=1e-6)
    run_dir = Path(row["dir"])
    assert (run_dir / "plots" / "Rplot001.png").exists()

    row2 = runyard.run("train.R", {"span": 1.5, "family": "symmetric"}, echo=False).iloc[0]
    copy = (Path(row2["dir"]) / "train.R").read_text()
    assert "span <- 1.5" in copy and 'family <- "symmetric"' in copy
    assert len(copy.splitlines()) == len(train_r.read_text().splitlines())
    assert row2["scalars.mse"] != row["scalars.mse"]

    r = cli("run", "train.R", "span=99", "-y")
    assert r.returncode == 2 and "flag 'span'" in r.stderr and "maximum 3" in r.stderr
    r = cli("run", "train.R", "family=poisson", "-y")
    assert r.returncode == 2 and "not one of: gaussian, symmetric" in r.stderr
    assert len(runyard.ls_runs()) == 2

    r = cli("run", "train.R", "--help-op")
    assert "span" in r.stdout and "default is 0.75" in r.stdout and "range 0.3..3" in r.stdout


def test_grid_of_r_runs(train_r):
    df = runyard.run("train.R", {"span": [0.5, 0.75], "family": ["gaussian", "symmetric"]}, echo=False)
    assert len(df) == 4
    assert sorted(zip(df["flags.span"], df["flags.family"])) == [
        (0.5, "gaussian"), (0.5, "symmetric"), (0.75, "gaussian"), (0.75, "symmetric")]
    assert set(df["status"]) == {"completed"}


def test_r_error_is_recorded(project):
    write(project / "bad.R", '''
    x <- 1
    f <- function() stop("boom: x was ", x)
    f()
    ''')
    row = runyard.run("bad.R", echo=False).iloc[0]
    assert row["status"] == "error" and row["exit_status"] != 0
    err = yaml.safe_load((Path(row["dir"]) / ".guild" / "attrs" / "r_error").read_text())
    assert "boom: x was 1" in err["message"] and "f()" in err["call"]


def test_run_reproducible_from_seed(project):
    write(project / "rand.R", 'cat("value:", runif(1), "\\n")\n')
    row = runyard.run("rand.R", echo=False).iloc[0]
    seed = yaml.safe_load((Path(row["dir"]) / ".guild" / "attrs" / "random_seed").read_text())
    value = row["scalars.value"]
    assert 0 <= seed <= 2**31 - 1  # R's integer range: set.seed(random_seed) takes it as it is
    out = subprocess.run(["Rscript", "-e", f"set.seed({seed}); cat(format(runif(1), digits = 15))"],
                         capture_output=True, text=True, check=True).stdout
    assert float(out) == pytest.approx(value, rel=1e-6)
    assert "value:" in (Path(row["dir"]) / ".guild" / "output").read_text()


def test_echo_false_front_matter(project):
    write(project / "quiet.R", '''
    #| echo: false
    x <- 2
    cat("loss:", x / 4, "\\n")
    ''')
    row = runyard.run("quiet.R", {"x": 3}, echo=False).iloc[0]
    out = (Path(row["dir"]) / ".guild" / "output").read_text()
    assert "> x <-" not in out and "loss: 0.75" in out
    assert row["scalars.loss"] == 0.75


def test_missing_r_is_one_clear_line(train_r, tmp_path):
    bindir = tmp_path / "bin"  # a PATH with no Rscript on it (the interpreter is named in full)
    bindir.mkdir()
    r = subprocess.run([os.sys.executable, "-m", "runyard.cli", "run", "train.R", "-y"], capture_output=True,
                       text=True, env={**os.environ, "PATH": str(bindir)})
    assert r.returncode == 2
    assert "R is not installed" in r.stderr and "r-base-core" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert runs_in(train_r.parent / ".guild") == []


def test_r_runs_draw_seeds_in_r_integer_range(project):
    from runyard.launch.runner import prepare

    write(project / "rand.R", 'cat("value:", runif(1), "\\n")\n')
    seeds = [prepare("rand.R", stage=True).run.get("random_seed") for _ in range(20)]
    assert all(isinstance(s, int) and 0 <= s <= 2**31 - 1 for s in seeds)  # Guild's range is [0, 2**32)
    assert len(set(seeds)) > 1
