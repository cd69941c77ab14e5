"""Ingestion: read a source, embed in batches, commit each batch to the store.

Each batch is committed in one transaction, so a kill loses at most the batch in
flight, and IDs are stable, so running the same command again completes the job
without duplicates. A namespace is created with its first stored batch.
"""

from __future__ import annotations

from ..embedders import Embedder, is_image_embedder
from ..errors import InvalidInputError, UnsupportedModalityError
from ..sources import Source
from ..storage import VectorStore
from .options import IngestOptions
from .progress import Progress
from .report import EXIT_NOTHING_DONE, EXIT_OK, EXIT_SOME_SKIPPED, IngestReport


def run_ingest(
    store: VectorStore,
    embedder: Embedder,
    source: Source,
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest ``source`` with ``embedder`` as ``options`` say; returns what happened.

    Bad items are reported through ``progress.message`` ("skipping LOCATION: REASON")
    and counted; they never stop the run.
    """
    options = options or IngestOptions()
    if source.modality == "image":
        if not is_image_embedder(embedder):
            raise UnsupportedModalityError(
                f"{source.describe()} holds images; embedder {embedder.name!r} embeds text only",
                hint="embed them with -e clip",
            )
        if options.ray is not None:
            from .ray_images import ingest_images_on_ray

            return ingest_images_on_ray(store, embedder, source, options, options.ray, progress)
        from .images import ingest_images

        return ingest_images(store, embedder, source, options, progress)
    if options.ray is not None:
        raise InvalidInputError(
            f"--ray embeds image sources; ingest {source.describe()} without --ray"
        )
    from .text import ingest_texts

    return ingest_texts(store, embedder, source, options, progress)


__all__ = [
    "EXIT_NOTHING_DONE",
    "EXIT_OK",
    "EXIT_SOME_SKIPPED",
    "IngestOptions",
    "IngestReport",
    "Progress",
    "run_ingest",
]
