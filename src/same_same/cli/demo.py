"""``same-same demo``: ingest sample photos, then search them by words and by an image."""

from __future__ import annotations

import click

from ..config import resolve_data_dir
from ..ingest import Progress
from ..storage import open_store
from .options import data_dir_option
from .search import format_match


@click.command("demo")
@data_dir_option
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
def demo_command(data_dir: str | None, device: str) -> None:
    """Ingest sample photos with CLIP and answer a text and an image query."""
    from ..demo import DEMO_NAMESPACE, run_demo

    root = resolve_data_dir(data_dir)

    def say_fallback(reason: str) -> None:
        click.echo(
            f"note: {reason.rstrip('.')}; running the demo with same-same's tiny test model "
            "on generated pictures of coloured shapes instead",
            err=True,
        )

    with open_store(root) as store:
        run = run_demo(
            store, root, device=device, progress=Progress(unit="images"), on_fallback=say_fallback
        )
    for line in run.report.summary_lines():
        click.echo(line, err=True)
    click.echo(f"model: {run.embedder.space.describe()}")
    for query in run.queries:
        click.echo(f"\nsearch by {query.description}:")
        for rank, match in enumerate(query.matches, start=1):
            click.echo(format_match(rank, match))
    click.echo(
        f"\nnext: same-same serve --data-dir {root}   then open http://127.0.0.1:8080/"
        f'\n      same-same search "a green triangle" -n {DEMO_NAMESPACE}'
    )
