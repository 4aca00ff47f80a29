"""Groups of runs and the statistics between them (issue 24): every figure of runs_summary and
runs_versus against scipy.stats on fixed data from real runs, the intervals' coverage by
simulation, and `runyard summary` through the real CLI."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sst

import runyard
from runyard import stats

from conftest import cli, write

# Fixed data: two settings (units 64 and 128) with five seeds each, one setting with one run.
ACC = {64: [0.912, 0.905, 0.921, 0.899, 0.915], 128: [0.925, 0.931, 0.918, 0.929, 0.936], 256: [0.94]}
SCRIPT = '''
units = 64
seed = 0
ACC = {acc!r}
LOSS = {{64: 0.30, 128: 0.25, 256: 0.2}}
print(f"test_accuracy: {{ACC[units][seed]}}")
if not (units == 128 and seed == 4):  # one run logs no loss
    print(f"loss: {{LOSS[units] + seed / 100}}")
'''


# The module fixtures are made once: under pytest-xdist the tests share one worker.
pytestmark = pytest.mark.xdist_group("stats")


@pytest.fixture(scope="module")
def fixed_home(tmp_path_factory):
    """A project with the fixed runs, made once for this module's tests (which only read it)."""
    project = tmp_path_factory.mktemp("stats") / "project"
    project.mkdir()
    env = {"GUILD_HOME": str(project / ".guild")}
    write(project / "train.py", SCRIPT.format(acc=ACC))
    for units, values in ACC.items():
        r = cli("run", "train.py", f"units={units}", f"seed=[{','.join(str(i) for i in range(len(values)))}]",
                "-y", "-q", cwd=project, env=env)
        assert r.returncode == 0, r.stderr
    write(project / "fail.py", 'units = 64\nseed = 0\nprint("test_accuracy: 0.1")\nraise SystemExit(1)\n')
    assert cli("run", "fail.py", "-y", "-q", cwd=project, env=env).returncode == 1  # (not completed: left out)
    return project


@pytest.fixture
def fixed_runs(fixed_home, monkeypatch):
    monkeypatch.setenv("GUILD_HOME", str(fixed_home / ".guild"))
    monkeypatch.chdir(fixed_home)
    return fixed_home


def _interval(values, level=0.95):
    return sst.t.interval(level, len(values) - 1, loc=np.mean(values), scale=sst.sem(values))


def test_summary_figures_match_scipy(fixed_runs):
    s = runyard.runs_summary()
    assert list(s.columns[:4]) == ["operation", "flags.units", "n", "runs"]
    assert "flags.seed" not in s.columns  # the seed is what varies within a group
    assert s["operation"].tolist() == ["train.py"] * 3 and s["flags.units"].tolist() == [64, 128, 256]
    assert s["n"].tolist() == [5, 5, 1]
    ids = runyard.ls_runs(filter="flag:units=64", completed=True)["id"]
    assert sorted(s.iloc[0]["runs"]) == sorted(ids)
    for i, units in enumerate([64, 128]):
        v = ACC[units]
        row = s.iloc[i]
        low, high = _interval(v)
        assert row["scalars.test_accuracy.mean"] == pytest.approx(np.mean(v), rel=1e-12)
        assert row["scalars.test_accuracy.std"] == pytest.approx(np.std(v, ddof=1), rel=1e-12)
        assert row["scalars.test_accuracy.ci_low"] == pytest.approx(low, rel=1e-12)
        assert row["scalars.test_accuracy.ci_high"] == pytest.approx(high, rel=1e-12)
        assert row["scalars.test_accuracy.min"] == min(v) and row["scalars.test_accuracy.max"] == max(v)
        assert row["scalars.test_accuracy.n"] == 5
    # a run without the scalar: the statistics are over the runs that have it
    loss128 = [0.25 + i / 100 for i in range(4)]
    assert s.iloc[1]["scalars.loss.n"] == 4 and s.iloc[1]["n"] == 5
    assert s.iloc[1]["scalars.loss.ci_low"] == pytest.approx(_interval(loss128)[0], rel=1e-9)
    # n = 1: a mean, no interval (never a fake one)
    one = s.iloc[2]
    assert one["scalars.test_accuracy.mean"] == 0.94 and one["n"] == 1
    assert math.isnan(one["scalars.test_accuracy.ci_low"]) and math.isnan(one["scalars.test_accuracy.ci_high"])
    assert math.isnan(one["scalars.test_accuracy.std"])
    # another level
    s90 = runyard.runs_summary(ci=0.9, scalars="test_accuracy")
    assert s90.iloc[0]["scalars.test_accuracy.ci_low"] == pytest.approx(_interval(ACC[64], 0.9)[0], rel=1e-12)
    assert not any(c.startswith("scalars.loss") for c in s90.columns)


def test_summary_selection_filters_and_by(fixed_runs):
    by = runyard.runs_summary(by=["units"], scalars=["test_accuracy"])
    assert by["n"].tolist() == [5, 5, 1] and "flags.seed" not in by.columns
    seeds = runyard.runs_summary(by="seed", scalars="test_accuracy")  # by these flags alone
    assert seeds["flags.seed"].tolist() == [0, 1, 2, 3, 4] and seeds["n"].tolist() == [3, 2, 2, 2, 2]
    some = runyard.runs_summary(filter="flag:units >= 128")
    assert some["flags.units"].tolist() == [128, 256]
    picked = runyard.ls_runs(filter="flag:units=64").head(4)  # the failed run and three of units=64
    assert (picked["status"] == "error").sum() == 1
    sel = runyard.runs_summary(picked)  # a DataFrame selects; only completed runs count
    assert sel["n"].tolist() == [3]
    again = runyard.runs_summary(by.iloc[[1]], scalars="test_accuracy")  # summary rows select their runs
    assert again["n"].tolist() == [5] and again["flags.units"].tolist() == [128]
    with_errors = runyard.runs_summary(error=True)  # a status filter: those runs
    assert with_errors["operation"].tolist() == ["fail.py"]
    assert runyard.runs_summary("--error")["operation"].tolist() == ["fail.py"]
    from runyard.errors import UsageError

    with pytest.raises(UsageError, match="flag 'nope'"):
        runyard.runs_summary(by="nope")
    with pytest.raises(UsageError, match="scalar 'nope'"):
        runyard.runs_summary(scalars="nope")
    with pytest.raises(UsageError, match="between 0 and 1"):
        runyard.runs_summary(ci=95)


def test_versus_figures_match_scipy(fixed_runs):
    v = runyard.runs_versus("flag:units=64", "flag:units=128", "test_accuracy")
    assert len(v) == 1
    row = v.iloc[0]
    a, b = ACC[64], ACC[128]
    welch = sst.ttest_ind(b, a, equal_var=False)
    low, high = welch.confidence_interval(0.95)
    assert (row["a"], row["b"], row["n_a"], row["n_b"]) == ("64", "128", 5, 5)
    assert row["mean_a"] == pytest.approx(np.mean(a)) and row["mean_b"] == pytest.approx(np.mean(b))
    assert row["diff"] == pytest.approx(np.mean(b) - np.mean(a))
    assert row["ci_low"] == pytest.approx(low, rel=1e-12) and row["ci_high"] == pytest.approx(high, rel=1e-12)
    assert row["p_welch"] == pytest.approx(welch.pvalue, rel=1e-12)
    assert row["p_mannwhitney"] == pytest.approx(sst.mannwhitneyu(b, a, alternative="two-sided").pvalue, rel=1e-12)
    # Hedges' g, by the textbook: pooled standard deviation and the exact gamma correction
    dof = len(a) + len(b) - 2
    sp = math.sqrt(((len(a) - 1) * np.var(a, ddof=1) + (len(b) - 1) * np.var(b, ddof=1)) / dof)
    j = math.exp(math.lgamma(dof / 2) - math.lgamma((dof - 1) / 2)) / math.sqrt(dof / 2)
    assert row["hedges_g"] == pytest.approx((np.mean(b) - np.mean(a)) / sp * j, rel=1e-9)
    # Welch's interval is not the pooled one (unequal variances are allowed)
    pooled = sst.ttest_ind(b, a, equal_var=True).confidence_interval(0.95)
    assert row["ci_low"] != pytest.approx(pooled.low, rel=1e-9)
    # selections of every kind give the same test
    s = runyard.runs_summary(scalars="test_accuracy")
    same = runyard.runs_versus(s.iloc[[0]], s.iloc[[1]], "test_accuracy").iloc[0]
    ids = runyard.runs_versus(",".join(s.iloc[0]["runs"]), runyard.ls_runs(filter="flag:units=128"),
                              "scalar:test_accuracy").iloc[0]
    for r in (same, ids):
        assert r["p_welch"] == pytest.approx(row["p_welch"]) and r["n_a"] == 5 and r["n_b"] == 5
    # one run on a side: no t-test, no interval; a rank test still
    one = runyard.runs_versus("flag:units=128", "flag:units=256", "test_accuracy").iloc[0]
    assert one["n_b"] == 1 and math.isnan(one["p_welch"]) and math.isnan(one["ci_low"])
    assert one["p_mannwhitney"] == pytest.approx(sst.mannwhitneyu([0.94], b, alternative="two-sided").pvalue)


def test_summarize_is_vectorised_and_exact_on_many_groups():
    """Many groups with NaNs and groups of one, every figure against scipy per group."""
    rng = np.random.default_rng(3)
    rows = []
    for g in range(300):
        n = int(rng.integers(1, 8))
        for k in range(n):
            value = float(rng.normal(g, 1 + g % 3)) if rng.random() > 0.1 else float("nan")
            rows.append({"id": f"{g:04d}{k:028d}", "operation": "a.py" if g % 2 else "b.py",
                         "flags.lr": 0.1 * (g // 2), "flags.seed": k, "scalars.x": value})
    df = pd.DataFrame(rows)
    s = stats.summarize(df)
    assert len(s) == 300 and s["n"].sum() == len(df)
    for rec in s.to_dict("records"):
        ids = rec["runs"]
        vals = df.set_index("id").loc[ids, "scalars.x"].dropna().to_numpy()
        assert rec["scalars.x.n"] == len(vals)
        if len(vals) >= 2:
            low, high = _interval(vals)
            assert rec["scalars.x.ci_low"] == pytest.approx(low, rel=1e-9, abs=1e-12)
            assert rec["scalars.x.ci_high"] == pytest.approx(high, rel=1e-9, abs=1e-12)
        else:
            assert math.isnan(rec["scalars.x.ci_low"])
        if len(vals):
            assert rec["scalars.x.mean"] == pytest.approx(vals.mean()) and rec["scalars.x.max"] == vals.max()


@pytest.mark.parametrize("level", [0.95, 0.9])
def test_interval_coverage_by_simulation(level):
    """2,000 groups of 5 runs drawn from N(10, 2): the interval covers 10 about `level` of the time."""
    rng = np.random.default_rng(2024)
    groups, n = 2000, 5
    df = pd.DataFrame({
        "id": [f"{i:032x}" for i in range(groups * n)],
        "operation": "sim.py",
        "flags.setting": np.repeat(np.arange(groups), n),
        "flags.seed": np.tile(np.arange(n), groups),
        "scalars.x": rng.normal(10.0, 2.0, groups * n),
    })
    s = stats.summarize(df, ci=level)
    assert len(s) == groups and (s["n"] == n).all()
    covered = ((s["scalars.x.ci_low"] <= 10.0) & (10.0 <= s["scalars.x.ci_high"])).mean()
    assert level - 0.02 <= covered <= level + 0.02, covered


def test_summary_cli(fixed_runs):
    r = cli("summary")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["operation", "units", "n", "loss", "test_accuracy"]
    # sorted by the first scalar (loss), lowest first; mean ± half-width (n)
    assert [ln.split()[1] for ln in lines[1:]] == ["256", "128", "64"]
    low, high = _interval(ACC[64])
    half = (high - low) / 2
    d = stats.decimals_for(half)
    assert f"{np.mean(ACC[64]):.{d}f} ± {half:.{d}f} (5)" in lines[3]
    assert "0.94 (1)" in lines[1]  # one run: no interval
    r = cli("summary", "--by", "units", "--scalar", "test_accuracy", "--csv", "-")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["flags.units"] for row in rows] == ["64", "128", "256"]
    assert float(rows[0]["scalars.test_accuracy.ci_low"]) == pytest.approx(low)
    assert len(rows[0]["runs"].split()) == 5
    j = json.loads(cli("summary", "--json", "--ci", "0.9").stdout)
    assert j["n"] == [5, 5, 1] and j["scalars.test_accuracy.ci_low"][2] is None
    assert j["scalars.test_accuracy.ci_low"][0] == pytest.approx(_interval(ACC[64], 0.9)[0])
    for args, words in [(["--ci", "1.5"], "between 0 and 1"), (["--by", "nope"], "flag 'nope'"),
                        (["--scalar", "nope"], "scalar 'nope'"), (["--by", ""], "--by needs flag names"),
                        (["--scalar", ""], "--scalar needs"),
                        (["--versus", "flag:units=64", "flag:units=128"], "one --scalar"),
                        (["--versus", "flag:units=1", "flag:units=128", "--scalar", "loss"], "no completed runs")]:
        r = cli("summary", *args)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def test_versus_cli_in_plain_words(fixed_runs):
    r = cli("summary", "--versus", "flag:units=64", "flag:units=128", "--scalar", "test_accuracy")
    assert r.returncode == 0, r.stderr
    a, b = ACC[64], ACC[128]
    welch = sst.ttest_ind(b, a, equal_var=False)
    low, high = welch.confidence_interval(0.95)
    first = r.stdout.splitlines()[0]
    d = stats.decimals_for((high - low) / 2)
    assert first == (f"128 \u2212 64: {np.mean(b) - np.mean(a):+.{d}f} [{low:+.{d}f}, {high:+.{d}f}], "
                     f"p = {welch.pvalue:.3f}, n = 5 vs 5")
    assert "Mann-Whitney U p = " in r.stdout and "Hedges' g = +" in r.stdout
    j = json.loads(cli("summary", "--versus", "flag:units=64", "flag:units=128", "--scalar", "test_accuracy",
                       "--json").stdout)
    assert j["p_welch"] == pytest.approx(welch.pvalue) and j["a"] == "64" and len(j["runs_b"]) == 5


def test_seeded_batch_to_verdict(project):
    """The issue's story: a two-value grid with --seeds, then the summary and the test."""
    write(project / "train.py", '''
    import random
    units = 64
    seed = 0
    random.seed(seed)
    print(f"test_accuracy: {0.9 + (0.02 if units == 128 else 0) + random.gauss(0, 0.003):.6f}")
    ''')
    r = cli("run", "train.py", "units=[64,128]", "--seeds", "5", "-y", "-q")
    assert r.returncode == 0, r.stderr
    s = runyard.runs_summary()
    assert s["n"].tolist() == [5, 5] and s["flags.units"].tolist() == [64, 128]
    r = cli("summary", "--versus", "flag:units=64", "flag:units=128", "--scalar", "test_accuracy")
    assert r.stdout.startswith("128 \u2212 64: +0.0") and ("p < 0.001" in r.stdout or "p = 0.00" in r.stdout)
