"""The runs page of two (or more) source trees, side by side: pages alternate between them.

    python benchmarks/view_ab.py OLD_TREE NEW_TREE [RUNS] [ROUNDS]

Each tree (a checkout: its ``src`` is put first on the path) serves the same benchmark home
(benchmarks/make_home.py builds it) from its own process; one Chromium opens the runs page of
each in turn, ROUNDS times (the order flips each round), in a fresh context each time. It prints
the medians and ranges of view_budgets.py's three figures per tree. On a shared machine a
single run of view_budgets.py moves by ±50 ms from one minute to the next: only pages
interleaved like this compare two versions of the view.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import view_budgets as vb  # noqa: E402

SERVE = ("import runyard, time; from runyard.web.server import start; runyard.ls_runs(); s = start(); "
         "s.app.view.state.refresh(); print(s.url, flush=True); time.sleep(1e6)")


def main(argv: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    trees = [a for a in argv if not a.isdigit()]
    numbers = [int(a) for a in argv if a.isdigit()]
    n = numbers[0] if numbers else 10000
    rounds = numbers[1] if len(numbers) > 1 else 10
    if len(trees) < 2:
        sys.exit(__doc__)
    home = vb.home_of(n, build=True)
    servers = [subprocess.Popen([sys.executable, "-c", SERVE], stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, GUILD_HOME=str(home), PYTHONPATH=str(Path(t) / "src")))
               for t in trees]
    pw = browser = None
    try:
        urls = [s.stdout.readline().strip() for s in servers]
        pw = sync_playwright().start()
        browser = vb.launch(pw)
        pages = {t: [] for t in trees}
        for r in range(rounds):
            order = list(zip(trees, urls))
            for tree, url in (order if r % 2 == 0 else order[::-1]):
                pages[tree].append(vb.open_runs_page(browser, url, n))
        print(f"{n:,} runs, {rounds} rounds, load average now {os.getloadavg()[0]:.2f}; medians [ranges] in ms")
        for tree in trees:
            cells = []
            for k in vb.FIGURES:
                got = [p[k] for p in pages[tree] if p[k] is not None]
                cells.append(f"{k} {statistics.median(got):.0f} [{min(got):.0f}-{max(got):.0f}]" if got else f"{k} -")
            print(f"{tree:>30}  " + "  ".join(cells))
    finally:
        if browser:
            browser.close()
        if pw:
            pw.stop()
        for s in servers:
            s.kill()


if __name__ == "__main__":
    main(sys.argv[1:])
