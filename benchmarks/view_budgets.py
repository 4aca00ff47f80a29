"""Issue 12's view budgets, measured in Chromium (Debian's, driven by Playwright).

    python benchmarks/view_budgets.py            # 10,000 runs (and 100,000 if that home exists)
    python benchmarks/view_budgets.py 10000 100000

For each home (benchmarks/make_home.py builds and caches them) a view server is started on it
with its index already built, and a fresh browser context opens the runs page: "first rows" is
the time from navigation to the first drawn rows (the newest 200, sent inside the page), "all
rows" to the whole list drawn. The row count is checked. The "cold" page is the first one the
server answers (its whole-list body was encoded by the first listing); "warm" is the median of
the next WARM pages (each a fresh context, so the browser caches nothing). The load average is
printed with each line: the figures mean little on a busy machine. Budgets: 10,000 runs < 300 ms
to rows (all rows); 100,000 runs first rows within 1.5 s. The live-chart latency and the 100,000-point smoothing redraw are measured by
tests/test_view_live.py and tests/test_view_pages.py (run with -s to see them).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BUDGET_MS = {10000: ("all rows", 300), 100000: ("first rows", 1500)}
WARM = 5


def home_of(n: int, build: bool) -> Path | None:
    base = Path(os.environ.get("RUNYARD_BENCH_DIR", Path.home() / ".cache" / "runyard" / "bench"))
    home = base / f"home-{n}"
    if not home.exists() and not build:
        return None
    out = subprocess.run([sys.executable, str(Path(__file__).parent / "make_home.py"), str(n)],
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    return Path(out)


def measure(n: int, home: Path, browser) -> dict:
    os.environ["GUILD_HOME"] = str(home)
    import runyard
    from runyard.web.server import start

    t = time.perf_counter()
    runyard.ls_runs()  # the index, built (not what this measures)
    index_s = time.perf_counter() - t
    srv = start()
    try:
        srv.app.view.state.refresh()
        out = {"runs": n, "index_s": index_s}
        warm = []
        for attempt in ["cold page"] + ["warm page"] * WARM:
            ctx = browser.new_context(viewport={"width": 1440, "height": 900})
            page = ctx.new_page()
            page.goto(srv.url)
            end = time.monotonic() + 120
            while not page.evaluate("window.__runyardAllRows !== undefined") and time.monotonic() < end:
                time.sleep(0.02)  # (polled: the view's CSP forbids the eval wait_for_function needs)
            first = page.evaluate("window.__runyardFirstRows || window.__runyardAllRows")
            all_rows = page.evaluate("window.__runyardAllRows")
            count = int(page.inner_text("#counts").split()[0].replace(",", ""))
            assert count == n, f"{count} runs shown, expected {n}"
            if attempt == "cold page":
                out[attempt] = (first, all_rows, os.getloadavg()[0])
            else:
                warm.append((first, all_rows))
            ctx.close()
        out["warm page"] = (statistics.median(w[0] for w in warm), statistics.median(w[1] for w in warm),
                            os.getloadavg()[0])
        return out
    finally:
        srv.stop()


def main(argv: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    sizes = [int(a) for a in argv] or [10000, 100000]
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=os.environ.get("RUNYARD_CHROMIUM", "/usr/bin/chromium"),
                                 args=["--headless", "--no-sandbox", "--disable-gpu"])
    try:
        print(f"{'runs':>8} {'page':>10} {'first rows ms':>14} {'all rows ms':>12} {'load avg':>9} {'budget':>22}")
        for n in sizes:
            home = home_of(n, build=n <= 10000)
            if home is None:
                print(f"{n:>8} (no home: python benchmarks/make_home.py {n})")
                continue
            r = measure(n, home, browser)
            what, ms = BUDGET_MS.get(n, ("all rows", None))
            for attempt in ("cold page", "warm page"):
                first, all_rows, load = r[attempt]
                got = first if what == "first rows" else all_rows
                verdict = "" if ms is None else f"{what} < {ms} ms: {'ok' if got < ms else 'OVER'}"
                print(f"{n:>8} {attempt:>10} {first:>14.0f} {all_rows:>12.0f} {load:>9.2f} {verdict:>22}", flush=True)
    finally:
        browser.close()
        pw.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
