"""``runyard remote``, ``push`` and ``pull``."""

from __future__ import annotations

import sys

import click

from . import _Filtered, _selection, main


@main.group("remote")
def remote_group() -> None:
    """Named remotes to push runs to and pull them from (kept in ~/.config/runyard/remotes.yml)."""


@remote_group.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="A backend option, e.g. endpoint_url=http://127.0.0.1:9000 (repeatable). Never credentials.")
def remote_add_cmd(name: str, url: str, options: tuple) -> None:
    """Add remote NAME at URL: s3://BUCKET/PREFIX, ssh://USER@HOST[:PORT]/PATH or file:///PATH."""
    from ..remotes import config

    r = config.add(name, url, dict(config.parse_option(o) for o in options))
    click.echo(f"added remote {r.name}: {r.url}")


@remote_group.command("list")
def remote_list_cmd() -> None:
    """List the remotes."""
    from ..remotes import config

    for r in config.all_remotes():
        opts = " ".join(f"{k}={v}" for k, v in sorted(r.options.items()))
        click.echo(f"{r.name}  {r.url}  {opts}".rstrip())


@remote_group.command("remove")
@click.argument("name")
def remote_remove_cmd(name: str) -> None:
    """Remove remote NAME (its runs stay where they are)."""
    from ..remotes import config

    config.remove(name)
    click.echo(f"removed remote {name}")


def _transfer_command(name: str, call: str, delete_prompt: str, doc: str) -> click.Command:
    """Make ``runyard NAME REMOTE [RUNS]...`` (push or pull): ``api.<call>`` with the run filters
    and --delete, --include-running, -y. With --delete it asks ``delete_prompt`` (``{n}``,
    ``{runs}``, ``{remote}`` filled in) first, or needs -y."""

    @click.argument("remote")
    @click.argument("runs", nargs=-1)
    @click.option("--delete", is_flag=True, help="Mirror deletions (remove what the source doesn't have).")
    @click.option("--include-running", is_flag=True, help="Also copy runs that are still running.")
    @click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
    def command(remote: str, runs: tuple, delete: bool, include_running: bool, yes: bool, filters: dict) -> None:
        from .. import api
        from ..errors import UsageError

        def confirm(n: int) -> bool:
            prompt = delete_prompt.format(n=n, runs="run" if n == 1 else "runs", remote=remote)
            if yes:
                return True
            if not sys.stdin.isatty():
                raise UsageError(f"--delete would {prompt[0].lower()}{prompt[1:-1]}: add -y to do it (nothing was done)")
            if click.confirm(prompt, default=False):
                return True
            click.echo("Cancelled.", err=True)
            sys.exit(1)

        sel, selected = _selection(runs, filters)
        getattr(api, call)(remote, sel, delete=delete, include_running=include_running, confirm=confirm, **selected)

    command.__doc__ = doc
    return main.command(name, cls=_Filtered)(command)


push_cmd = _transfer_command("push", "runs_push", "Remove {n} {runs} from {remote} that this home doesn't have?",
                             "Copy runs to REMOTE; only new or changed files are sent.")
pull_cmd = _transfer_command("pull", "runs_pull", "Move {n} local {runs} that {remote} doesn't have to the trash?",
                             "Copy runs from REMOTE into this home; only new or changed files are fetched.")
