"""``same-same watch [flags] images:DIR``: keep a folder in sync until interrupted."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import click

from ..config import resolve_data_dir
from ..embedders import EmbedderOptions, ImageEmbedder, create_embedder, is_image_embedder
from ..ingest import IngestOptions
from ..storage import open_store
from .ingest import refuse_read_only
from .options import (
    ModelFlags,
    batch_size_option,
    data_dir_option,
    embedder_option,
    image_decode_options,
    model_options,
    namespace_option,
    recursive_option,
    store_option,
    watch_timing_options,
)


def create_watch_embedder(
    embedder: str, options: EmbedderOptions, folder_described: str
) -> ImageEmbedder:
    """The image embedder ``-e`` names; a usage error for a text-only one."""
    model = create_embedder(embedder, options)
    if not is_image_embedder(model):
        raise click.UsageError(f"{folder_described} holds images; embed them with -e clip")
    return model


@contextmanager
def stopped_by_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGTERM (and SIGINT, Ctrl-C) call ``stop()`` instead of killing the process
    mid-pass: the pass in progress commits its batch and the watch returns."""

    def handle(signum: int, frame: FrameType | None) -> None:
        stop()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@click.command("watch")
@click.argument("source")
@embedder_option(default="clip")
@namespace_option()
@data_dir_option
@store_option
@batch_size_option
@recursive_option
@model_options
@image_decode_options
@watch_timing_options
@click.option("-q", "--quiet", is_flag=True, help="No model loading messages.")
def watch_command(
    source: str,
    embedder: str,
    namespace: str,
    data_dir: str | None,
    store_spec: str | None,
    batch_size: int | None,
    recursive: bool,
    model_flags: ModelFlags,
    workers: int | None,
    gpu_decode: str,
    poll_seconds: float | None,
    settle_seconds: float,
    quiet: bool,
) -> None:
    """Keep the folder SOURCE (images:DIR) in sync with a namespace until interrupted.

    \b
    First catches up (an ingest with --prune: what changed while nothing watched), then
    applies each change as it happens, one line on stderr for each:
      added PATH, updated PATH, moved OLD -> NEW, removed PATH, skipping PATH: REASON
    A file is read once its writer closed it and it settled (--settle); a moved file
    keeps its vector. Ctrl-C or SIGTERM stops after the batch in progress; a kill loses
    nothing committed, and the next start catches up.
    """
    from ..watch import FolderWatcher, WatchOptions, open_watched_folder
    from ..watch.events import require_watchdog

    require_watchdog()  # before a model is even named
    folder = open_watched_folder(source, recursive=recursive)
    store_dir = resolve_data_dir(data_dir)
    embedder_options = model_flags.embedder_options(store_dir, batch_size=batch_size, quiet=quiet)
    model = create_watch_embedder(embedder, embedder_options, folder.describe())
    options = WatchOptions(
        ingest=IngestOptions(
            namespace=namespace, batch_size=batch_size, workers=workers, gpu_decode=gpu_decode
        ),
        poll_seconds=poll_seconds,
        settle_seconds=settle_seconds,
        recursive=recursive,
    )
    with open_store(store_dir, store_spec) as store:
        refuse_read_only(store, dry_run=False)
        watcher = FolderWatcher(store, model, folder, options)
        how = f"polling every {poll_seconds:g} s" if poll_seconds else "on file events"
        click.echo(
            f"watching {folder.describe()} into namespace {namespace!r} ({how}); Ctrl-C stops",
            err=True,
        )
        with stopped_by_signals(watcher.stop):
            watcher.run()
    click.echo("stopped watching", err=True)


__all__ = ["watch_command"]
