"""The ``same-same`` command line: parse, call the library, format. Nothing else lives here."""

from __future__ import annotations

import os
import sys
from typing import IO, Any

import click

from .. import __version__
from ..errors import SameSameError
from .config import ARGS_KEY, apply_config_file, config_command, config_option
from .demo import demo_command
from .duplicates import duplicates_command
from .evaluate import eval_command
from .export import export_command
from .ingest import ingest_command
from .inspect import namespaces_command
from .models import models_command
from .search import search_command
from .serve import serve_command
from .watch import watch_command

DEBUG_ENV = "SAME_SAME_DEBUG"


class ErrorLine(click.ClickException):
    """A failure already worded as the one line the user sees on stderr."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.message, file=file, err=file is None)


class UserError(ErrorLine):
    """A typed error of the library (``error: MESSAGE (HINT)``)."""


class Interrupted(ErrorLine):
    exit_code = 130


class InternalError(ErrorLine):
    """Anything unexpected: one line instead of a traceback, unless SAME_SAME_DEBUG is set."""

    exit_code = 70


def format_error(error: SameSameError) -> str:
    line = f"error: {error.message}"
    if error.hint:
        line += f" ({error.hint})"
    return line


def translate_failure(exc: BaseException) -> click.ClickException | click.exceptions.Exit | None:
    """What the user sees of ``exc``; None when it should propagate (SAME_SAME_DEBUG)."""
    if isinstance(exc, (click.ClickException, click.exceptions.Exit)):
        return exc
    if isinstance(exc, SameSameError):
        return UserError(format_error(exc))
    if isinstance(exc, click.Abort):
        return Interrupted("aborted")
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted("interrupted")
    if isinstance(exc, BrokenPipeError):
        return click.exceptions.Exit(0)  # the reader of stdout went away: not a failure
    if os.environ.get(DEBUG_ENV):
        return None
    return InternalError(
        f"internal error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for a traceback)"
    )


class TranslatingGroup(click.Group):
    """Turns what a command raises into its one line and exit status inside click, so the
    real process (``main``) and an in-process ``CliRunner.invoke(cli, ...)`` print the same."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[ARGS_KEY] = list(args)  # the settings file's lookup reads --data-dir early
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (Exception, KeyboardInterrupt) as exc:
            translated = translate_failure(exc)
            if translated is None or translated is exc:
                raise
            raise translated from exc


@click.group(cls=TranslatingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="same-same")
@config_option
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """same-same: find text and images by meaning.

    \b
    same-same ingest -e clip images:./photos     put photos in the store
    same-same search "a sunset over the ocean"   search from the shell
    same-same serve                              REST API and search page on :8080

    Settings: flags, SAME_SAME_* variables, or same-same.toml (same-same config show).
    """
    apply_config_file(ctx, config_path)


cli.add_command(ingest_command)
cli.add_command(search_command)
cli.add_command(serve_command)
cli.add_command(watch_command)
cli.add_command(namespaces_command)
cli.add_command(duplicates_command)
cli.add_command(export_command)
cli.add_command(models_command)
cli.add_command(config_command)

cli.add_command(demo_command)
cli.add_command(eval_command)


def main(argv: list[str] | None = None, **kwargs: Any) -> None:
    """Entry point: typed errors become one line on stderr and a non-zero exit.

    Commands' failures are translated by ``TranslatingGroup``; this translates what
    happens outside a command (the group's own options, the context's teardown)."""
    try:
        result = cli.main(args=argv, prog_name="same-same", standalone_mode=False, **kwargs)
    except (Exception, KeyboardInterrupt) as exc:
        translated = translate_failure(exc)
        if translated is None:
            raise
        if isinstance(translated, click.ClickException):
            translated.show()
        sys.exit(translated.exit_code)
    sys.exit(result if isinstance(result, int) else 0)


__all__ = ["cli", "main"]
