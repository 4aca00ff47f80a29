"""The web view's Starlette application: pages, a JSON API over :mod:`runyard.api`, run files.

Pages: ``/`` (runs), ``/run/<id>``, ``/compare?runs=a,b,...``, ``/diff/<a>/<b>``.
API: ``/api/runs`` (+ ``/api/runs/changes?since=V`` for live updates), ``/api/run/<id>/{scalars,
output,files,source}``, ``/api/scalars?runs=...``, ``POST /api/runs/<action>`` (tag, mark, label,
comment, delete, restore), ``POST /api/tensorboard``. Files: ``/files/<run-id>/<path>``.
"""

from __future__ import annotations

import errno
import mimetypes
import re
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import RunyardError, SelectError, UsageError
from ..present import files as runfiles
from ..present import formatting as F
from ..present import highlight as hl
from ..present import lookup
from ..present import pages
from ..present import series as runseries
from ..present.jsonenc import dumps
from ..present.render import STATIC, Renderer
from ..store.paths import PathRefused, resolve_in_run, safe_relpath
from .files import list_dir
from .live import RunsState
from .output import output as run_output
from .security import Guard, is_loopback, loopback_hosts, new_token, page_csp
from .tensorboard import TensorBoard, available as tensorboard_available

MAX_COMPARE = 200
FIRST_ROWS = 200  # runs sent with the runs page; the whole list follows
# percent-encoded dot, slash, backslash and NUL in a /files/ URL
_ENCODED = re.compile(rb"%(2e|2f|5c|00)", re.I)


class ViewConfig:
    """What one view server shows and how it is protected."""

    def __init__(self, runs: Any = None, filters: dict | None = None, token: str | None = None,
                 host: str = "127.0.0.1", port: int | None = None, allowed_hosts: set[str] | None = None,
                 token_always: bool | None = None):
        self.runs = runs
        self.filters = dict(filters or {})
        self.token = token or new_token()
        self.host = host
        self.port = port
        self.loopback = is_loopback(host)
        self.token_always = (not self.loopback) if token_always is None else token_always
        if allowed_hosts is None and self.loopback and port:
            allowed_hosts = loopback_hosts(port)
        self.allowed_hosts = allowed_hosts
        self.state = RunsState(runs, self.filters)
        self._trash: RunsState | None = None
        self.tensorboard = TensorBoard("127.0.0.1")
        self.renderer = Renderer()
        self.home = lookup.home()

    @property
    def trash(self) -> RunsState:
        if self._trash is None:
            self._trash = RunsState(self.runs, self.filters, deleted=True)
        return self._trash

    def close(self) -> None:
        self.state.close()
        if self._trash is not None:
            self._trash.close()
        self.tensorboard.stop()


# --- helpers -------------------------------------------------------------------------------------------

def _json(obj: Any, status: int = 200) -> Response:
    return Response(dumps(obj), status_code=status, media_type="application/json",
                    headers={"cache-control": "no-store"})


# The one place where an error becomes an HTTP status (first match wins). Every error a
# request can cause is a RunyardError or an OSError; anything else is a bug (a plain 500).
_ERROR_STATUS = ((PathRefused, 403), (SelectError, 404), (UsageError, 400), (RunyardError, 500))
_OSERROR_STATUS = {errno.ENOENT: 404, errno.ENOTDIR: 404, errno.ENAMETOOLONG: 404, errno.ELOOP: 404,
                   errno.EISDIR: 404, errno.EACCES: 403, errno.EPERM: 403}


def _error_status(e: Exception) -> int:
    for cls, status in _ERROR_STATUS:
        if isinstance(e, cls):
            return status
    if isinstance(e, OSError):
        return _OSERROR_STATUS.get(e.errno, 500)
    return 500


def _cfg(request: Request) -> ViewConfig:
    return request.app.state.view


def _page(request: Request, template: str, status: int = 200, embed: bool = False, **ctx: Any) -> HTMLResponse:
    """A page; ``embed``: with its CSS and scripts inside it (no request before its first paint)."""
    cfg = _cfg(request)
    ctx.setdefault("token", cfg.token)
    ctx.setdefault("home", str(cfg.home))
    ctx.setdefault("tensorboard", tensorboard_available() and cfg.loopback)
    headers = {"cache-control": "no-store"}
    if embed:
        html, hashes = cfg.renderer.render_embedded(template, **ctx)
        headers["content-security-policy"] = page_csp(hashes)
    else:
        html = cfg.renderer.render(template, **ctx)
    return HTMLResponse(html, status_code=status, headers=headers)


def _record(cfg: ViewConfig, run_id: str) -> dict:
    rec = cfg.state.by_id.get(run_id)
    if rec is not None and "summary" in rec:
        return rec
    return lookup.run_record(run_id)


def _run_dir(run_id: str) -> Path:
    loc = lookup.run_location(run_id)
    if loc is None:
        raise SelectError(f"no run with id '{run_id}'")
    return loc[0]


def _int(value: str | None, default: int | None, lo: int | None = None, hi: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise UsageError(f"not a whole number: '{value}'") from None
    if abs(n) > 2**53:  # (beyond what JSON numbers hold exactly)
        raise UsageError(f"number out of range: '{value}'")
    if lo is not None:
        n = max(lo, n)
    if hi is not None:
        n = min(hi, n)
    return n


def _float(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"not a number: '{value}'") from None


def _ids_param(text: str | None) -> list[str]:
    return [p for p in re.split(r"[,\s]+", text or "") if p]


# --- pages ---------------------------------------------------------------------------------------------

async def runs_page(request: Request) -> Response:
    deleted = request.query_params.get("deleted") in ("1", "true", "yes")
    state = _cfg(request).trash if deleted else _cfg(request).state
    # the newest runs come with the page (no round trip before the first rows); the rest follow.
    # (Not under a filter or another order: the newest runs would not be the first rows then.)
    q = request.query_params
    first = state.first_rows(FIRST_ROWS, "compact") \
        if state.refreshed_at and not q.get("filter") and q.get("sort", "-started") == "-started" else None
    return _page(request, "runs.html", embed=True, deleted=deleted, page="runs", max_compare=MAX_COMPARE,
                 first_rows=first)


def _known(cfg: ViewConfig) -> list[dict] | None:
    """The view's cached runs (for id prefixes), or None before the first listing is done."""
    return cfg.state.records if cfg.state.refreshed_at else None


def run_page(request: Request) -> Response:
    cfg = _cfg(request)
    run_id = request.path_params["run_id"]
    if lookup.run_location(run_id) is None:
        return RedirectResponse(f"/run/{lookup.find_run(run_id, _known(cfg))}", status_code=303)
    rec = _record(cfg, run_id)
    if rec.get("status") in ("running", "pending") or rec.get("stopped") is None:
        loc = lookup.run_location(run_id)
        rec = lookup.fresh_record(loc[0], loc[1])  # the cached copy of a live run ages: read it now
    ctx = pages.run_context(rec)
    resp = _page(request, "run.html", page="run", **ctx)
    # start reading the scalar series once the page is sent: its charts ask for them next
    resp.background = BackgroundTask(runseries.prewarm_series, Path(rec["dir"]))
    return resp


def compare_page(request: Request) -> Response:
    ids = _ids_param(request.query_params.get("runs"))
    if not ids:
        raise UsageError("choose runs to compare: /compare?runs=ID,ID,...")
    asked = len(ids)
    ids = ids[:MAX_COMPARE]  # the runs page says so before; a longer URL shows the first ones
    known = _known(_cfg(request))
    full = list(dict.fromkeys(lookup.find_run(i, known) for i in ids))
    recs = lookup.resolve(full)
    order = {rid: n for n, rid in enumerate(full)}
    recs.sort(key=lambda r: order.get(r["id"], 0))
    ctx = pages.compare_context(recs)
    grouped = request.query_params.get("group") == "seeds"  # "group seeds": one row per group of runs
    if grouped:
        g = pages.compare_groups_context(recs)
        ctx.update(cols=g["cols"], rows=g["rows"], groups=g["groups"], tq=g["tq"], ci=g["ci"],
                   seed_flags=g["seed_flags"])
    return _page(request, "compare.html", page="compare", run_ids=[r["id"] for r in recs], asked=asked,
                 max_compare=MAX_COMPARE, grouped=grouped, statuses=[r.get("status") for r in recs], **ctx)


def diff_page(request: Request) -> Response:
    known = _known(_cfg(request))
    a, b = lookup.find_run(request.path_params["a"], known), lookup.find_run(request.path_params["b"], known)
    ra, rb = lookup.resolve([a]), lookup.resolve([b])
    if len(ra) != 1 or len(rb) != 1:
        bad = a if len(ra) != 1 else b
        raise SelectError(f"'{bad}' does not name exactly one run")
    ctx = pages.diff_context(ra[0], rb[0])
    return _page(request, "diff.html", page="diff", **ctx)


# --- API -----------------------------------------------------------------------------------------------

def api_runs(request: Request) -> Response:
    cfg = _cfg(request)
    q = request.query_params
    state = cfg.trash if q.get("deleted") in ("1", "true") else cfg.state
    if not state.ready(wait=0.4):  # a first listing of a big home: say how far it got
        return _indexing(state)
    headers = {"cache-control": "no-store"}
    limit = _int(q.get("limit"), None, 1)
    form = q.get("form") or "rows"
    if form not in ("rows", "compact"):
        return _json({"error": f"unknown form '{form}': rows or compact"}, 400)
    try:
        if limit and not q.get("filter"):
            return Response(state.first_rows(limit, form), media_type="application/json", headers=headers)
        if not q.get("filter") and "gzip" in request.headers.get("accept-encoding", ""):
            headers.update({"content-encoding": "gzip", "vary": "Accept-Encoding"})
            return Response(state.snapshot_gzip(form), media_type="application/json", headers=headers)
        body = state.snapshot(q.get("filter"), form)
    except SelectError as e:  # a bad filter: the user's input, not a missing thing
        return _json({"error": str(e)}, 400)
    return Response(body, media_type="application/json", headers=headers)


def _indexing(state: RunsState) -> Response:
    done, total = state.progress or (0, 0)
    return _json({"indexing": {"done": done, "total": total}}, 202)


def api_runs_changes(request: Request) -> Response:
    cfg = _cfg(request)
    q = request.query_params
    state = cfg.trash if q.get("deleted") in ("1", "true") else cfg.state
    since = _int(q.get("since"), 0) or 0
    if not state.ready():
        return _indexing(state)
    try:
        return _json(state.changes(since, q.get("filter")))
    except SelectError as e:
        return _json({"error": str(e)}, 400)


def api_run_scalars(request: Request) -> Response:
    run_dir = _run_dir(request.path_params["run_id"])
    q = request.query_params
    points = _int(q.get("points"), 2000, 10, 200000) or 2000
    keys = q.getlist("key") or None
    version = runseries.series_version(run_dir)
    if q.get("since") and q.get("since") == version:  # a live chart asking "anything new?"
        return _json({"version": version, "unchanged": True})
    series = runseries.series_json(run_dir, points, _float(q.get("x0")), _float(q.get("x1")), keys,
                           times=q.get("times") in ("1", "true"))
    return _json({"series": series, "version": version})


def api_scalars(request: Request) -> Response:
    from ..store.run import status_of

    ids = _ids_param(request.query_params.get("runs"))[:MAX_COMPARE]
    points = _int(request.query_params.get("points"), 1000, 10, 20000) or 1000
    times = request.query_params.get("times") in ("1", "true")
    out = []
    for rid in ids:
        loc = lookup.run_location(rid)
        if loc is None:
            continue
        out.append({"id": rid, "status": status_of(loc[0]), "version": runseries.series_version(loc[0]),
                    "series": runseries.series_json(loc[0], points, times=times)})
    return _json({"runs": out})


def api_run_output(request: Request) -> Response:
    from ..store.run import status_of

    run_dir = _run_dir(request.path_params["run_id"])
    q = request.query_params
    out = run_output(run_dir, _int(q.get("start"), 0, 0) or 0, _int(q.get("tail"), None, 1, 1_000_000))
    out["status"] = status_of(run_dir)
    return _json(out)


def api_run_status(request: Request) -> Response:
    from ..store.run import status_of

    from ..store.run import Run

    run_dir = _run_dir(request.path_params["run_id"])
    run = Run(run_dir)
    status = status_of(run_dir)
    started, stopped = run.get("started"), run.get("stopped")
    return _json({"status": status, "started": started, "stopped": stopped, "exit_status": run.get("exit_status"),
                  "duration": F.fmt_duration(started, stopped, status), "scalars": runseries.series_version(run_dir)})


def api_run_files(request: Request) -> Response:
    run_dir = _run_dir(request.path_params["run_id"])
    rel = request.query_params.get("path", "")
    return _json({"path": safe_relpath(rel), "entries": list_dir(run_dir, rel)})


def api_run_source(request: Request) -> Response:
    run_dir = _run_dir(request.path_params["run_id"])
    rel = safe_relpath(request.query_params.get("path", ""))
    if rel not in runfiles.source_files(run_dir):
        raise SelectError(f"'{rel}' is not a source file of this run")
    path = resolve_in_run(run_dir, rel)
    if not path.is_file():
        raise SelectError(f"source file '{rel}' is missing from the run directory")
    text, cut = runfiles.read_text(path)
    return _json({"path": rel, "html": hl.highlight(rel, text), "truncated": cut})


_ACTIONS = ("tag", "mark", "label", "comment", "delete", "restore")


async def api_action(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    action = request.path_params["action"]
    if action not in _ACTIONS:
        raise SelectError(f"unknown action '{action}'")
    body = await _body(request)
    ids = body.get("runs")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise UsageError("'runs' must be a list of run ids")
    for rid in ids:
        if lookup.run_location(rid) is None:
            raise SelectError(f"no run with id '{rid}'")
    return await run_in_threadpool(_do_action, _cfg(request), action, ids, body)


#: The largest request body the view reads (a comment or a long list of run ids fits easily).
MAX_BODY = 4 * 1024 * 1024


async def _body(request: Request) -> dict:
    """A POST request's JSON object: at most MAX_BODY bytes, nested at most 100 levels (400 if not)."""
    from ..safedata import load_json

    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            break
    body = load_json(bytes(data), "the request body", max_bytes=MAX_BODY)
    if not isinstance(body, dict):
        raise UsageError("the request body must be a JSON object")
    return body


def _strs(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return v
    raise UsageError("expected a string or a list of strings")


def _do_action(cfg: ViewConfig, action: str, ids: list[str], body: dict) -> Response:
    from .. import api

    clear = bool(body.get("clear"))
    if action == "tag":
        add = [t.strip() for t in _strs(body.get("add")) if t.strip()]
        remove = _strs(body.get("remove"))
        api.runs_tag(ids, add=add, remove=remove, clear=clear)
    elif action == "mark":
        api.runs_mark(ids, clear=clear)
    elif action == "label":
        label = body.get("label")
        if label is not None and not isinstance(label, str):
            raise UsageError("'label' must be a string")
        api.runs_label(ids, label=label if label else None, clear=clear or not label)
    elif action == "comment":
        comment, delete = body.get("comment"), body.get("delete")
        if comment is not None and not isinstance(comment, str):
            raise UsageError("'comment' must be a string")
        if delete is not None and not isinstance(delete, int):
            raise UsageError("'delete' must be a comment number")
        api.runs_comment(ids, comment=comment or None, delete=delete, clear=clear)
    elif action == "delete":
        api.runs_delete(ids)
    elif action == "restore":
        api.runs_restore(ids)
    cfg.state.refresh()
    if cfg._trash is not None:
        cfg._trash.refresh()
    return _json({"ok": True, "runs": ids, "version": cfg.state.version})


async def api_tensorboard(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    cfg = _cfg(request)
    if not cfg.loopback:
        raise UsageError("TensorBoard is offered only when the view listens on a loopback address")
    body = await _body(request)
    ids = body.get("runs")
    if not isinstance(ids, list) or not ids:
        raise UsageError("'runs' must be a list of run ids")
    runs = []
    for rid in ids[:MAX_COMPARE]:
        loc = lookup.run_location(str(rid))
        if loc is None:
            raise SelectError(f"no run with id '{rid}'")
        rec = cfg.state.by_id.get(rid) or {}
        runs.append((rid, loc[0], rec.get("operation") or "run"))
    url = await run_in_threadpool(cfg.tensorboard.start, runs)
    return _json({"url": url})


# --- files -----------------------------------------------------------------------------------------------

def run_file(request: Request) -> Response:
    raw = request.scope.get("raw_path") or request.scope.get("path", "").encode()
    if _ENCODED.search(raw):
        raise PathRefused("encoded '.', '/', backslash or NUL are not allowed in file paths")
    run_id = request.path_params["run_id"]
    rel = request.path_params["path"]
    loc = lookup.run_location(run_id)
    if loc is None:
        raise SelectError(f"no run with id '{run_id}'")
    path = resolve_in_run(loc[0], rel)
    if not path.is_file():
        raise SelectError(f"no file '{rel}' in run {run_id[:8]}")
    ctype, _ = mimetypes.guess_type(path.name)
    if ctype is None or ctype.startswith("text/") or ctype in ("application/json", "application/x-yaml"):
        ctype = (ctype if ctype and ctype != "text/html" else "text/plain") + "; charset=utf-8"
        if path.suffix.lower() in (".html", ".htm"):
            ctype = "text/html; charset=utf-8"
    headers = {"cache-control": "no-cache"}
    if request.query_params.get("download"):
        headers["content-disposition"] = f"attachment; filename*=UTF-8''{_quote(path.name)}"
    if rel.strip("/") == ".guild/attrs/env":  # a run made by Guild AI may hold secrets there
        from ..store.archive import exported_env_attr

        public = exported_env_attr(path)
        if public is not None:
            return Response(public, media_type=ctype, headers=headers)
    return FileResponse(path, media_type=ctype, headers=headers)


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


async def highlight_css(request: Request) -> Response:
    return Response(hl.highlight_css(), media_type="text/css", headers={"cache-control": "max-age=3600"})


# --- errors ----------------------------------------------------------------------------------------------

async def _on_error(request: Request, exc: Exception) -> Response:
    status = _error_status(exc)
    msg = str(exc) if isinstance(exc, RunyardError) else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.strerror:  # (not the server's paths)
        msg = exc.strerror
    if request.url.path.startswith(("/api/", "/files/")):
        if request.url.path.startswith("/files/"):
            return Response(msg, status_code=status, media_type="text/plain; charset=utf-8")
        return _json({"error": msg}, status)
    return _page(request, "error.html", status=status, message=msg, status_code=status, page="error")


async def _not_found(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith(("/api/", "/files/")):
        return _json({"error": "not found"}, 404)
    return _page(request, "error.html", status=404, message="No such page.", status_code=404, page="error")


def create_app(runs: Any = None, filters: dict | None = None, *, token: str | None = None, host: str = "127.0.0.1",
               port: int | None = None, allowed_hosts: set[str] | None = None,
               token_always: bool | None = None) -> Any:
    """The view as an ASGI app (wrapped in the security guard).

    ``runs``/``filters`` choose the runs shown (as in ``ls_runs``). The app's config is
    ``app.view`` (token, state); ``app.view.close()`` stops its helpers.
    """
    cfg = ViewConfig(runs, filters, token, host, port, allowed_hosts, token_always)
    routes = [
        Route("/", runs_page),
        Route("/run/{run_id}", run_page),
        Route("/compare", compare_page),
        Route("/diff/{a}/{b}", diff_page),
        Route("/api/runs", api_runs),
        Route("/api/runs/changes", api_runs_changes),
        Route("/api/runs/{action}", api_action, methods=["POST"]),
        Route("/api/run/{run_id}/scalars", api_run_scalars),
        Route("/api/run/{run_id}/output", api_run_output),
        Route("/api/run/{run_id}/files", api_run_files),
        Route("/api/run/{run_id}/status", api_run_status),
        Route("/api/run/{run_id}/source", api_run_source),
        Route("/api/scalars", api_scalars),
        Route("/api/tensorboard", api_tensorboard, methods=["POST"]),
        Route("/files/{run_id}/{path:path}", run_file),
        Route("/static/hl.css", highlight_css),
        Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={RunyardError: _on_error, OSError: _on_error,
                                                       404: _not_found, 405: _not_found})
    app.state.view = cfg
    import threading

    def warm() -> None:  # what a first page would otherwise wait for: Jinja's compiles, the MIME table,
        # the runs page's assets read and hashed (~10 ms), anyio's thread pool (~30 ms of imports)
        cfg.renderer.warm("runs.html", "run.html", "compare.html", "diff.html")
        cfg.renderer.render_embedded("runs.html", token="", home="", tensorboard=False, deleted=False, page="runs",
                                     max_compare=MAX_COMPARE, first_rows=None)
        mimetypes.guess_type("app.css")
        try:
            import anyio._backends._asyncio  # noqa: F401
        except ImportError:  # (another anyio: its first request imports what it needs)
            pass

    threading.Thread(target=warm, name="runyard-view-warm", daemon=True).start()
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    guarded = Guard(app, cfg.token, cfg.allowed_hosts, cfg.token_always,
                    cookie_name=f"runyard_token_{port or 0}")
    guarded.view = cfg  # type: ignore[attr-defined]
    return guarded
