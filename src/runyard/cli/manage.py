"""Change runs: ``tag``, ``mark``, ``label``, ``comment``, ``stop``, ``export`` and ``import``."""

from __future__ import annotations

import sys

import click

from ..terminal import echo as _echo
from . import _act, _confirm, _Filtered, _fmt_time, _ids, _preview_runs, _say_none, _select_records, main


@main.command("tag", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--add", "-a", multiple=True, metavar="TAG", help="Tag to add (repeatable).")
@click.option("--delete", "-d", "remove", multiple=True, metavar="TAG", help="Tag to remove (repeatable).")
@click.option("--clear", "-c", is_flag=True, help="Remove all tags first.")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def tag_cmd(runs: tuple, add: tuple, remove: tuple, clear: bool, yes: bool, filters: dict) -> None:
    """Add or remove tags of runs."""
    from .. import api

    if not (add or remove or clear):
        from ..errors import UsageError

        raise UsageError("tag needs -a/--add, -d/--delete or -c/--clear")
    _act(runs, filters, "tag", yes,
         lambda ids, **kw: api.runs_tag(ids, list(add), remove=list(remove), clear=clear, **kw), "Tagged")


@main.command("mark", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--clear", "-c", is_flag=True, help="Unmark the runs.")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def mark_cmd(runs: tuple, clear: bool, yes: bool, filters: dict) -> None:
    """Mark runs (or unmark them with --clear)."""
    from .. import api

    _act(runs, filters, "unmark" if clear else "mark", yes,
         lambda ids, **kw: api.runs_mark(ids, clear=clear, **kw), "Unmarked" if clear else "Marked")


@main.command("label", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--set", "-s", "label", help="The new label.")
@click.option("--prepend", "-p", help="Text to put before the label.")
@click.option("--append", "-a", help="Text to put after the label.")
@click.option("--remove", "-rm", multiple=True, help="Word to remove from the label (repeatable).")
@click.option("--clear", "-c", is_flag=True, help="Remove the label.")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def label_cmd(runs: tuple, label: str | None, prepend: str | None, append: str | None, remove: tuple,
              clear: bool, yes: bool, filters: dict) -> None:
    """Set or change run labels."""
    from .. import api

    if label is None and prepend is None and append is None and not remove and not clear:
        from ..errors import UsageError

        raise UsageError("label needs -s/--set, -p/--prepend, -a/--append, -rm/--remove or -c/--clear")
    records = _select_records(runs, filters)
    if not _preview_runs(records, "label", yes):
        sys.exit(1)
    api.runs_label(_ids(records), label, prepend=prepend, append=append, remove=list(remove) or None, clear=clear)
    click.echo(f"Labeled {len(records)} run(s)")


@main.command("comment", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--add", "-a", "comment", help="The comment to add.")
@click.option("--list", "-l", "list_", is_flag=True, help="List the comments.")
@click.option("--delete", "-d", type=int, help="Delete comment number N (1 = first).")
@click.option("--clear", "-c", is_flag=True, help="Delete all comments.")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def comment_cmd(runs: tuple, comment: str | None, list_: bool, delete: int | None, clear: bool, yes: bool,
                filters: dict) -> None:
    """Add, list or delete comments on runs."""
    from .. import api

    records = _select_records(runs, filters)
    if list_ or (comment is None and delete is None and not clear):
        for r in records:
            _echo(f"[{r['id'][:8]}]  {r.get('operation') or ''}  {r.get('label') or ''}".rstrip())
            for i, c in enumerate(r.get("comments") or [], 1):
                _echo(f"  {i}. {c.get('user', '')}@{c.get('host', '')} {_fmt_time(c.get('time'))}")
                _echo(f"     {c.get('body', '')}")
        return
    if not _preview_runs(records, "comment on", yes):
        sys.exit(1)
    api.runs_comment(_ids(records), comment, delete=delete, clear=clear)
    click.echo(f"Updated comments of {len(records)} run(s)")


@main.command("stop", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def stop_cmd(runs: tuple, yes: bool, filters: dict) -> None:
    """Stop running runs (default: the latest running run)."""
    from .. import api

    filters["running"] = True
    filters["include_batch"] = True
    if not runs and not _select_records((), filters):
        _say_none((), {"running": True})  # nothing is running: say so, not "no run 1"
        return
    records = _select_records(runs or ("1",), filters)
    if not _preview_runs(records, "stop", yes):
        sys.exit(1)
    stopped = api.stop_runs(_ids(records), include_batch=True)
    click.echo(f"Stopped {len(stopped)} run(s)")


@main.command("export", cls=_Filtered)
@click.argument("location")
@click.argument("runs", nargs=-1)
@click.option("--move", "-m", is_flag=True, help="Move the runs instead of copying them.")
@click.option("--copy-links", "-L", is_flag=True, help="Store what links (pipeline steps, batch trials, linked "
              "dependencies) point at as files (default: keep them as links, in zips too).")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def export_cmd(location: str, runs: tuple, move: bool, copy_links: bool, yes: bool, filters: dict) -> None:
    """Copy (or move) runs to LOCATION: a directory or a .zip file."""
    from .. import api

    records = _select_records(runs, filters)
    if not _preview_runs(records, f"{'move' if move else 'copy'} to {location}", yes):
        sys.exit(1)
    api.runs_export(_ids(records), location, move=move, include_batch=True,  # the ids are chosen already
                    links="copy" if copy_links else "keep")
    _echo(f"Exported {len(records)} run(s) to {location}")


@main.command("import")
@click.argument("archive")
@click.argument("runs", nargs=-1)
@click.option("--move", "-m", is_flag=True, help="Move the runs instead of copying them.")
@click.option("--force", is_flag=True, help="Accept entries that expand more than 1000:1 (a possible zip bomb).")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
def import_cmd(archive: str, runs: tuple, move: bool, force: bool, yes: bool) -> None:
    """Import runs from ARCHIVE: a directory or a .zip file made by export."""
    from .. import api
    from ..store.archive import archive_run_ids

    from pathlib import Path

    ids = archive_run_ids(Path(archive).expanduser().absolute())
    if not _confirm(f"You are about to import {len(ids)} run(s) from {archive}\nContinue?", yes):
        sys.exit(1)
    done = api.runs_import(archive, list(runs) or None, move=move, force=force)
    _echo(f"Imported {len(done)} run(s)" + (f" ({len(ids) - len(done)} already present)"
                                                 if len(done) < len(ids) and not runs else ""))


