"""Look at runs: ``select``, ``cat``, ``ls``, ``watch`` and ``diff``."""

from __future__ import annotations

import sys

import click

from ..terminal import echo as _echo
from . import _Filtered, _one, _select_records, main


@main.command("select", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--all", "-A", "all_", is_flag=True, help="Print every selected run (default: the first).")
@click.option("--short-id", "-s", is_flag=True, help="Print short ids.")
@click.option("--attr", "-a", metavar="NAME", help="Print this attribute instead of the id.")
@click.option("--path", "--dir", "-p", "path", is_flag=True, help="Print the run directory.")
@click.option("--min", "min_", metavar="SCALAR", help="Select the run with the lowest SCALAR.")
@click.option("--max", "max_", metavar="SCALAR", help="Select the run with the highest SCALAR.")
def select_cmd(runs: tuple, all_: bool, short_id: bool, attr: str | None, path: bool, min_: str | None,
               max_: str | None, filters: dict) -> None:
    """Print the id of the selected run (default: the latest)."""
    from ..errors import SelectError

    records = _select_records(runs, filters)
    col = min_ or max_
    if col:
        name = col.split(":", 1)[1] if col.startswith("scalar:") else col
        have = [r for r in records if isinstance((r.get("scalars") or {}).get(name), (int, float))]
        if not have:
            raise SelectError(f"no selected run has a scalar '{name}'")
        have.sort(key=lambda r: r["scalars"][name], reverse=bool(max_))
        records = have
    if not records:
        raise SelectError("no runs match the selection")
    if not all_:
        records = records[:1]
    from ..store.run import Run

    for r in records:
        if attr:
            v = Run(r["dir"]).get(attr)
            if isinstance(v, (dict, list)):
                from ..store.attrs import dumps

                _echo(dumps(v).rstrip())
            else:
                _echo("" if v is None else v)
        elif path:
            _echo(r["dir"])
        else:
            _echo(r["id"][:8] if short_id else r["id"])


def _safe_path(run_dir: str, rel: str):
    import posixpath
    from pathlib import Path

    from ..errors import UsageError
    from ..store.paths import EnvironmentFileRefused, PathRefused, resolve_in_run

    try:
        p = resolve_in_run(run_dir, posixpath.normpath(rel) if rel not in ("", ".") else "")
    except EnvironmentFileRefused:
        raise
    except PathRefused:
        raise UsageError(f"'{rel}' is outside the run directory") from None
    if not p.exists():
        raise UsageError(f"no file '{rel}' in run {Path(run_dir).name[:8]}")
    return p


@main.command("cat", cls=_Filtered)
@click.argument("run", required=False)
@click.option("--path", "-p", metavar="PATH", help="A file in the run directory to print (default: the output).")
@click.option("--output", "-O", is_flag=True, help="Print the run's output (the default).")
def cat_cmd(run: str | None, path: str | None, output: bool, filters: dict) -> None:
    """Print a run's output, or one of its files (default: the latest run)."""
    r = _one(run, filters)
    if path:
        p = _safe_path(r["dir"], path)
        if p.is_dir():
            from ..errors import UsageError

            raise UsageError(f"'{path}' is a directory (use 'runyard ls')")
    import shutil

    from ..store.paths import open_regular, open_run_file

    try:
        f = open_regular(p) if path else open_run_file(r["dir"], ".guild/output")
    except FileNotFoundError:
        return
    with f:
        shutil.copyfileobj(f, sys.stdout.buffer)
    sys.stdout.flush()


@main.command("ls", cls=_Filtered)
@click.argument("run", required=False)
@click.option("--path", "-p", metavar="PATH", help="List only under this path.")
@click.option("--all", "-a", "all_", is_flag=True, help="Include runyard's own files (.guild).")
@click.option("--sourcecode", "-s", is_flag=True, help="List only source code files.")
@click.option("--full-path", "-f", is_flag=True, help="Print absolute paths.")
@click.option("--follow-links", "-L", is_flag=True, help="List inside linked directories (pipeline steps, "
              "batch trials, linked dependencies).")
def ls_cmd(run: str | None, path: str | None, all_: bool, sourcecode: bool, full_path: bool, follow_links: bool,
           filters: dict) -> None:
    """List a run's files (default: the latest run)."""
    import os
    from pathlib import Path

    r = _one(run, filters)
    base = Path(r["dir"])
    if sourcecode:
        from ..launch.sourcecode import manifest_files

        files = manifest_files(base)
    else:
        start = _safe_path(r["dir"], path) if path else base
        files = []
        for root, dirs, names in os.walk(start, followlinks=follow_links):
            dirs.sort()
            if not all_:
                dirs[:] = [d for d in dirs if not (Path(root) == base and d == ".guild")]
            if not follow_links:  # a linked directory (a step, a trial) shows as `name/`, as in guild ls
                for d in dirs:
                    if (Path(root) / d).is_symlink():
                        files.append((Path(root) / d).relative_to(base).as_posix() + "/")
            for n in sorted(names):
                files.append((Path(root) / n).relative_to(base).as_posix())
    if not full_path:
        _echo(f"{base}:")
    for f in files:
        _echo(str(base / f) if full_path else f"  {f}")


@main.command("watch", cls=_Filtered)
@click.argument("run", required=False)
def watch_cmd(run: str | None, filters: dict) -> None:
    """Follow a running run's output until it stops (default: the latest running run)."""
    import time

    from ..store.run import status_of

    if not run and not any(filters.get(s) for s in ("running", "completed", "error", "terminated")):
        filters["running"] = True
    r = _one(run, filters)
    out_path = f"{r['dir']}/.guild/output"
    pos = 0
    try:
        while True:
            try:
                with open(out_path, "rb") as f:
                    f.seek(pos)
                    data = f.read()
            except FileNotFoundError:
                data = b""
            if data:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
                pos += len(data)
            from pathlib import Path

            if status_of(Path(r["dir"])) not in ("running", "pending", "staged"):
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        return
    _echo(f"Run {r['id'][:8]} stopped ({status_of(Path(r['dir']))})", err=True)


@main.command("diff", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--flags", "-f", "what", flag_value="flags", help="Compare flags only.")
@click.option("--sourcecode", "-s", "what", flag_value="sourcecode", help="Compare source code only.")
@click.option("--output", "-O", "what", flag_value="output", help="Compare output only.")
@click.option("--deps", "-D", "what", flag_value="deps", help="Compare dependencies only.")
@click.option("--path", "-p", "paths", multiple=True, metavar="PATH", help="Compare this file (repeatable).")
@click.option("--html", is_flag=True, help="Write a self-contained HTML diff, print its path and open it.")
@click.option("--no-open", "-n", is_flag=True, help="With --html: don't open the diff in a browser.")
def diff_cmd(runs: tuple, what: str | None, paths: tuple, html: bool, no_open: bool, filters: dict) -> None:
    """Show how two runs differ: flags, dependencies, source files and output (default: the latest two)."""
    from .. import diffs

    records = _select_records(runs or ("1", "2"), filters)
    if len(records) != 2:
        from ..errors import UsageError

        raise UsageError(f"diff needs exactly two runs ({len(records)} selected)")
    a, b = records[1], records[0]  # older first
    if html:
        from ..report import view_runs_diff

        _echo(view_runs_diff([a["id"], b["id"]], open=not no_open))
        return
    _echo(diffs.text_diff(a, b, what=what, paths=list(paths)), nl=False)
