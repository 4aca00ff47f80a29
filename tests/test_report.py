"""Issue 6: self-contained HTML reports of a run and diffs of two runs."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

import runyard
from conftest import cli, write

pytest.importorskip("jinja2")

TRAIN = '''
import os, sys
lr = 0.1
units = 64
print(f"lr={lr} units={units}")
for step in range(1, 4):
    print(f"step: {step}")
    print(f"loss: {1.0 / (step * lr * 10):.4f}")
os.makedirs("plots", exist_ok=True)
with open("plots/curve.png", "wb") as f:
    f.write(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cf000000030101009a0b2bd30000000049454e44ae426082"))
print("done <b>bold</b>", file=sys.stderr)
'''
XSS = "<script>alert(1)</script>"


@pytest.fixture
def two_runs(project):
    write(project / "train.py", TRAIN)
    a = runyard.run("train.py", echo=False, label=XSS).iloc[0]["id"]
    b = runyard.run("train.py", {"lr": 0.05, "units": 128}, echo=False).iloc[0]["id"]
    return a, b


def _scripts(html: str) -> list[str]:
    return re.findall(r"<script>(.*?)</script>", html, re.S)


def test_run_report_is_one_self_contained_file(two_runs, project):
    a, _ = two_runs
    path = Path(runyard.view_run_report(a, open=False))
    assert path.is_file() and path.suffix == ".html" and path.parent == project / ".guild" / "cache" / "reports"
    html = path.read_text()
    # nothing to fetch: no external scripts, styles or images
    assert not re.search(r"""(src|href)=["']?(https?:|//|/static|/files)""", html)
    assert "<link" not in html.replace('<link rel="icon" href="data:,">', "")
    assert "uPlot" in html  # the chart library is inlined
    # the run's image, inlined
    png = (project / ".guild" / "runs" / a / "plots" / "curve.png").read_bytes()
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in html
    # flags, scalars (as chart data), output, source, metadata
    assert "<td>0.1</td>" in html and "<td>64</td>" in html
    assert '"tag":"loss"' in html and '"steps":[1,2,3]' in html
    assert "lr=0.1 units=64" in html and "done &lt;b&gt;bold&lt;/b&gt;" in html
    assert 'class="hl"' in html and "units" in html
    assert a in html and "completed" in html
    # run text is escaped, and the page allows only its own inline scripts
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html).group(1)
    assert "default-src 'none'" in csp
    for body in _scripts(html):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_run_report_defaults_to_the_latest_run_and_refuses_many(two_runs):
    _, b = two_runs
    assert Path(runyard.view_run_report(open=False)).name == f"run-{b}.html"
    with pytest.raises(runyard.errors.UsageError, match="one run"):
        runyard.view_run_report("1:2", open=False)
    with pytest.raises(runyard.errors.SelectError):
        runyard.view_run_report("ffffffff", open=False)


def test_diff_report_shows_flags_source_and_output(two_runs):
    a, b = two_runs
    path = Path(runyard.view_runs_diff([b, a], open=False))
    html = path.read_text()
    assert path.name == f"diff-{a[:8]}-{b[:8]}.html"  # older run first, whatever the order given
    assert html.index(a[:8]) < html.index(b[:8])
    assert "lr = 0.1" in html and "lr = 0.05" in html
    assert "lr=0.1 units=64" in html and "lr=0.05 units=128" in html
    assert 'class="st changed">changed</span><span>train.py' in html
    assert XSS not in html
    assert not re.search(r"""(src|href)=["']?(https?:|//|/static)""", html)
    assert Path(runyard.view_runs_diff(open=False)) == path  # default: the latest two


def test_diff_report_needs_exactly_two_runs(two_runs):
    a, _ = two_runs
    with pytest.raises(runyard.errors.UsageError, match="exactly two runs"):
        runyard.view_runs_diff(a, open=False)


def test_report_and_diff_commands_print_paths(two_runs, project):
    r = cli("report", "--no-open", cwd=project)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).is_file()
    r = cli("diff", "--html", "--no-open", cwd=project)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).name.startswith("diff-")
    r = cli("report", "zzzzzzzz", "--no-open", cwd=project)
    assert r.returncode != 0 and r.stderr.startswith("runyard:")


def test_notebook_display_is_a_sandboxed_iframe(two_runs):
    from runyard.report import inline_iframe

    html = Path(runyard.view_run_report(open=False)).read_text()
    frame = inline_iframe(html)
    assert frame.startswith('<iframe srcdoc="') and 'sandbox="allow-scripts"' in frame
    assert "<script>" not in frame  # all of the report is escaped into the attribute
