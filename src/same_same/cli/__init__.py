"""The ``same-same`` command line: parse, call the library, format. Nothing else lives here."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .. import __version__
from ..errors import SameSameError
from .demo import demo_command
from .ingest import ingest_command
from .inspect import namespaces_command
from .search import search_command
from .serve import serve_command

DEBUG_ENV = "SAME_SAME_DEBUG"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="same-same")
def cli() -> None:
    """same-same: find text and images by meaning.

    \b
    same-same ingest -e clip images:./photos     put photos in the store
    same-same search "a sunset over the ocean"   search from the shell
    same-same serve                              REST API and search page on :8080
    """


cli.add_command(ingest_command)
cli.add_command(search_command)
cli.add_command(serve_command)
cli.add_command(namespaces_command)

cli.add_command(demo_command)


def format_error(error: SameSameError) -> str:
    line = f"error: {error.message}"
    if error.hint:
        line += f" ({error.hint})"
    return line


def main(argv: list[str] | None = None, **kwargs: Any) -> None:
    """Entry point: typed errors become one line on stderr and a non-zero exit."""
    try:
        result = cli.main(args=argv, prog_name="same-same", standalone_mode=False, **kwargs)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SameSameError as exc:
        click.echo(format_error(exc), err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if os.environ.get(DEBUG_ENV):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for a traceback)",
            err=True,
        )
        sys.exit(70)
    sys.exit(result if isinstance(result, int) else 0)


__all__ = ["cli", "main"]
