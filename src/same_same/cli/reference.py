"""The command reference (docs/cli.md), made from every command's ``--help``.

``scripts/cli-reference`` writes it; a test fails when the file differs from what this
makes now, so the reference cannot drift from the commands.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

HELP_WIDTH = 100
"""Columns the help is wrapped at: fixed, so the file is the same on every terminal."""

HEADER = """# same-same command reference

Generated from each command's `--help` by `scripts/cli-reference`; do not edit by hand
(a test fails when this file differs from the commands).
"""


def render_cli_reference(group: click.Group, prog_name: str = "same-same") -> str:
    """Markdown: one section per command and subcommand, each its ``--help`` verbatim."""
    parts = [HEADER]
    for path, text in _helps(group, [prog_name], None):
        parts.append(f"\n## `{' '.join(path)}`\n\n```text\n{text.rstrip()}\n```\n")
    return "".join(parts)


def _helps(
    command: click.Command, path: list[str], parent: click.Context | None
) -> Iterator[tuple[list[str], str]]:
    settings = {  # as `make_context` would (``-h``), so help reads as the real command's
        **command.context_settings,
        "terminal_width": HELP_WIDTH,
        "max_content_width": HELP_WIDTH,
    }
    ctx = click.Context(command, info_name=path[-1], parent=parent, **settings)
    yield path, command.get_help(ctx)
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _helps(sub, [*path, name], ctx)


__all__ = ["render_cli_reference"]
