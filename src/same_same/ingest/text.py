"""The text pipeline: read items, skip what is unchanged, embed in batches, commit each batch."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from ..embedders import Embedder
from ..errors import InvalidInputError
from ..identifiers import check_record_id
from ..limits import check_metadata_limits, check_record_text
from ..records import Record, derive_text_id, hash_text, stamp_namespace
from ..sources import BadItem, Source, SourceItem
from ..storage import VectorStore
from .batching import chunked, sample_stream
from .common import UNUSABLE_VECTOR, ItemLog, NamespaceTarget, choose_batch_size, unusable_rows
from .options import IngestOptions
from .progress import Progress
from .report import IngestReport


def _good_items(items: Iterable[SourceItem | BadItem], log: ItemLog) -> Iterator[SourceItem]:
    for item in items:
        log.report.seen += 1
        if isinstance(item, BadItem):
            log.skip(item.location, item.reason)
            log.progress.advance(current=item.location)
        else:
            yield item


def _prepare(item: SourceItem, namespace: str) -> tuple[str, str, dict[str, Any]]:
    """``(id, text, metadata)`` as stored; InvalidInputError naming the limit an item
    passes (its text, or its metadata as stored)."""
    assert item.text is not None
    check_record_text(item.text)
    metadata = stamp_namespace({"type": "text", **item.metadata}, namespace)
    check_metadata_limits(metadata)
    record_id = derive_text_id(item.text) if item.id is None else check_record_id(item.id)
    return record_id, item.text, metadata


def ingest_texts(
    store: VectorStore,
    embedder: Embedder,
    source: Source,
    options: IngestOptions,
    progress: Progress | None = None,
) -> IngestReport:
    if options.prune:
        raise InvalidInputError("--prune applies to image sources (images:DIR, image-list:FILE)")
    progress = progress or Progress(enabled=False)
    report = IngestReport(source.describe(), options.namespace, dry_run=options.dry_run)
    started = time.monotonic()
    target = NamespaceTarget(store, options.namespace, embedder)
    log = ItemLog(report, progress, options.verbose)

    items: Iterable[SourceItem] = _good_items(source.items(), log)
    if options.sample is not None:
        items = sample_stream(items, options.sample)
        progress.set_total(len(items))
    else:
        progress.set_total(source.count_hint())

    batch_size = choose_batch_size(options.batch_size, embedder)
    for batch in chunked(items, batch_size):
        _ingest_batch(target, embedder, batch, log, options.dry_run)
    report.seconds = time.monotonic() - started
    progress.close()
    return report


def _ingest_batch(
    target: NamespaceTarget,
    embedder: Embedder,
    batch: list[SourceItem],
    log: ItemLog,
    dry_run: bool,
) -> None:
    store, namespace, report = target.store, target.name, log.report
    # Later duplicates of an id within a batch win, as they would across batches.
    prepared: dict[str, tuple[str, dict[str, Any], str]] = {}
    for item in batch:
        try:
            record_id, text, meta = _prepare(item, namespace)
        except InvalidInputError as exc:
            log.skip(item.location, exc.message)
            continue
        prepared[record_id] = (text, meta, item.location)
    ids = list(prepared)
    hashes = {record_id: hash_text(text) for record_id, (text, _, _) in prepared.items()}
    stored_hashes = store.get_content_hashes(namespace, ids) if target.exists else {}
    stored_meta = store.get_metadata(namespace, ids) if stored_hashes else {}

    to_embed: list[str] = []
    to_reuse: list[str] = []
    for record_id in ids:
        if stored_hashes.get(record_id) == hashes[record_id]:
            if stored_meta.get(record_id) == prepared[record_id][1]:
                report.unchanged += 1
                log.say(f"unchanged {record_id}")
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
            text, meta, _ = prepared[record_id]
            records.append(Record(record_id, vector, text, meta, hashes[record_id]))
            report.reused += 1
    if to_embed:
        vectors_new = embedder.embed_texts([prepared[i][0] for i in to_embed])
        unusable = unusable_rows(vectors_new)
        for row, (record_id, vector) in enumerate(zip(to_embed, vectors_new, strict=True)):
            text, meta, location = prepared[record_id]
            if row in unusable:
                log.fail(location, UNUSABLE_VECTOR)
                continue
            records.append(Record(record_id, vector, text, meta, hashes[record_id]))
    if records and not dry_run:
        target.ensure()
        records = _upsert_accepted(target, records, prepared, log)
    report.stored += len(records)
    for record in records:
        log.say(f"stored {record.id}")
    log.progress.advance(len(batch), current=batch[-1].location if batch else None)


def _upsert_accepted(
    target: NamespaceTarget,
    records: list[Record],
    prepared: dict[str, tuple[str, dict[str, Any], str]],
    log: ItemLog,
) -> list[Record]:
    """Commit ``records`` as one batch; when the store refuses the batch for a record it
    cannot hold (a store's own limit, e.g. Milvus's 64 KB of text), commit them one by one
    and skip the refused ones with the store's reason. Returns what was stored."""
    store, namespace, writer = target.store, target.name, target.writer
    try:
        store.upsert(namespace, records, writer)
        return records
    except InvalidInputError as exc:
        if len(records) == 1:
            log.skip(prepared[records[0].id][2], exc.message)
            return []
    accepted = []
    for record in records:
        try:
            store.upsert(namespace, [record], writer)
        except InvalidInputError as exc:
            log.skip(prepared[record.id][2], exc.message)
            continue
        accepted.append(record)
    return accepted
