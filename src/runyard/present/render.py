"""Jinja rendering shared by the web view (assets linked) and the reports (assets inlined)."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

from . import formatting as F
from .highlight import highlight_css
from .jsonenc import json_for_html

_PKG = Path(__file__).parent.parent  # (the files stay where they are packaged: web/static, web/templates, report/templates)
STATIC = _PKG / "web" / "static"
TEMPLATES = _PKG / "web" / "templates"
REPORT_TEMPLATES = _PKG / "report" / "templates"


@lru_cache(maxsize=None)
def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(TEMPLATES), str(REPORT_TEMPLATES)]),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["fmt_time"] = F.fmt_time
    env.filters["fmt_number"] = F.fmt_number
    env.filters["fmt_value"] = F.fmt_value
    env.filters["fmt_size"] = F.fmt_size
    env.filters["json_html"] = lambda v: Markup(json_for_html(v))
    return env


def static_version() -> str:
    """Changes whenever a static file changes (cache busting for ``/static`` URLs)."""
    h = hashlib.md5()
    for p in sorted(STATIC.rglob("*")):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.name}{st.st_size}{st.st_mtime_ns}".encode())
    return h.hexdigest()[:10]


@lru_cache(maxsize=None)
def _read_static(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def _inline_css(name: str) -> str:
    return _read_static(name).replace("</", "<\\/")


@lru_cache(maxsize=None)
def _inline_js(name: str) -> str:
    return _read_static(name).replace("</script", "<\\/script")


@lru_cache(maxsize=None)
def _script_hash(name: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(_inline_js(name).encode("utf-8")).digest()).decode()


class Renderer:
    """Renders templates; ``inline=True`` puts CSS and JS inside the page (self-contained reports)."""

    def __init__(self, inline: bool = False, version: str = ""):
        self.inline = inline
        self.version = version or static_version()

    def css(self, name: str) -> Markup:
        if name == "hl.css":
            text = highlight_css()
            if self.inline:
                return Markup("<style>") + Markup(text.replace("</", "<\\/")) + Markup("</style>")
            return Markup(f'<link rel="stylesheet" href="/static/hl.css?v={self.version}">')
        if self.inline:
            return Markup("<style>") + Markup(_inline_css(name)) + Markup("</style>")
        return Markup(f'<link rel="stylesheet" href="/static/{name}?v={self.version}">')

    def js(self, name: str) -> Markup:
        if self.inline:
            return Markup("<script>") + Markup(_inline_js(name)) + Markup("</script>")
        return Markup(f'<script src="/static/{name}?v={self.version}"></script>')

    def render_embedded(self, template: str, **ctx: Any) -> tuple[str, list[str]]:
        """The page with its CSS and scripts inside it (drawn without waiting for another request),
        and the ``sha256-...`` hashes of those scripts for its Content-Security-Policy."""
        hashes: list[str] = []

        def js(name: str) -> Markup:
            text = _inline_js(name)
            hashes.append(_script_hash(name))
            return Markup("<script>") + Markup(text) + Markup("</script>")

        def css(name: str) -> Markup:
            return self.css(name) if name == "hl.css" else Markup("<style>") + Markup(_inline_css(name)) + Markup("</style>")

        return self.render(template, css=css, js=js, **ctx), hashes

    def warm(self, *templates: str) -> None:
        """Compile ``templates`` now (the first page otherwise waits ~50 ms for Jinja)."""
        for t in templates:
            _env().get_template(t)

    def render(self, template: str, **ctx: Any) -> str:
        ctx.setdefault("inline", self.inline)
        ctx.setdefault("css", self.css)
        ctx.setdefault("js", self.js)
        html = _env().get_template(template).render(**ctx)
        if self.inline:
            html = _add_report_csp(html)
        return html


_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _add_report_csp(html: str) -> str:
    """A Content-Security-Policy meta tag allowing exactly the page's own inline scripts."""
    hashes = []
    for m in _SCRIPT.finditer(html):
        digest = base64.b64encode(hashlib.sha256(m.group(1).encode("utf-8")).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    csp = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
           f"script-src {' '.join(hashes) or chr(39) + 'none' + chr(39)}; base-uri 'none'; form-action 'none'")
    tag = f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
    return html.replace("<!--csp-->", tag, 1)
