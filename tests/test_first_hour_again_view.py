"""Issue 23, point 8 in a real browser: the run page's x axis choice redraws the charts."""

from __future__ import annotations


import pytest

import runyard
from conftest import write

from browser import served_project, wait_js  # noqa: E402  (skips without Chromium)

TRAIN = '''
import time
for step in range(1, 6):
    print(f"step: {step * 100}")
    print(f"loss: {1.0 / step:.4f}", flush=True)
    time.sleep(0.15)
'''


# The module fixtures are made once: under pytest-xdist the tests share one worker.
pytestmark = pytest.mark.xdist_group("first-hour-again-view")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    def setup(proj):
        write(proj / "train.py", TRAIN)
        return {"id": runyard.run("train.py", echo=False).iloc[0]["id"]}

    yield from served_project(tmp_path_factory, "xaxis", setup)


CHART = "document.querySelector('#charts .chart-card .plot').ryChart"


def test_the_x_axis_choice_redraws_the_run_page_charts(served):
    ctx = served["browser"].new_context(viewport={"width": 1200, "height": 900})
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{served['url']}run/{served['id']}" if served["url"].endswith("/") else
              f"{served['url']}/run/{served['id']}")
    page.click('.tabs button[data-tab="charts"]')
    wait_js(page, f"{CHART} && {CHART}.plot")
    assert page.evaluate(f"{CHART}.plot.data[0][0]") == 100  # steps
    page.select_option("select.xaxis", "wall")
    wait_js(page, f"{CHART} && {CHART}.xMode === 'wall' && {CHART}.plot.data[0][0] > 1e9")
    first, last = page.evaluate(f"[{CHART}.plot.data[0][0], {CHART}.plot.data[0][4]]")
    assert 0.4 < last - first < 30  # seconds of wall time between the first and the last point
    legend = page.inner_text("#charts .chart-card .u-legend")
    assert "step" not in legend and "time" in legend
    page.select_option("select.xaxis", "relative")
    wait_js(page, f"{CHART}.xMode === 'relative' && {CHART}.plot.data[0][0] === 0")
    assert "time since start" in page.inner_text("#charts .chart-card .u-legend")
    page.select_option("select.xaxis", "step")  # (the choice persists: leave it as found)
    wait_js(page, f"{CHART}.xMode === 'step'")
    assert errors == []
    ctx.close()
