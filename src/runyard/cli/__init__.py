"""The ``runyard`` command: thin click commands over :mod:`runyard.api`."""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import options as _options
from ..errors import RunyardError
from ..terminal import echo as _echo  # every text runyard prints is made terminal-safe


class _Filtered(click.Command):
    """A command taking the run filters (``-Fl``, ``-Sc``, ...).

    The filters live in a namespace of their own: the command's function gets them as one
    argument, ``filters`` (a dict of only those given), so none of the command's own options
    (``label --set``, ``comment --add``) can clash with them. Where a command's own option uses
    a filter's option string, the command's wins and the filter keeps its other spellings.
    Their ~17 options are built on first use, not at import: ``runyard run`` should not pay."""

    _NS = "_filter_"

    def get_params(self, ctx: click.Context) -> list:
        if not getattr(self, "_filters_built", False):
            taken = frozenset(o for p in self.params for o in (*p.opts, *p.secondary_opts))
            holder = _options.click_options(_options.FILTER_OPTIONS, self._NS, taken)(lambda **kw: None)
            self.params.extend(reversed(holder.__click_params__))
            self._filters_built = True
        return super().get_params(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        import inspect

        if "filters" not in inspect.signature(self.callback).parameters:
            raise TypeError(f"command {self.name!r} must take its filters as one parameter, 'filters: dict'")
        filters = {}
        for name in [n for n in ctx.params if n.startswith(self._NS)]:
            value = ctx.params.pop(name)
            if value not in (None, False, ()):
                filters[name[len(self._NS):]] = list(value) if isinstance(value, tuple) else value
        ctx.params["filters"] = filters
        return super().invoke(ctx)


class _Group(click.Group):
    """Turns RunyardError into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RunyardError as e:
            _echo(f"runyard: {e.cli_message or e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("runyard: interrupted", err=True)
            ctx.exit(130)
        except OSError as e:  # a disk full, a read-only runs home...: one line, not a traceback
            where = f": {e.filename}" if getattr(e, "filename", None) else ""
            _echo(f"runyard: {e.strerror or e}{where}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="runyard", prog_name="runyard")
def main() -> None:
    """Track, compare and manage machine-learning runs with no change to your code."""
    from ..terminal import enable_progress

    enable_progress()  # e.g. "indexing 10,000 runs" on a terminal while a first listing builds


def _whole_numbers(opts: dict) -> None:
    """``--max-trials``, ``--workers`` and ``--random-seed`` as ints (one clear line if not)."""
    for key in ("max_trials", "workers", "random_seed"):
        if key in opts:
            try:
                opts[key] = int(opts[key])
            except ValueError:
                raise click.BadParameter(f"--{key.replace('_', '-')} needs a whole number") from None


def _confirm(prompt: str, yes: bool) -> bool:
    """Ask only on a terminal; -y/--yes skips asking."""
    if yes or not sys.stdin.isatty():
        return True
    return click.confirm(prompt, default=True)


def _selection(runs: tuple, filters: dict) -> tuple[list | None, dict]:
    return (list(runs) if runs else None), filters


def _ids(records: list[dict]) -> list[str]:
    return [r["id"] for r in records]


def _select_records(runs: tuple, filters: dict, deleted: bool = False) -> list[dict]:
    from ..api import ls_records

    sel, filters = _selection(runs, filters)
    return ls_records(sel, deleted=deleted, **filters)


def _preview_runs(records: list[dict], action: str, yes: bool) -> bool:
    if not records:
        from ..errors import SelectError

        raise SelectError("no runs match the selection")
    lines = [f"You are about to {action} the following runs:"]
    from ..terminal import safe

    for r in records[:50]:
        lines.append(f"  [{safe(r['id'][:8])}]  {safe(r.get('operation'))}  {_fmt_time(r.get('started'))}  "
                     f"{r.get('status')}  {safe(r.get('label'))}".rstrip())
    if len(records) > 50:
        lines.append(f"  ... and {len(records) - 50} more")
    lines.append("Continue?")
    return _confirm("\n".join(lines), yes)


def _act(runs: tuple, filters: dict, action: str, yes: bool, call, done: str, deleted: bool = False) -> None:
    """Select runs, show them and ask (on a terminal), then ``call(ids)`` and say what was done."""
    records = _select_records(runs, filters, deleted=deleted)
    if not _preview_runs(records, action, yes):
        sys.exit(1)
    call(_ids(records), include_batch=True)  # the exact runs selected, batch runs included
    click.echo(f"{done} {len(records)} run(s)")


def _say_none(runs: tuple, kw: dict, deleted: bool = False) -> None:
    """Say on stderr that nothing matched (not an error: exit 0)."""
    from .. import terminal

    asked = list(runs)
    by_key = {k: opts[0] for opts, k, _, _ in _options.FILTER_OPTIONS}
    for k, v in kw.items():
        if v in (None, False, ()):
            continue
        opt = by_key.get(k, "--" + k.replace("_", "-"))
        vals = v if isinstance(v, (list, tuple)) else [v]
        asked += [opt] if v is True else [f"{opt} {x!r}" if " " in str(x) else f"{opt} {x}" for x in vals]
    if deleted:
        asked.append("--deleted")
    if asked:
        terminal.echo(f"no runs match {' '.join(terminal.safe(a) for a in asked)}", err=True)
    else:
        from ..home import find_home

        terminal.echo(f"no runs yet in {find_home()}", err=True)


def _fmt_time(us: Any) -> str:
    if us is None:
        return ""
    from datetime import datetime

    return datetime.fromtimestamp(us / 1e6).isoformat(" ", "seconds")  # YYYY-MM-DD HH:MM:SS, fast


def _one(run: str | None, filters: dict | None = None) -> dict:
    from ..errors import SelectError

    records = _select_records((run or "1",), filters or {})
    if not records:
        raise SelectError("no runs match the selection")
    return records[0]


def _json_out(data: Any) -> None:
    import json
    import math

    def clean(v: Any) -> Any:  # JSON has no NaN/Inf: write them as strings R's jsonlite reads back
        if isinstance(v, float) and not math.isfinite(v):
            return "NaN" if math.isnan(v) else ("Inf" if v > 0 else "-Inf")
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    sys.stdout.write(json.dumps(clean(data), default=str, allow_nan=False))
    sys.stdout.write("\n")


# Each module adds its commands to ``main`` (click lists them by name, whatever the order here).
def _register() -> None:
    import importlib

    for name in ("run", "runs", "help", "manage", "show", "tables", "view", "remotes", "api_cmd"):
        importlib.import_module(f"{__name__}.{name}")


_register()
