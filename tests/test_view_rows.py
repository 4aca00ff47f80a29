"""Issue 12, budget 8b: the runs page reads the compact list (``/api/runs?form=compact``: names
sent once, a label that only repeats the flags sent as their positions), and the rows it keeps
are still exactly what ``/api/runs`` says, also after live updates merge into them."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

import runyard
from conftest import write

pytest.importorskip("playwright.sync_api")
from browser import served_project, wait_js  # noqa: E402

# (importing browser skips this module too where Chromium is missing)

TRAIN = '''
lr = 0.1
units = 64
optimizer = "adam"
debug = False
note = "x"
print("loss: 0.5")
'''
OTHER = '''
epochs = 3
print("acc: 0.75")
'''


# The module fixtures are made once: under pytest-xdist the tests share one worker.
pytestmark = pytest.mark.xdist_group("view-rows")


@pytest.fixture(scope="module")
def rows_site(tmp_path_factory):
    def setup(proj):
        write(proj / "train.py", TRAIN)
        write(proj / "other.py", OTHER)
        made = [
            # Guild's label writes booleans as yes/no: sent as text
            runyard.run("train.py", {"lr": 1e-05, "debug": True}, echo=False),
            runyard.run("train.py", {"lr": 0.5, "note": "a b"}, echo=False),  # a value with a space
            runyard.run("train.py", {"lr": 2.0, "units": 12345678901}, echo=False, label="units=12345678901 lr=2.0"),
            runyard.run("train.py", {"lr": 0.25}, echo=False, label="units=64 lr=0.25"),  # flags, reordered
            runyard.run("train.py", {"lr": 0.125}, echo=False, label="lr=0.1250"),  # not the value's text
        ]
        return {"ids": [m.iloc[0]["id"] for m in made]}

    yield from served_project(tmp_path_factory, "rows", setup)


def _get(url: str) -> dict:
    return json.loads(urllib.request.urlopen(url, timeout=30).read())


def _by_id(rows: list) -> dict:
    return {r[0]: r for r in rows}


def test_the_compact_list_names_each_thing_once(rows_site):
    url = rows_site["url"]
    full, compact = _get(url + "api/runs"), _get(url + "api/runs?form=compact")
    assert compact["form"] == "compact" and compact["fields"] == full["fields"]
    assert compact["version"] == full["version"] and compact["total"] == full["total"] == 5
    assert compact["operations"] == ["train.py"] and len(compact["flag_sets"]) == 1
    labels = {r[0]: r[6] for r in compact["runs"]}
    documented = {r[0]: r[6] for r in full["runs"]}
    reordered = rows_site["ids"][3]
    keys = compact["flag_sets"][0]
    assert [keys[i] for i in compact["labels"][labels[reordered]]] == ["units", "lr"]  # positions, not text
    assert all(r[7] == 0 for r in compact["runs"])  # (no tags)
    for rid in set(rows_site["ids"]) - {reordered}:
        assert labels[rid] == documented[rid]  # text that isn't exactly the flags stays text
    first = _get(url + "api/runs?form=compact&limit=2")
    assert first["partial"] and len(first["runs"]) == 2 and set(first["names"]["flags"]) == set(keys)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url + "api/runs?form=columns", timeout=30)
    assert e.value.code == 400 and "unknown form" in json.loads(e.value.read())["error"]


def test_the_pages_rows_equal_the_api_and_stay_equal_through_live_updates(rows_site):
    url, ids = rows_site["url"], rows_site["ids"]
    ctx = rows_site["browser"].new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(url)
        wait_js(page, "window.__runyardAllRows !== undefined")
        assert _by_id(page.evaluate("window.__runyardRows()")) == _by_id(_get(url + "api/runs")["runs"])
        page.click(f'#grid-rows .grid-row[data-id="{ids[3]}"] .c-sel input')

        # changes arrive as documented rows (flags as objects) and merge into the compact ones
        runyard.runs_tag(ids[3], add=["live"])
        runyard.runs_label(ids[0], label="lr=1e-05 after")
        new = runyard.run("other.py", echo=False).iloc[0]["id"]  # a flag set the page hasn't seen
        wait_js(page, f"!!document.querySelector('#grid-rows .grid-row[data-id=\"{new}\"]')"
                      f" && !!document.querySelector('#grid-rows .grid-row[data-id=\"{ids[3]}\"] .tag')", 15)
        end = time.monotonic() + 15
        while True:  # (the label, or the new run's scalars, may come a poll later than the tag)
            page_rows, api_rows = _by_id(page.evaluate("window.__runyardRows()")), _by_id(_get(url + "api/runs")["runs"])
            done = api_rows[ids[0]][6] == "lr=1e-05 after" and api_rows[new][11] == {"acc": 0.75}
            if (done and page_rows == api_rows) or time.monotonic() > end:
                break
            time.sleep(0.3)
        assert page_rows == api_rows
        assert page_rows[ids[0]][6] == "lr=1e-05 after" and page_rows[ids[3]][7] == ["live"]
        assert page_rows[new][10] == {"epochs": 3} and page_rows[new][11] == {"acc": 0.75}
        assert page.is_checked(f'#grid-rows .grid-row[data-id="{ids[3]}"] .c-sel input')  # kept selected
        page.click('.names .cell[data-key="flag:epochs"]')  # a column of the new flag set sorts
        assert page.locator("#grid-rows .grid-row").first.get_attribute("data-id") == new
        assert errors == []
    finally:
        ctx.close()
