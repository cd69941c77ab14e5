"""The text pipeline: read items, skip what is unchanged, embed in batches, commit each batch."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from typing import Any

from ..embedders import Embedder
from ..errors import InvalidInputError, NamespaceNotFoundError, SpaceMismatchError
from ..records import Record
from ..sources import BadItem, Source, SourceItem
from ..storage import VectorStore
from .batching import chunked, sample_stream
from .progress import Progress
from .report import IngestReport


def derive_text_id(text: str) -> str:
    """A stable id for a record whose source gives none: the same text, the same id."""
    return "txt-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


def hash_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_namespace_space(store: VectorStore, namespace: str, embedder: Embedder) -> None:
    """For dry runs: refuse early what a real run would refuse, without creating anything."""
    try:
        info = store.get_namespace(namespace)
    except NamespaceNotFoundError:
        return
    if info.space != embedder.space:
        raise SpaceMismatchError(
            f"namespace {namespace!r} holds vectors of {info.space.describe()}, "
            f"not {embedder.space.describe()}",
            hint="use another namespace (-n) or the same embedder and model",
        )


def _report_bad(report: IngestReport, progress: Progress, bad: BadItem) -> None:
    report.skipped += 1
    report.problems.append((bad.location, bad.reason))
    progress.message(f"skipping {bad.location}: {bad.reason}")


def _good_items(
    items: Iterable[SourceItem | BadItem], report: IngestReport, progress: Progress
) -> Iterator[SourceItem]:
    for item in items:
        report.seen += 1
        if isinstance(item, BadItem):
            _report_bad(report, progress, item)
            progress.advance()
        else:
            yield item


def _prepare(item: SourceItem, namespace: str) -> tuple[str, str, dict[str, Any]]:
    assert item.text is not None
    metadata = dict(item.metadata)
    metadata.setdefault("type", "text")
    metadata["namespace"] = namespace
    return item.id or derive_text_id(item.text), item.text, metadata


def ingest_texts(
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
) -> IngestReport:
    if prune:
        raise InvalidInputError("--prune applies to image sources (images:DIR, image-list:FILE)")
    if batch_size < 1:
        raise InvalidInputError("--batch-size must be at least 1")
    progress = progress or Progress(enabled=False)
    report = IngestReport(source=source.describe(), namespace=namespace, dry_run=dry_run)
    started = time.monotonic()
    if dry_run:
        check_namespace_space(store, namespace, embedder)
    else:
        store.ensure_namespace(namespace, embedder.space)

    items: Iterable[SourceItem] = _good_items(source.items(), report, progress)
    if sample is not None:
        items = sample_stream(items, sample)
        progress.set_total(len(items))
    else:
        progress.set_total(source.count_hint())

    for batch in chunked(items, batch_size):
        _ingest_batch(store, embedder, namespace, batch, report, progress, dry_run, verbose)
    report.seconds = time.monotonic() - started
    progress.close()
    return report


def _ingest_batch(
    store: VectorStore,
    embedder: Embedder,
    namespace: str,
    batch: list[SourceItem],
    report: IngestReport,
    progress: Progress,
    dry_run: bool,
    verbose: bool,
) -> None:
    # Later duplicates of an id within a batch win, as they would across batches.
    prepared = {
        record_id: (text, meta) for record_id, text, meta in (_prepare(i, namespace) for i in batch)
    }
    ids = list(prepared)
    hashes = {record_id: hash_text(text) for record_id, (text, _) in prepared.items()}
    stored_hashes = store.get_content_hashes(namespace, ids) if not dry_run else {}
    stored_meta = store.get_metadata(namespace, ids) if stored_hashes else {}

    to_embed: list[str] = []
    to_reuse: list[str] = []
    for record_id in ids:
        if stored_hashes.get(record_id) == hashes[record_id]:
            if stored_meta.get(record_id) == prepared[record_id][1]:
                report.unchanged += 1
                if verbose:
                    progress.message(f"unchanged {record_id}")
                continue
            to_reuse.append(record_id)
        else:
            to_embed.append(record_id)

    records: list[Record] = []
    if to_reuse:
        vectors = store.find_vectors_by_hash(namespace, [hashes[i] for i in to_reuse])
        for record_id in to_reuse:
            vector = vectors.get(hashes[record_id])
            if vector is None:
                to_embed.append(record_id)
                continue
            text, meta = prepared[record_id]
            records.append(Record(record_id, vector, text, meta, hashes[record_id]))
            report.reused += 1
    if to_embed:
        vectors_new = embedder.embed_texts([prepared[i][0] for i in to_embed])
        for record_id, vector in zip(to_embed, vectors_new, strict=True):
            text, meta = prepared[record_id]
            records.append(Record(record_id, vector, text, meta, hashes[record_id]))
    if records and not dry_run:
        store.upsert(namespace, records)
    report.stored += len(records)
    if verbose:
        for record in records:
            progress.message(f"stored {record.id}")
    progress.advance(len(batch))
