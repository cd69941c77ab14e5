"""The image pipeline: walk a source, skip what is unchanged, decode in parallel, embed in batches.

For each file, in the source's order:

1. ``stat`` it (``image_plan``). Same size and mtime as its stored record (and the
   same source metadata): *unchanged*, nothing is read.
2. Otherwise a decode worker reads it once, hashes it (sha256), and decodes and
   preprocesses it for the model (``model_input``). Content whose hash is already
   stored is not decoded: its vector is *reused* (a renamed, moved, copied or
   touched file). A moved file's old record (same content, old path gone) is
   deleted with the batch that stores the new one, so search never shows both.
3. Full batches are embedded (``embed_preprocessed``) and committed with one
   ``upsert`` each, so a kill loses at most the batch in flight.

Bad files are reported as "skipping LOCATION: REASON" and never stop the run. The
model loads in a background thread as soon as the first file needs embedding, while
the first files decode (a run where nothing changed never loads it); see
``scheduling`` for how decoding and the model share the machine.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from ..embedders import ImageEmbedder
from ..imaging import ImageDecodeError
from ..imaging.exif import read_photo_metadata
from ..imaging.prepare import PreparedImage
from ..records import Record
from ..sources import BadItem, Source, SourceItem
from ..sources.images import ImageSource
from ..storage import VectorStore
from .batching import sample_stream
from .common import UNUSABLE_VECTOR, ItemLog, NamespaceTarget, choose_batch_size, unusable_rows
from .image_plan import (
    Job,
    Outcome,
    Planner,
    Ready,
    Skip,
    SourceFile,
    StoredFile,
    Unchanged,
    add_photo_metadata,
    is_gone,
    load_stored,
)
from .model_input import ModelInput
from .options import IngestOptions
from .progress import Progress
from .report import IngestReport
from .scheduling import (
    Background,
    count_in_background,
    map_in_order,
    read_ahead,
    takes_turns_with_decoding,
    workers_for,
)

RunT = TypeVar("RunT", bound="ImageRun")


@dataclass
class ImageRun:
    """One image ingest: plans, prepares and commits (also the driver side of ``ray_images``)."""

    target: NamespaceTarget
    source: Source
    options: IngestOptions
    batch_size: int
    log: ItemLog
    model: ModelInput
    stored: dict[str, StoredFile] = field(default_factory=dict)
    known_hashes: set[str] = field(default_factory=set)
    warming: Background | None = None
    model_idle: threading.Event | None = None
    """Set while the model is not running; None when decoding never waits for it."""

    def __post_init__(self) -> None:
        self.planner = Planner(self.target.name, self.stored, self.start_warm_up)
        self.by_hash: dict[str, list[str]] = {}
        for record_id, before in self.stored.items():
            if before.sha256:
                self.by_hash.setdefault(before.sha256, []).append(record_id)

    @classmethod
    def begin(
        cls: type[RunT],
        store: VectorStore,
        embedder: ImageEmbedder,
        source: Source,
        options: IngestOptions,
        progress: Progress,
    ) -> RunT:
        """A run of ``source`` into ``options.namespace``, with what the store holds there."""
        report = IngestReport(source.describe(), options.namespace, options.dry_run, unit="images")
        target = NamespaceTarget(store, options.namespace, embedder)
        stored = load_stored(store, options.namespace) if target.exists else {}
        return cls(
            target,
            source,
            options,
            choose_batch_size(options.batch_size, embedder),
            ItemLog(report, progress, options.verbose),
            ModelInput.for_embedder(embedder, options.gpu_decode),
            stored=stored,
            known_hashes={s.sha256 for s in stored.values() if s.sha256},
        )

    @property
    def report(self) -> IngestReport:
        return self.log.report

    def start_warm_up(self) -> None:
        if self.warming is None:
            self.warming = Background(self.model.embedder.load, "same-same-model-load")

    def wait_for_model(self) -> None:
        if self.warming is not None:
            self.warming.wait()

    # step 2: in a worker thread
    def prepare(self, job: Job) -> Outcome:
        if self.model_idle is not None:
            self.model_idle.wait()
        try:
            prepared = self.prepare_file(job.file, self.known_hashes)
        except ImageDecodeError as exc:
            return Skip(job.file.location, exc.reason)
        job.file.metadata.update(
            width=prepared.width,
            height=prepared.height,
            bytes=prepared.size_bytes,
            mtime=job.mtime,
            sha256=prepared.sha256,
        )
        describe_animation(job.file.metadata, prepared.frames)
        add_photo_metadata(job.file.metadata, read_photo_metadata(job.file.path, job.mtime))
        return Ready(job.file, prepared.sha256, prepared)

    def prepare_file(self, file: SourceFile, known_hashes: AbstractSet[str]) -> PreparedImage:
        return self.model.prepare(file.path, known_hashes)

    # step 3: in the main thread
    def consume(self, outcomes: Iterable[Outcome]) -> None:
        batch: list[Ready] = []
        for outcome in outcomes:
            if isinstance(outcome, Skip):
                self.log.skip(outcome.location, outcome.reason)
                self.log.progress.advance(current=outcome.location)
            elif isinstance(outcome, Unchanged):
                self.report.unchanged += 1
                self.log.progress.advance(current=outcome.location)
                self.log.say(f"unchanged {outcome.location}")
            else:
                batch.append(outcome)
                if len(batch) >= self.batch_size:
                    self.commit(batch)
                    batch = []
        if batch:
            self.commit(batch)

    def commit(self, batch: list[Ready]) -> None:
        store, namespace = self.target.store, self.target.name
        found: dict[str, np.ndarray] = {}
        if self.target.exists:
            hashes = sorted({ready.sha256 for ready in batch})
            found = store.find_vectors_by_hash(namespace, hashes)
        firsts: dict[str, Ready] = {}  # identical files in one batch are embedded once
        for ready in batch:
            if ready.sha256 not in found:
                firsts.setdefault(ready.sha256, ready)
        embedded, failed, unusable = self.embed(list(firsts.values()))
        records: list[Record] = []
        for ready in batch:
            file = ready.file
            if ready.sha256 in failed:
                self.log.skip(file.location, failed[ready.sha256])
                continue
            if ready.sha256 in unusable:
                self.log.fail(file.location, UNUSABLE_VECTOR)
                continue
            reused = firsts.get(ready.sha256) is not ready
            self.report.stored += 1
            self.report.reused += int(reused)
            self.log.say(f"{'reused vector for' if reused else 'embedded'} {file.location}")
            vector = found[ready.sha256] if ready.sha256 in found else embedded[ready.sha256]
            records.append(
                Record(
                    file.record_id,
                    vector,
                    None,
                    file.metadata,
                    ready.sha256,
                    from_image_ingest=True,  # the one writer whose files the API serves
                )
            )
        moved = self.moved_away(records)
        if records and not self.options.dry_run:
            self.target.ensure()
            store.upsert(namespace, records, self.target.writer)
            if moved:  # after the upsert: a kill in between leaves the old one for next time
                store.delete(namespace, moved)
        if records:
            self.known_hashes.update(ready.sha256 for ready in firsts.values())
        self.log.progress.advance(len(batch), current=batch[-1].file.location)

    def moved_away(self, records: list[Record]) -> list[str]:
        """Records whose file moved to one of ``records``: same content, old path gone."""
        moved: list[str] = []
        for record in records:
            for old_id in self.by_hash.get(record.content_hash or "", ()):
                before = self.stored.get(old_id)
                if (
                    old_id != record.id
                    and before is not None
                    and old_id not in self.planner.seen_ids
                    and is_gone(before.metadata.get("abs_path"))
                ):
                    moved.append(old_id)
                    del self.stored[old_id]  # not pruned again at the end
                    self.report.moved += 1
                    self.log.say(
                        f"moved {before.metadata.get('path', old_id)} -> "
                        f"{record.metadata.get('path', record.id)}"
                    )
        return moved

    def embed(self, todo: list[Ready]) -> tuple[dict[str, np.ndarray], dict[str, str], set[str]]:
        """Vectors by hash, reasons by hash for files that turned out undecodable, and
        the hashes whose vector came out unusable."""
        failed: dict[str, str] = {}
        ready_for_model: list[PreparedImage] = []
        hashes: list[str] = []
        for ready in todo:
            prepared = ready.prepared
            if prepared is None or prepared.known:
                # not decoded because its content was stored; that record has since gone
                try:
                    prepared = self.prepare_file(ready.file, frozenset())
                except ImageDecodeError as exc:
                    failed[ready.sha256] = exc.reason
                    continue
            ready_for_model.append(prepared)
            hashes.append(ready.sha256)
        # JPEGs left for the device are decoded now, in batches (model_input.finish)
        undecodable = self.model.finish(ready_for_model)
        for index, reason in undecodable.items():
            failed[hashes[index]] = reason
        if undecodable:
            keep = [i for i in range(len(hashes)) if i not in undecodable]
            ready_for_model = [ready_for_model[i] for i in keep]
            hashes = [hashes[i] for i in keep]
        if not ready_for_model:
            return {}, failed, set()
        self.wait_for_model()
        if self.model_idle is None:
            matrix = self.model.embed(ready_for_model)
        else:
            self.model_idle.clear()
            try:
                matrix = self.model.embed(ready_for_model)
            finally:
                self.model_idle.set()
        unusable = {hashes[row] for row in unusable_rows(matrix)}
        return {sha: matrix[row] for row, sha in enumerate(hashes)}, failed, unusable

    def prune(self) -> None:
        if not isinstance(self.source, ImageSource):
            return
        gone = [
            record_id
            for record_id, before in sorted(self.stored.items())
            if record_id not in self.planner.seen_ids
            and self.source.owns(before.metadata)
            and is_gone(before.metadata.get("abs_path"))
        ]
        if gone and not self.options.dry_run:
            self.target.store.delete(self.target.name, gone)
        self.report.pruned = len(gone)
        for record_id in gone:
            self.log.say(f"pruned {self.stored[record_id].metadata.get('abs_path', record_id)}")


def describe_animation(metadata: dict[str, Any], frames: int) -> None:
    """``frames`` and ``animated: true`` for an animation; a still image has neither."""
    if frames > 1:
        metadata.update(frames=frames, animated=True)


def ingest_images(
    store: VectorStore,
    embedder: ImageEmbedder,
    source: Source,
    options: IngestOptions,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest the image files of ``source`` as ``options`` say; returns what happened.

    ``options.workers``: decode threads (None: one per CPU, at most 8, or 32 for a
    model on a GPU; 0: decode in this thread). ``options.gpu_decode``: JPEGs decoded
    in batches on the model's CUDA GPU (``model_input``). ``options.dry_run``: read, decode and
    embed as a real run would (finding bad files and model problems), write nothing.
    """
    progress = progress or Progress(enabled=False)
    started = time.monotonic()
    run = ImageRun.begin(store, embedder, source, options, progress)
    report = run.report

    items: Iterable[SourceItem | BadItem] = source.items()
    counter = None
    if options.sample is not None:
        items = sample_stream(items, options.sample)
        progress.set_total(len(items))
    else:
        counter = count_in_background(source, progress)
    threads = workers_for(embedder, options.workers)
    pool = ThreadPoolExecutor(threads, "same-same-decode") if threads > 0 else None
    if pool is not None and takes_turns_with_decoding(embedder):
        run.model_idle = threading.Event()
        run.model_idle.set()
    try:
        window = read_ahead(run.batch_size, threads, run.model.item_bytes)
        run.consume(map_in_order(pool, run.prepare, run.planner.plan(items), window))
    finally:
        report.seen = run.planner.seen
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if counter is not None:
            counter.join()
        if run.warming is not None:
            with contextlib.suppress(Exception):  # a load error already ended the run
                run.warming.wait()
    if options.prune:
        run.prune()
    report.seconds = time.monotonic() - started
    progress.close()
    return report
