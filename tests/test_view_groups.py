"""The compare page's "group seeds" (issue 24), in Chromium: rows fold into groups (mean ± CI,
n), the charts draw each group's mean curve with a shaded band, the URL keeps the choice."""

from __future__ import annotations

import pytest
from scipy import stats as sst

import runyard
from conftest import write
from browser import served_project, shot, wait_js

TRAIN = '''
import random
units = 64
seed = 0
random.seed(seed)
noise = random.gauss(0, 0.05)
for step in range(1, 6):
    print(f"step: {step}")
    print(f"loss: {1.0 / step + units / 1000 + noise * step:.6f}")
'''


# The module fixtures are made once: under pytest-xdist the tests share one worker.
pytestmark = pytest.mark.xdist_group("view-groups")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    def setup(proj):
        write(proj / "train.py", TRAIN)
        df = runyard.run("train.py", {"units": [64, 128]}, seeds=3, random_seed=5, echo=False)
        return {"ids": list(df["id"])}

    yield from served_project(tmp_path_factory, "groups", setup)


@pytest.fixture
def page(site):
    ctx = site["browser"].new_context(viewport={"width": 1400, "height": 900})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    yield pg
    assert pg.errors == []
    ctx.close()


def _losses(ids):
    s = runyard.ls_scalars(ids)
    return s[s["tag"] == "loss"]


def test_group_seeds_folds_rows_and_draws_group_means_with_bands(site, page):
    ids = site["ids"]
    page.goto(f"{site['url']}compare?runs={','.join(ids)}")
    page.wait_for_selector("#charts .chart-card canvas")
    assert page.locator("#cmp tbody tr[data-id]").count() == 6
    page.check("#group-seeds")  # one click: the page comes back grouped, the URL says so
    page.wait_for_url("**group=seeds**")
    page.wait_for_selector("#charts .chart-card canvas")
    assert page.locator("#cmp tbody tr[data-group]").count() == 2
    assert "in 2 groups" in page.inner_text("h2")
    # the table: mean ± half-width (n) of the last loss, as scipy has it
    last = runyard.ls_runs(ids)
    rows = page.locator("#cmp tbody tr[data-group]")
    for i in range(2):
        texts = [t.strip() for t in rows.nth(i).locator("td").all_inner_texts()]
        units = 64 if "64" in texts else 128
        cell = next(t for t in texts if " ± " in t)
        v = last[last["flags.units"] == units]["scalars.loss"].to_numpy()
        half = sst.t.ppf(0.975, len(v) - 1) * sst.sem(v)
        mean_text, rest = cell.split(" ± ")
        assert float(mean_text) == pytest.approx(v.mean(), abs=10 ** -(len(mean_text.split(".")[1])))
        assert rest.endswith("(3)") and float(rest.split()[0]) == pytest.approx(half, rel=0.05)
    assert "seed" not in page.locator("#cmp thead tr.names").inner_text().split()
    legend = page.inner_text("#legend")
    assert "units=64 (n=3)" in legend and "units=128 (n=3)" in legend
    # the chart: per group a mean line and a band (two bounds): 1 + 2 x 3 series, not 6 runs
    wait_js(page, "document.querySelector('#charts .plot').ryChart.plot.series.length === 7")
    data = page.evaluate("document.querySelector('#charts .plot').ryChart.plot.data")  # (first group first)
    loss = _losses(ids)
    first = page.evaluate("JSON.parse(document.getElementById('compare-data').textContent).groups[0]")
    assert len(first) == 3
    at1 = loss[(loss["run"].isin(first)) & (loss["step"] == 1)]["value"].to_numpy()
    step1 = data[0].index(1)
    half = sst.t.ppf(0.975, 2) * sst.sem(at1)
    assert data[1][step1] == pytest.approx(at1.mean(), rel=1e-9)  # the first group's mean at step 1
    assert data[2][step1] == pytest.approx(at1.mean() + half, rel=1e-9)  # its band: the 95% interval
    assert data[3][step1] == pytest.approx(at1.mean() - half, rel=1e-9)
    shot(page, "10-compare-groups")
    # min–max instead: kept in the URL
    page.select_option("#band", "minmax")
    page.wait_for_url("**band=minmax**")
    wait_js(page, f"Math.abs(document.querySelector('#charts .plot').ryChart.plot.data[2][{step1}] - {at1.max()}) < 1e-9")
    data = page.evaluate("document.querySelector('#charts .plot').ryChart.plot.data")
    assert data[3][step1] == pytest.approx(at1.min(), rel=1e-9)
    page.reload()
    page.wait_for_selector("#charts .chart-card canvas")
    assert page.input_value("#band") == "minmax" and page.is_checked("#group-seeds")
    # per-run curves are one click away: the runs of a group, and the checkbox
    page.click("#cmp tbody tr[data-group='0'] summary")
    assert page.locator("#cmp tbody tr[data-group='0'] details a").count() == 3
    page.uncheck("#group-seeds")
    page.wait_for_url(lambda u: "group=seeds" not in u)
    page.wait_for_selector("#charts .chart-card canvas")
    assert page.locator("#cmp tbody tr[data-id]").count() == 6
    wait_js(page, "document.querySelector('#charts .plot').ryChart.plot.series.length === 7")  # 6 runs + x
    assert "units=64 (n=3)" not in page.inner_text("#legend")
