"""Starting and stopping the web view: :func:`view` (background thread) and :func:`serve` (foreground)."""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Any

from ..errors import UsageError
from .security import is_loopback

_current: "Server | None" = None
_lock = threading.Lock()


class Server:
    """A view server running in a background thread (see :func:`start`)."""

    def __init__(self, server: Any, thread: threading.Thread, app: Any, url: str):
        self.server = server
        self.thread = thread
        self.app = app
        self.url = url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end."""
        self.server.should_exit = True
        self.thread.join(timeout)
        self.app.view.close()


def _bind(host: str, port: int | None) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port or 0))
    except OSError as e:
        sock.close()
        if port:
            raise UsageError(f"cannot listen on {host}:{port} ({e.strerror}); choose another port with --port") \
                from None
        raise UsageError(f"cannot listen on {host} ({e.strerror})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int, token: str, loopback: bool) -> str:
    shown = host
    if host in ("0.0.0.0", "::", ""):
        shown = socket.gethostname()
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    base = f"http://{shown}:{port}/"
    return base if loopback else f"{base}?token={token}"


def _build(runs: Any, host: str, port: int | None, filters: dict) -> tuple[Any, Any, socket.socket, str]:
    import uvicorn

    from .app import create_app

    sock = _bind(host, port)
    real_port = sock.getsockname()[1]
    app = create_app(runs, filters, host=host, port=real_port)
    cfg = app.view
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30,
                            server_header=False)
    server = uvicorn.Server(config)
    url = _url(host, real_port, cfg.token, cfg.loopback)
    return server, app, sock, url


def _check_filters(runs: Any, filters: dict) -> None:
    """Fail at once (not in the server) on a bad selector or filter. Without a selector this
    only compiles the filters: listing a big home may take a while, and the view shows its
    progress instead of making the user wait for a first page."""
    from .. import api
    from ..select.runs import Filters

    if runs is None:
        Filters.from_kwargs(**dict(filters)).predicate()
        return
    api._records(runs, (), dict(filters))


def start(runs: Any = None, host: str = "127.0.0.1", port: int | None = None, **filters: Any) -> Server:
    """Start a view server in a background thread and return it once it accepts connections.

    Independent of :func:`view` (which keeps one current server); stop it with ``.stop()``.
    """
    _check_filters(runs, filters)
    server, app, sock, url = _build(runs, host, port, filters)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="runyard-view", daemon=True)
    thread.start()
    end = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < end:
        time.sleep(0.01)
    if not server.started:
        server.should_exit = True
        sock.close()
        raise UsageError("the web view did not start")
    return Server(server, thread, app, url)


def view(runs: Any = None, host: str = "127.0.0.1", port: int | None = None, open: bool = True,
         stop: bool = False, **filters: Any) -> str:
    """Start the web view in the background and return its URL (``stop=True`` stops it).

    ``runs`` and ``filters`` choose the runs shown, as in :func:`runyard.ls_runs`. The server
    binds ``host`` (loopback by default) on ``port`` (a free one by default); on a non-loopback
    host the URL carries the token every request needs. Calling ``view`` again replaces the
    running server; ``view(stop=True)`` stops it and returns its URL.
    """
    global _current
    with _lock:
        if _current is not None:
            old = _current
            _current = None
            old.stop()
            if stop:
                return old.url
        if stop:
            return ""
        _current = start(runs, host, port, **filters)
        srv = _current
    srv.app.view.state.load_in_background()  # warm the runs list while the browser starts
    if open:
        _open(srv.url)
    return srv.url


def current_url() -> str:
    """The URL of the view started by :func:`view`, or ``""``."""
    return _current.url if _current is not None else ""


def _open(url: str) -> None:
    import webbrowser

    try:
        webbrowser.open(url)
    except Exception:  # noqa: BLE001 - no browser is fine; the URL is printed/returned
        pass


def serve(runs: Any = None, host: str = "127.0.0.1", port: int | None = None, open: bool = True,
          echo: Any = None, **filters: Any) -> None:
    """Run the web view in the foreground until Ctrl-C (``runyard view``)."""
    _check_filters(runs, filters)
    server, app, sock, url = _build(runs, host, port, filters)
    say = echo or (lambda text: print(text, file=sys.stderr, flush=True))
    say(f"Running runyard view at {url} (Type Ctrl-C to quit)")
    if not is_loopback(host):
        say("Anyone who can reach this address and has the URL (with its token) can see and change your runs.")
    app.view.state.load_in_background()  # the runs page shows "indexing N runs" meanwhile
    if open:
        threading.Timer(0.3, _open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    finally:
        app.view.close()
        sock.close()
