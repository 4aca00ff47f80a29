"""Self-contained HTML reports: one run (:func:`view_run_report`) and a diff of two runs
(:func:`view_runs_diff`).

A report is a single ``.html`` file with its styles, scripts (uPlot included), chart data and
images inlined, so it opens without a network or a server. Reports are written to
``<runs home>/cache/reports/`` and opened in the browser, or shown inline in Jupyter.
"""

from __future__ import annotations

import base64
import html as _html
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import SelectError, UsageError

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_IMAGES_TOTAL = 40 * 1024 * 1024
MAX_OUTPUT_LINES = 10_000
MAX_SOURCE_BYTES = 1_000_000
CHART_POINTS = 1500


def _reports_dir() -> Path:
    from ..home import cache_dir
    from ..present import lookup

    d = cache_dir(lookup.home()) / "reports"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _one(run: Any) -> dict:
    from ..present import lookup

    recs = lookup.resolve(run if run is not None else 1, want_summary=True)
    if not recs:
        raise SelectError(f"no run matches '{run}'")
    if len(recs) > 1:
        raise UsageError(f"'{run}' matches {len(recs)} runs; a report is about one run")
    return recs[0]


def _images(run_dir: Path, files: list[tuple[str, int]]) -> tuple[list[dict], list[str]]:
    from ..present import files as runfiles
    from ..store.paths import PathRefused, read_run_file

    out, skipped, total = [], [], 0
    for rel, size in files:
        ext = os.path.splitext(rel)[1].lower()
        mime = runfiles.IMAGE_TYPES.get(ext)
        if mime is None:
            continue
        if size > MAX_IMAGE_BYTES or total + size > MAX_IMAGES_TOTAL:
            skipped.append(rel)
            continue
        try:
            data = read_run_file(run_dir, rel, MAX_IMAGE_BYTES)[0]
        except (OSError, PathRefused):
            continue
        total += len(data)
        out.append({"path": rel, "uri": f"data:{mime};base64,{base64.b64encode(data).decode()}"})
    return out, skipped


def _output(run_dir: Path) -> dict:
    from ..store.output import read_lines

    lines = [(i + 1, s, t) for i, (_, s, t) in enumerate(read_lines(run_dir))]
    total = len(lines)
    if total <= MAX_OUTPUT_LINES:
        return {"lines": lines, "total": total, "shown": total, "cut": False}
    head, tail = MAX_OUTPUT_LINES // 5, MAX_OUTPUT_LINES - MAX_OUTPUT_LINES // 5
    return {"lines": lines[:head] + [None] + lines[-tail:], "total": total, "shown": MAX_OUTPUT_LINES, "cut": True}


def _sources(run_dir: Path) -> list[dict]:
    from ..present import files as runfiles
    from ..present import highlight as hl
    from ..store.paths import PathRefused, resolve_in_run

    out = []
    for rel in runfiles.source_files(run_dir):
        item = {"path": rel, "html": "", "note": ""}
        try:
            path = resolve_in_run(run_dir, rel)
            text, cut = runfiles.read_text(path, MAX_SOURCE_BYTES)
        except (OSError, PathRefused):
            item["note"] = "missing from the run directory"
            out.append(item)
            continue
        if "\x00" in text[:8192]:
            item["note"] = "binary"
        else:
            item["html"] = hl.highlight(rel, text)
            if cut:
                item["note"] = f"cut at {MAX_SOURCE_BYTES // 1_000_000} MB"
        out.append(item)
    return out


def run_report_html(rec: dict) -> str:
    """The HTML of a run's report (a record from the API, with its ``summary``)."""
    from ..present import lookup
    from ..present import series as runseries
    from ..present import pages
    from ..present.render import Renderer

    ctx = pages.run_context(rec)
    run_dir = Path(rec["dir"])
    ctx["images"], ctx["images_skipped"] = _images(run_dir, ctx["files"])
    return Renderer(inline=True).render(
        "run_report.html", page="report", home=str(lookup.home()), generated=_now(),
        series=runseries.series_json(run_dir, CHART_POINTS, times=True), output=_output(run_dir), sources=_sources(run_dir), **ctx)


def diff_report_html(a: dict, b: dict) -> str:
    """The HTML of a two-run diff report."""
    from ..present import lookup
    from ..present import pages
    from ..present.render import Renderer

    return Renderer(inline=True).render("diff_report.html", page="report", home=str(lookup.home()), generated=_now(),
                                        **pages.diff_context(a, b))


def _now() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def view_run_report(run: Any = None, open: bool = True) -> str:
    """Write a self-contained HTML report of one run and return its path.

    ``run``: an id, a unique id prefix, ``1`` (the latest, the default) or any one-run selector.
    The report holds the run's metadata, flags, scalar charts, output, source code and images
    (e.g. ``plots/*.png``). ``open`` shows it: inline in Jupyter, else in the web browser.
    """
    rec = _one(run)
    path = _reports_dir() / f"run-{rec['id']}.html"
    text = run_report_html(rec)
    _write(path, text)
    if open:
        _show(path, text)
    return str(path)


def view_runs_diff(runs: Any = None, open: bool = True) -> str:
    """Write a self-contained HTML diff of two runs (flags, scalars, each source file, output)
    and return its path.

    ``runs``: two runs in any selector form (default ``"1:2"``, the latest two); the older run is
    shown on the left. ``open`` shows it: inline in Jupyter, else in the web browser.
    """
    from ..present import lookup

    recs = lookup.resolve(runs if runs is not None else "1:2", want_summary=False)
    if len(recs) != 2:
        raise UsageError(f"a diff needs exactly two runs (the selection has {len(recs)})")
    a, b = sorted(recs, key=lambda r: (r.get("started") or 0, r["id"]))
    path = _reports_dir() / f"diff-{a['id'][:8]}-{b['id'][:8]}.html"
    text = diff_report_html(a, b)
    _write(path, text)
    if open:
        _show(path, text)
    return str(path)


def _in_notebook() -> bool:
    ipy = sys.modules.get("IPython")
    if ipy is None:
        return False
    try:
        shell = ipy.get_ipython()
    except Exception:  # noqa: BLE001
        return False
    return shell is not None and (type(shell).__name__ == "ZMQInteractiveShell" or hasattr(shell, "kernel"))


def _show(path: Path, text: str) -> None:
    if _in_notebook():
        from IPython.display import HTML, display

        display(HTML(inline_iframe(text)))
        return
    import webbrowser

    try:
        webbrowser.open(path.as_uri())
    except Exception:  # noqa: BLE001 - no browser: the path is returned
        pass


def inline_iframe(text: str, height: int = 820) -> str:
    """An ``<iframe srcdoc>`` showing a report inside a notebook (scripts sandboxed)."""
    return (f'<iframe srcdoc="{_html.escape(text, quote=True)}" sandbox="allow-scripts" '
            f'style="width:100%;height:{height}px;border:1px solid #e3e6eb;border-radius:8px"></iframe>')
