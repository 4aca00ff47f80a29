"""In a browser: ``view`` (the web view) and ``report``."""

from __future__ import annotations

import click

from ..terminal import echo as _echo
from . import _Filtered, _one, _selection, main


@main.command("view", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--host", default="127.0.0.1", metavar="ADDRESS", show_default=True,
              help="Address to listen on (anything but loopback requires the printed token).")
@click.option("--port", "-p", type=int, metavar="PORT", help="Port to listen on (default: a free one).")
@click.option("--no-open", "-n", is_flag=True, help="Don't open a browser.")
def view_cmd(runs: tuple, host: str, port: int | None, no_open: bool, filters: dict) -> None:
    """Browse, compare and manage runs in the web view (until Ctrl-C)."""
    from ..web.server import serve

    sel, filters = _selection(runs, filters)
    serve(sel, host=host, port=port, open=not no_open, echo=_echo, **filters)


@main.command("report", cls=_Filtered)
@click.argument("run", required=False)
@click.option("--no-open", "-n", is_flag=True, help="Don't open the report in a browser.")
def report_cmd(run: str | None, no_open: bool, filters: dict) -> None:
    """Write a self-contained HTML report of RUN (default: the latest), print its path and open it."""
    from ..report import view_run_report

    r = _one(run, filters)
    _echo(view_run_report(r["id"], open=not no_open))


