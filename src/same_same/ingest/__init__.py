"""Ingestion: read a source, embed in batches, commit each batch to the store.

Each batch is committed in one transaction, so a kill loses at most the batch in
flight, and IDs are stable, so running the same command again completes the job
without duplicates.
"""

from __future__ import annotations

from ..embedders import Embedder
from ..sources import Source
from ..storage import VectorStore
from .progress import Progress
from .report import EXIT_NOTHING_DONE, EXIT_OK, EXIT_SOME_SKIPPED, IngestReport


def run_ingest(
    store: VectorStore,
    embedder: Embedder,
    source: Source,
    *,
    namespace: str,
    batch_size: int = 32,
    dry_run: bool = False,
    sample: int | None = None,
    prune: bool = False,
    progress: Progress | None = None,
    verbose: bool = False,
    workers: int | None = None,
) -> IngestReport:
    """Ingest ``source`` into ``namespace``; returns what happened.

    Bad items are reported through ``progress.message`` ("skipping LOCATION: REASON")
    and counted; they never stop the run.
    """
    if source.modality == "image":
        from .images import ingest_images

        return ingest_images(
            store,
            embedder,
            source,
            namespace=namespace,
            batch_size=batch_size,
            dry_run=dry_run,
            sample=sample,
            prune=prune,
            progress=progress,
            verbose=verbose,
            workers=workers,
        )
    from .text import ingest_texts

    return ingest_texts(
        store,
        embedder,
        source,
        namespace=namespace,
        batch_size=batch_size,
        dry_run=dry_run,
        sample=sample,
        prune=prune,
        progress=progress,
        verbose=verbose,
    )


__all__ = [
    "EXIT_NOTHING_DONE",
    "EXIT_OK",
    "EXIT_SOME_SKIPPED",
    "IngestReport",
    "Progress",
    "run_ingest",
]
