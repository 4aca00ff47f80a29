"""``runyard help``: the grammar topics and any command's help."""

from __future__ import annotations

import click

from ..terminal import echo as _echo
from . import main


@main.command("help")
@click.argument("topic", required=False)
@click.pass_context
def help_cmd(ctx: click.Context, topic: str | None) -> None:
    """Show help on TOPIC: 'selection' (which runs: 1, 1:3, id prefixes) or 'filters'
    (-F expressions, --started ranges, the filter options); or a command's help."""
    from ..errors import UsageError
    from ..help_topics import TOPICS

    if topic in TOPICS:
        _echo(TOPICS[topic].rstrip())
        return
    if topic is None:
        _echo(main.get_help(ctx.parent) + "\n\nHelp topics: " + ", ".join(TOPICS)
              + " ('runyard help TOPIC').")
        return
    cmd = main.get_command(ctx, topic)
    if cmd is None:
        raise UsageError(f"no help topic or command '{topic}' (topics: {', '.join(TOPICS)})")
    _echo(cmd.get_help(click.Context(cmd, info_name=topic, parent=ctx.parent)))
