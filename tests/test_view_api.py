"""Issue 6: the web view's JSON API, pages and safety rules, over real runs made by runyard.run."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
import warnings
from urllib.parse import urlsplit

import pytest

import runyard
from conftest import write

pytest.importorskip("starlette")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # starlette asks for httpx2; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from runyard.present.series import downsample  # noqa: E402
from runyard.web.app import create_app  # noqa: E402

TRAIN = '''
import os, sys
lr = 0.1
units = 64
label_text = "x"
print(f"lr={lr} units={units}")
for step in range(1, 6):
    print(f"step: {step}")
    print(f"loss: {1.0 / (step * lr * 10):.4f}")
os.makedirs("plots", exist_ok=True)
with open("plots/curve.svg", "w") as f:
    f.write('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><script>alert(1)</script></svg>')
with open("metrics.csv", "w") as f:
    f.write("step,loss\\n1,0.5\\n2,0.25\\n")
with open("page.html", "w") as f:
    f.write("<script>alert(1)</script>")
print("test_accuracy: 0.875", file=sys.stderr)
'''

XSS = "<script>alert(1)</script>"
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def runs(project):
    """Two completed runs: A (lr=0.1, label is an XSS attempt) and B (lr=0.05, units=128)."""
    write(project / "train.py", TRAIN)
    a = runyard.run("train.py", echo=False, label=XSS)
    b = runyard.run("train.py", {"lr": 0.05, "units": 128}, echo=False)
    return a.iloc[0]["id"], b.iloc[0]["id"]


@pytest.fixture
def client(runs):
    app = create_app(port=PORT)
    with TestClient(app, base_url=BASE) as c:
        c.token = app.view.token
        yield c
    app.view.close()


def _post(c, action, body, token=True, origin=BASE, **headers):
    h = dict(headers)
    if token:
        h["X-Runyard-Token"] = c.token
    if origin:
        h["Origin"] = origin
    return c.post(f"/api/runs/{action}", json=body, headers=h)


# --- runs list ---------------------------------------------------------------------------------------

def test_runs_api_lists_runs_with_flags_and_last_scalars(client, runs):
    a, b = runs
    j = client.get("/api/runs").json()
    assert j["total"] == 2 and j["fields"][0] == "id"
    rows = {r[0]: dict(zip(j["fields"], r)) for r in j["runs"]}
    assert set(rows) == {a, b}
    assert rows[b]["flags"] == {"label_text": "x", "lr": 0.05, "units": 128}
    assert rows[b]["scalars"]["loss"] == pytest.approx(0.4, abs=1e-4)
    assert rows[a]["scalars"]["test_accuracy"] == pytest.approx(0.875)
    assert rows[a]["status"] == "completed" and rows[a]["label"] == XSS
    assert [r[0] for r in j["runs"]] == [b, a]  # newest first


def test_filter_box_takes_the_cli_filter_language(client, runs):
    a, b = runs
    j = client.get("/api/runs", params={"filter": "flag:lr < 0.08 and scalar:loss >= 0.3"}).json()
    assert [r[0] for r in j["runs"]] == [b] and j["total"] == 2
    j = client.get("/api/runs", params={"filter": "units = 64"}).json()
    assert [r[0] for r in j["runs"]] == [a]
    r = client.get("/api/runs", params={"filter": "flag:lr <"})
    assert r.status_code == 400
    assert "filter" in r.json()["error"].lower() or "expected" in r.json()["error"].lower()


def test_changes_endpoint_reports_only_what_changed(client, runs):
    a, b = runs
    v0 = client.get("/api/runs").json()["version"]
    assert client.get("/api/runs/changes", params={"since": v0}).json()["runs"] == []
    runyard.runs_tag(a, add="found-by-poll")  # a change made outside the view (e.g. the CLI)
    client.app.view.state.refresh()
    j = client.get("/api/runs/changes", params={"since": v0}).json()
    assert [r[0] for r in j["runs"]] == [a] and "found-by-poll" in j["runs"][0][7]
    assert j["version"] > v0
    runyard.runs_delete(b)
    client.app.view.state.refresh()
    j2 = client.get("/api/runs/changes", params={"since": j["version"]}).json()
    assert j2["removed"] == [b] and j2["runs"] == []


def test_runs_api_sees_a_new_run_through_the_background_refresh(client, project, runs):
    v0 = client.get("/api/runs").json()["version"]
    client.get("/api/runs/changes", params={"since": v0})  # a poll starts the refresher
    df = runyard.run("train.py", {"lr": 0.2}, echo=False)
    new = df.iloc[0]["id"]
    deadline = time.monotonic() + 10
    seen = []
    while time.monotonic() < deadline:
        seen = [r[0] for r in client.get("/api/runs/changes", params={"since": v0}).json()["runs"]]
        if new in seen:
            break
        time.sleep(0.3)
    assert new in seen


def test_filter_box_takes_plain_words_too(client, runs):
    """Issue 12: words match id prefix, label, operation and tags; expressions keep the grammar."""
    a, b = runs
    runyard.runs_tag(b, add="keeper")
    client.app.view.state.refresh()
    ids = lambda text: [r[0] for r in client.get("/api/runs", params={"filter": text}).json()["runs"]]  # noqa: E731
    assert set(ids("train")) == {a, b}  # the operation train.py
    assert ids("keeper") == [b]  # a tag
    assert ids(a[:6]) == [a]  # an id prefix
    assert ids("alert") == [a]  # in the label
    assert ids("train keeper") == [b]  # every word must match
    assert ids("nothing-like-this") == []
    assert ids("units = 64") == [a]  # still the grammar
    r = client.get("/api/runs", params={"filter": "units >"})
    assert r.status_code == 400 and "expected" in r.json()["error"]


def test_json_is_gzipped_when_the_client_accepts_it(client, runs):
    r = client.get("/api/runs", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and len(r.json()["runs"]) == 2
    raw = client.get("/api/runs", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers and raw.json() == r.json()
    page = client.get("/", headers={"Accept-Encoding": "gzip"})  # other answers over 1 KiB too
    assert page.headers.get("content-encoding") == "gzip"


def test_run_urls_name_ids_or_prefixes_never_positions(client, runs):
    a, b = runs
    r = client.get(f"/run/{a[:4]}", follow_redirects=False) if a[:4] != b[:4] else None
    if r is not None:
        assert r.status_code == 303 and r.headers["location"] == f"/run/{a}"
    r = client.get(f"/run/{b[:8]}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/run/{b}"
    for position in ("1", "2", "1:2"):
        r = client.get(f"/run/{position}")
        assert r.status_code == 404 and "at least 4 hex digits" in r.text
    assert client.get(f"/run/{a[:3]}").status_code == 404  # too short to be a stable name
    r = client.get(f"/compare?runs={a[:8]},{b[:8]}")
    assert r.status_code == 200 and a in r.text and b in r.text
    assert client.get("/compare?runs=1,2").status_code == 404
    assert client.get(f"/diff/{a[:8]}/{b[:8]}").status_code == 200


def test_status_api_gives_times_and_a_scalars_version(client, runs):
    a, _ = runs
    j = client.get(f"/api/run/{a}/status").json()
    assert j["status"] == "completed" and j["duration"] and j["stopped"] >= j["started"]
    v = j["scalars"]
    s = client.get(f"/api/run/{a}/scalars").json()
    assert s["version"] == v and s["series"]
    assert client.get(f"/api/run/{a}/scalars", params={"since": v}).json() == {"version": v, "unchanged": True}
    t = client.get(f"/api/run/{a}/scalars", params={"times": "1"}).json()["series"][0]
    assert len(t["times"]) == len(t["steps"]) and t["times"][0] > 1.7e9


# --- pages ----------------------------------------------------------------------------------------------

def test_pages_render_and_escape_run_text(client, runs):
    a, b = runs
    for url in ("/", f"/run/{a}", f"/compare?runs={a},{b}", f"/diff/{a}/{b}"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert XSS not in r.text, url
        assert r.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
        assert r.headers["x-content-type-options"] == "nosniff"
    run_page = client.get(f"/run/{a}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in run_page
    assert "<td>0.1</td>" in run_page  # the lr flag
    assert client.get("/run/" + a[:6]).url.path == f"/run/{a}"  # a unique prefix redirects
    assert client.get("/run/ffffffffffffffffffffffffffffffff").status_code == 404


def test_runs_page_carries_the_newest_runs_only_when_they_are_its_first_rows(client, runs):
    assert len(client.get("/api/runs").json()["runs"]) == 2  # (the view has listed the home)
    inline = 'id="runs-first"'
    assert inline in client.get("/").text
    assert inline in client.get("/?sort=-started").text
    # under another order or a filter the newest runs aren't the first rows: the page asks for the list
    for query in ("?sort=-scalar:loss", "?sort=started", "?filter=flag:lr%20%3E%200"):
        assert inline not in client.get("/" + query).text, query


def test_compare_page_highlights_differing_columns(client, runs):
    a, b = runs
    html = client.get(f"/compare?runs={a},{b}").text
    assert 'title="flag: lr (differs)"' in html and 'title="flag: units (differs)"' in html
    assert 'title="flag: label_text"' in html  # same in both runs: not highlighted
    assert 'title="scalar: test_accuracy"' in html


def test_diff_page_shows_flags_source_and_output_side_by_side(client, runs):
    a, b = runs
    html = client.get(f"/diff/{a}/{b}").text
    assert "lr = 0.1" in html and "lr = 0.05" in html  # the source file, each side
    assert "lr=0.1 units=64" in html and "lr=0.05 units=128" in html  # the output
    assert 'class="st changed">changed</span><span>train.py' in html


# --- run data --------------------------------------------------------------------------------------------

def test_scalars_api_gives_series_over_steps(client, runs):
    a, _ = runs
    s = {x["key"]: x for x in client.get(f"/api/run/{a}/scalars").json()["series"]}
    assert s["loss"]["steps"] == [1, 2, 3, 4, 5]
    assert s["loss"]["values"][0] == pytest.approx(1.0) and s["loss"]["downsampled"] is False


def test_long_series_are_downsampled_keeping_spikes_and_dips(project):
    write(project / "long.py", '''
for step in range(20000):
    v = 1.0 + (step % 7) * 0.01
    if step == 12345: v = 99.0
    if step == 777: v = -42.0
    print(f"step: {step}")
    print(f"loss: {v}")
''')
    rid = runyard.run("long.py", echo=False).iloc[0]["id"]
    app = create_app(port=PORT)
    with TestClient(app, base_url=BASE) as c:
        loss = c.get(f"/api/run/{rid}/scalars", params={"points": 400}).json()["series"][0]
        assert loss["downsampled"] and loss["n"] == 20000 and len(loss["steps"]) <= 402
        assert max(loss["values"]) == 99.0 and min(loss["values"]) == -42.0
        assert 12345 in loss["steps"] and loss["steps"] == sorted(loss["steps"])
        zoom = c.get(f"/api/run/{rid}/scalars",
                     params={"points": 400, "x0": 12300, "x1": 12400}).json()["series"][0]
        assert not zoom["downsampled"] and 99.0 in zoom["values"]
        assert zoom["steps"][0] >= 12299 and len(zoom["steps"]) <= 103  # the zoomed range, every point
    app.view.close()


def test_downsampling_a_million_points_keeps_min_and_max():
    import numpy as np

    steps = np.arange(1_000_000)
    values = np.sin(steps / 1000.0)
    values[654_321] = 50.0
    values[123] = -50.0
    t = time.perf_counter()
    xs, ys, down = downsample(steps, values, 2000)
    assert time.perf_counter() - t < 0.5
    assert down and len(xs) <= 2002 and max(ys) == 50.0 and min(ys) == -50.0
    assert xs[0] == 0 and xs[-1] == 999_999 and xs == sorted(xs)


def test_output_api_tails_and_pages(client, runs):
    a, _ = runs
    j = client.get(f"/api/run/{a}/output", params={"tail": 2}).json()
    assert j["status"] == "completed" and j["next"] == 12 and j["start"] == 10
    assert j["lines"][-1][1] == 1 and j["lines"][-1][2] == "test_accuracy: 0.875"  # stderr line
    j = client.get(f"/api/run/{a}/output", params={"start": 0}).json()
    assert j["lines"][0][2] == "lr=0.1 units=64" and len(j["lines"]) == 12


def test_files_api_lists_and_serves_run_files(client, runs):
    a, _ = runs
    names = {e["name"]: e for e in client.get(f"/api/run/{a}/files").json()["entries"]}
    assert {"train.py", "plots", "metrics.csv", ".guild"} <= set(names) and names["plots"]["dir"]
    assert [e["name"] for e in client.get(f"/api/run/{a}/files", params={"path": "plots"}).json()["entries"]] == \
        ["curve.svg"]
    r = client.get(f"/files/{a}/metrics.csv")
    assert r.status_code == 200 and r.text.startswith("step,loss")
    # files a run wrote can't run script with the view's origin
    for name in ("page.html", "plots/curve.svg"):
        r = client.get(f"/files/{a}/{name}")
        assert r.status_code == 200 and r.headers["content-security-policy"].startswith("sandbox")
    assert "attachment" in client.get(f"/files/{a}/train.py", params={"download": 1}).headers["content-disposition"]


def test_source_api_highlights_manifest_files_only(client, runs):
    a, _ = runs
    j = client.get(f"/api/run/{a}/source", params={"path": "train.py"}).json()
    assert "lr" in j["html"] and 'class="hl"' in j["html"]
    assert "&lt;script&gt;" in j["html"] and "<script>" not in j["html"]
    assert client.get(f"/api/run/{a}/source", params={"path": "metrics.csv"}).status_code == 404
    assert client.get(f"/api/run/{a}/source", params={"path": "../../../etc/passwd"}).status_code == 403


# --- path traversal ----------------------------------------------------------------------------------------

@pytest.fixture
def live(runs, project):
    """A real server started by runyard.view(), a secret outside the run directory, escaping symlinks."""
    a, _ = runs
    secret = project.parent / "secret.txt"
    secret.write_text("TOP-SECRET-41")
    run_dir = project / ".guild" / "runs" / a
    os.symlink(secret, run_dir / "leak.txt")
    os.symlink(project.parent, run_dir / "leakdir")
    os.symlink(run_dir / "metrics.csv", run_dir / "inside.csv")
    url = runyard.view(open=False)
    yield url, a
    runyard.view(stop=True)


def raw_get(url: str, target: str, host: str | None = None, method: str = "GET") -> tuple[int, bytes]:
    """Send a request line exactly as given (no client-side normalization of the path)."""
    u = urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: {host or u.netloc}\r\nConnection: close\r\n\r\n"
                  .encode("latin-1"))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


TRAVERSALS = [
    "../../../../secret.txt",
    "..%2f..%2f..%2f..%2fsecret.txt",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
    "%2E%2E/%2E%2E/%2E%2E/%2E%2E/secret.txt",
    ".%2e/.%2e/.%2e/.%2e/secret.txt",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt",
    "%252e%252e/%252e%252e/%252e%252e/%252e%252e/secret.txt",
    "..%5c..%5c..%5c..%5csecret.txt",
    "..\\..\\..\\..\\secret.txt",
    "plots/../../../../../secret.txt",
    "/{secret}",
    "%2f{secret_enc}",
    "./../../../../secret.txt",
    "leak.txt",
    "leakdir/secret.txt",
    "train.py%00.png",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_files_refuse_every_traversal_form(live, project, path):
    url, a = live
    secret = str(project.parent / "secret.txt")
    path = path.format(secret=secret.lstrip("/"), secret_enc=secret.lstrip("/").replace("/", "%2f"))
    status, body = raw_get(url, f"/files/{a}/{path}")
    assert b"TOP-SECRET-41" not in body
    assert status in (400, 403, 404), (path, status)


def test_files_refuse_traversal_in_the_run_id_and_api(live, project):
    url, a = live
    for target in ("/files/..%2f..%2f..%2fsecret.txt/x", "/files/../secret.txt", f"/files/{a}/../{a}/train.py",
                   f"/api/run/{a}/files?path=../..", f"/api/run/{a}/files?path=/etc",
                   f"/api/run/{a}/files?path=leakdir", "/run/..%2f..%2fsecret.txt"):
        status, body = raw_get(url, target)
        assert b"TOP-SECRET-41" not in body
        assert status in (400, 403, 404), (target, status)


def test_files_inside_the_run_are_served(live):
    url, a = live
    status, body = raw_get(url, f"/files/{a}/inside.csv")  # a symlink that stays inside the run
    assert status == 200 and b"step,loss" in body
    status, body = raw_get(url, f"/files/{a}/plots/curve.svg")
    assert status == 200
    listing = json.loads(urllib.request.urlopen(f"{url}api/run/{a}/files").read())
    outside = {e["name"] for e in listing["entries"] if e["outside"]}
    assert outside == {"leak.txt", "leakdir"}


# --- origin, token, host -----------------------------------------------------------------------------------

def test_state_changing_requests_need_the_token_and_the_same_origin(client, runs):
    a, _ = runs
    assert _post(client, "tag", {"runs": [a], "add": ["x"]}, token=False).status_code == 403
    r = _post(client, "tag", {"runs": [a], "add": ["x"]}, origin="http://evil.example")
    assert r.status_code == 403
    r = client.post("/api/runs/tag", json={"runs": [a], "add": ["x"]},
                    headers={"X-Runyard-Token": "wrong", "Origin": BASE})
    assert r.status_code == 403
    r = _post(client, "tag", {"runs": [a], "add": ["x"]}, **{"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    assert runyard.ls_runs(a).iloc[0]["tags"] == []
    assert _post(client, "tag", {"runs": [a], "add": ["x"]}).status_code == 200
    assert runyard.ls_runs(a).iloc[0]["tags"] == ["x"]


def test_token_is_in_the_page_for_its_own_scripts(client):
    html = client.get("/").text
    assert f'<meta name="runyard-token" content="{client.token}">' in html


def test_unknown_host_header_is_refused(runs):
    app = create_app(port=PORT)
    with TestClient(app, base_url="http://attacker.example:8765") as c:
        r = c.get("/api/runs")
        assert r.status_code == 403 and "Host" in r.text
    app.view.close()


def test_non_loopback_host_needs_the_token_for_every_request(runs):
    app = create_app(host="0.0.0.0", port=PORT)
    token = app.view.token
    with TestClient(app, base_url=f"http://myhost:{PORT}", follow_redirects=False) as c:
        assert c.get("/api/runs").status_code == 401
        assert c.get("/").status_code == 401
        assert c.get("/?token=nope").status_code == 401
        r = c.get(f"/?token={token}&filter=x")
        assert r.status_code == 303 and r.headers["location"] == "/?filter=x"
        assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Strict" in r.headers["set-cookie"]
        c.cookies.set(f"runyard_token_{PORT}", token)
        assert c.get("/api/runs").status_code == 200
    with TestClient(app, base_url=f"http://myhost:{PORT}") as c2:
        assert c2.get("/api/runs", headers={"X-Runyard-Token": token}).status_code == 200
    app.view.close()


def test_view_binds_loopback_and_stops(runs):
    url = runyard.view(open=False)
    try:
        u = urlsplit(url)
        assert u.hostname == "127.0.0.1" and u.port and "token" not in url
        assert json.loads(urllib.request.urlopen(url + "api/runs").read())["total"] == 2
        # the page's own scripts get the token; other origins never see it (no CORS header)
        r = urllib.request.urlopen(url)
        assert r.headers.get("Access-Control-Allow-Origin") is None
    finally:
        assert runyard.view(stop=True) == url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "api/runs", timeout=2)


def test_view_refuses_a_busy_port(runs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(runyard.errors.UsageError, match=f"{port}.*--port"):
            runyard.view(port=port, open=False)


def test_view_with_a_bad_filter_fails_at_once(runs):
    with pytest.raises(runyard.errors.SelectError):
        runyard.view(filter="flag:lr <", open=False)


# --- actions ---------------------------------------------------------------------------------------------------

def test_actions_go_through_the_python_api(client, runs):
    a, b = runs
    assert _post(client, "tag", {"runs": [a, b], "add": ["best", "v2"]}).json()["ok"]
    assert _post(client, "tag", {"runs": [b], "remove": ["v2"]}).status_code == 200
    assert _post(client, "mark", {"runs": [a]}).status_code == 200
    assert _post(client, "label", {"runs": [b], "label": "baseline run"}).status_code == 200
    assert _post(client, "comment", {"runs": [a], "comment": "good one"}).status_code == 200
    df = runyard.ls_runs().set_index("id")
    assert df.loc[a, "tags"] == ["best", "v2"] and df.loc[b, "tags"] == ["best"]
    assert bool(df.loc[a, "marked"]) and df.loc[b, "label"] == "baseline run"
    assert [c["body"] for c in df.loc[a, "comments"]] == ["good one"]
    assert _post(client, "comment", {"runs": [a], "delete": 1}).status_code == 200
    assert runyard.ls_runs(a).iloc[0]["comments"] == []
    assert _post(client, "mark", {"runs": [a], "clear": True}).status_code == 200
    assert not runyard.ls_runs(a).iloc[0]["marked"]
    # the runs list the page polls reflects the changes at once
    j = client.get("/api/runs").json()
    row = next(r for r in j["runs"] if r[0] == b)
    assert row[6] == "baseline run"


def test_delete_and_restore(client, runs):
    a, b = runs
    assert _post(client, "delete", {"runs": [b]}).status_code == 200
    assert [r[0] for r in client.get("/api/runs").json()["runs"]] == [a]
    assert [r[0] for r in client.get("/api/runs", params={"deleted": 1}).json()["runs"]] == [b]
    html = client.get(f"/run/{b}").text
    assert "This run is deleted" in html and 'data-action="restore"' in html
    assert _post(client, "restore", {"runs": [b]}).status_code == 200
    assert {r[0] for r in client.get("/api/runs").json()["runs"]} == {a, b}


def test_actions_reject_bad_requests(client, runs):
    a, _ = runs
    assert _post(client, "tag", {"runs": ["nope-nope-nope"], "add": ["x"]}).status_code == 404
    assert _post(client, "explode", {"runs": [a]}).status_code == 404
    assert _post(client, "tag", {"runs": a}).status_code == 400
    r = _post(client, "tag", {"runs": [a]})
    assert r.status_code == 400 and "tags" in r.json()["error"]
    r = _post(client, "comment", {"runs": [a], "delete": 5})
    assert r.status_code == 400 and "no comment 5" in r.json()["error"]


def test_tensorboard_button_needs_the_token(client, runs):
    a, _ = runs
    r = client.post("/api/tensorboard", json={"runs": [a]}, headers={"Origin": BASE})
    assert r.status_code == 403
    from runyard.web.tensorboard import available

    assert ('id="btn-tb"' in client.get("/").text) == available()


def test_tensorboard_starts_on_the_selected_runs(client, runs):
    from runyard.web.tensorboard import available

    if not available():
        pytest.skip("tensorboard is not installed")
    a, _ = runs
    r = _post_json(client, "/api/tensorboard", {"runs": [a]})
    assert r.status_code == 200
    url = r.json()["url"]
    assert urllib.request.urlopen(url, timeout=10).status == 200


def _post_json(c, path, body):
    return c.post(path, json=body, headers={"X-Runyard-Token": c.token, "Origin": BASE})


def test_view_command_serves_until_interrupted(runs, project):
    import signal
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([sys.executable, "-m", "runyard.cli", "view", "--no-open", "--port", str(port),
                          "-F", "units = 64"], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith(f"Running runyard view at http://127.0.0.1:{port}/"), line + p.stderr.read()
        j = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=10).read())
        assert [r[0] for r in j["runs"]] == [runs[0]]  # the filter given on the command line
    finally:
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=10)
    assert p.returncode in (0, 130)
