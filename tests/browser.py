"""The web view in a real browser, for the tests: Playwright driving Debian's Chromium.

Importing this module skips the importing test module where Playwright or Chromium is missing.
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import runyard

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("RUNYARD_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).parent / "artifacts"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def served_project(tmp_path_factory, name: str, setup):
    """A project (the cwd) with its own runs home, the runs ``setup(project)`` makes in it, the
    view serving it and a Chromium: yields ``{url, browser, project}`` plus what ``setup``
    returned, and stops them all after (for module fixtures: ``yield from``)."""
    proj = tmp_path_factory.mktemp(name) / "project"
    proj.mkdir()
    mp = pytest.MonkeyPatch()
    mp.setenv("GUILD_HOME", str(proj / ".guild"))
    mp.chdir(proj)
    try:
        made = setup(proj)
        url = runyard.view(open=False)
        pw = playwright_api.sync_playwright().start()
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield {"url": url, "browser": browser, "project": proj, **made}
        finally:
            browser.close()
            pw.stop()
            runyard.view(stop=True)
    finally:
        mp.undo()


def wait_js(page, expr: str, timeout: float = 10.0) -> None:
    """Wait until ``expr`` is true in the page (polled with evaluate: the view's CSP forbids eval)."""
    end = time.monotonic() + timeout
    while True:
        try:
            if page.evaluate(expr):
                return
        except playwright_api.Error:  # the page is navigating
            pass
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {expr}")
        time.sleep(0.05)
