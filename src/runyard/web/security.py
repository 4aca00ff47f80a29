"""The web view's guard: Host, Origin and token checks, and security headers on every response.

- Bound to a loopback address, the server answers only requests whose ``Host`` is that address
  (no DNS rebinding); a state-changing request (anything but GET/HEAD/OPTIONS) must come from the
  server's own origin and carry the per-server token in the ``X-Runyard-Token`` header.
- Bound to any other address, *every* request needs the token: the URL printed at start-up
  carries ``?token=...``, which the server trades for a cookie (``HttpOnly``, ``SameSite=Strict``)
  and a redirect to the same URL without it.
- Run files (``/files/...``) are served under a ``sandbox`` content security policy, so an HTML
  or SVG file a run wrote cannot run script with the view's origin.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
TOKEN_HEADER = "x-runyard-token"

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; frame-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")


def page_csp(script_hashes: list[str]) -> str:
    """:data:`PAGE_CSP` also allowing the inline scripts with these ``sha256-...`` hashes (the
    view's own scripts, put inside a page that must draw without another request)."""
    if not script_hashes:
        return PAGE_CSP
    allowed = " ".join(f"'{h}'" for h in script_hashes)
    return PAGE_CSP.replace("script-src 'self';", f"script-src 'self' {allowed};", 1)


FILE_CSP = ("sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; "
            "frame-ancestors 'self'")


def new_token() -> str:
    """A fresh random token (32 bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses."""
    h = host.strip("[]")
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def loopback_hosts(port: int) -> set[str]:
    """The ``Host`` header values a loopback server accepts."""
    return {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}


class Guard:
    """ASGI middleware enforcing the rules in this module's docstring."""

    def __init__(self, app: Any, token: str, allowed_hosts: set[str] | None, token_always: bool,
                 cookie_name: str = "runyard_token"):
        self.app = app
        self.token = token
        self.allowed_hosts = allowed_hosts
        self.token_always = token_always
        self.cookie_name = cookie_name

    def _ok(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(value.encode(), self.token.encode())

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = scope.get("method", "GET").upper()
        host = headers.get("host", "")
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            await _plain(send, 403, "Refused: unexpected Host header (this server answers only on its own address).")
            return
        cookie_token = None
        if "cookie" in headers:
            c = SimpleCookie()
            try:
                c.load(headers["cookie"])
            except Exception:  # noqa: BLE001 - a malformed cookie header counts as none
                c = SimpleCookie()
            if self.cookie_name in c:
                cookie_token = c[self.cookie_name].value
        header_token = headers.get(TOKEN_HEADER)
        query = scope.get("query_string", b"").decode("latin-1")
        if self.token_always and not (self._ok(header_token) or self._ok(cookie_token)):
            pairs = parse_qsl(query, keep_blank_values=True)
            given = next((v for k, v in pairs if k == "token"), None)
            if self._ok(given) and method in SAFE_METHODS:
                rest = urlencode([(k, v) for k, v in pairs if k != "token"])
                location = "/" + quote(scope.get("path", "/").lstrip("/")) + (f"?{rest}" if rest else "")
                cookie = (f"{self.cookie_name}={self.token}; Path=/; HttpOnly; SameSite=Strict")
                await _redirect(send, location, cookie)
                return
            await _plain(send, 401, "This runyard view needs its token: open the URL that 'runyard view' printed "
                                    "(it ends with ?token=...).")
            return
        if method not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
                await _plain(send, 403, "Refused: request from another origin.")
                return
            site = headers.get("sec-fetch-site")
            if site is not None and site not in ("same-origin", "none"):
                await _plain(send, 403, "Refused: cross-site request.")
                return
            if not self._ok(header_token):
                await _plain(send, 403, "Refused: missing or wrong X-Runyard-Token header.")
                return
        is_file = scope.get("path", "").startswith("/files/")

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                hs = list(message.get("headers", []))
                names = {k.lower() for k, _ in hs}
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"cross-origin-opener-policy", b"same-origin"),
                         (b"cross-origin-resource-policy", b"same-origin")]
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", (FILE_CSP if is_file else PAGE_CSP).encode()))
                if b"x-frame-options" not in names:
                    extra.append((b"x-frame-options", b"SAMEORIGIN"))
                message = {**message, "headers": hs + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _plain(send: Any, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"x-content-type-options", b"nosniff"),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Any, location: str, cookie: str) -> None:
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location.encode("latin-1")), (b"set-cookie", cookie.encode("latin-1")),
                            (b"content-length", b"0"), (b"cache-control", b"no-store"),
                            (b"referrer-policy", b"no-referrer")]})
    await send({"type": "http.response.body", "body": b""})
