"""The image pipeline: walk a source, skip what is unchanged, decode in parallel, embed in batches.

For each file, in the source's order:

1. ``stat`` it. Same size and mtime as its stored record (and the same source
   metadata): *unchanged*, nothing is read.
2. Otherwise a decode worker reads it once, hashes it (sha256), and decodes and
   preprocesses it for the model. Content whose hash is already stored is not
   decoded: its vector is *reused* (a renamed, moved, copied or touched file).
3. Full batches are embedded (``embed_preprocessed``; ``embed_images`` for
   embedders without a separate preprocessing step) and committed with one
   ``upsert`` each, so a kill loses at most the batch in flight.

Decoding runs in a thread pool while the model embeds: Pillow and numpy release the
GIL for the heavy work, and threads share the set of known hashes and hand pixels
over without pickling. Results are consumed in source order, so batches (and
everything stored) are the same whatever the timing. Bad files are reported as
"skipping LOCATION: REASON" and never stop the run.

The model loads in a background thread as soon as the first file needs embedding,
while the first files decode (a run where nothing changed never loads it), and
decoding runs up to a few batches ahead of the model, so neither waits for the
other when their speeds wobble.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..embedders import Embedder
from ..errors import InvalidInputError, NamespaceNotFoundError, UnsupportedModalityError
from ..imaging import ImageDecodeError
from ..imaging.prepare import PreparedImage, Preprocess, prepare_image_file
from ..records import Record
from ..sources import BadItem, Source, SourceItem
from ..sources.images import ImageSource, describe_os_error
from ..storage import VectorStore
from .batching import sample_stream
from .progress import Progress
from .report import IngestReport
from .text import check_namespace_space

MAX_DEFAULT_WORKERS = 8
"""Decode threads share the CPU with a model that runs there; more than 8 only contend."""
MAX_GPU_WORKERS = 32
"""With the model on a GPU, decoding is the CPU's only job: every core decodes."""
FALLBACK_MIN_SIDE = 448
"""Decode target for embedders that do not say their input size (covers 224-448 px models)."""
READ_AHEAD_BATCHES = 4
"""Files decoded ahead of the model, in batches; bounded by READ_AHEAD_BYTES."""
READ_AHEAD_BYTES = 384 * 2**20

PIPELINE_KEYS = frozenset({"namespace", "width", "height", "bytes", "mtime", "sha256"})
"""Metadata the pipeline adds; everything else comes from the source."""


def default_workers(device: str = "cpu") -> int:
    """Decode threads when none are asked for: one per CPU, at most 8 (32 for a GPU model)."""
    cap = MAX_GPU_WORKERS if device.startswith("cuda") else MAX_DEFAULT_WORKERS
    return max(1, min(cap, os.cpu_count() or 1))


def draft_side(config: Any) -> int:
    """The side JPEGs are draft-decoded to for a model of ``config`` (its larger input side).

    libjpeg then decodes at the smallest of 1/8, 1/4, 1/2, 1/1 scale that keeps both
    sides at least this long (a 3000x2000 photo at 1/8: 375x250): several times
    faster, and the model's own resize still only ever shrinks.
    """
    return max(int(config.height), int(config.width))


# -- what each file turns into -------------------------------------------------


@dataclass
class _Stored:
    """A record of this namespace as it was before the run."""

    size_bytes: Any
    mtime: Any
    sha256: str | None
    metadata: dict[str, Any]


@dataclass
class _File:
    """A file of the source, as the pipeline tracks it."""

    location: str
    record_id: str
    path: Path
    metadata: dict[str, Any]


@dataclass
class _Job:
    """A file to read and decode in a worker."""

    file: _File
    mtime: float


@dataclass
class _Ready:
    """A file ready for a batch: prepared now, or unchanged content with new metadata."""

    file: _File
    sha256: str
    prepared: PreparedImage | None = None


@dataclass
class _Unchanged:
    location: str


@dataclass
class _Skip:
    location: str
    reason: str


_Outcome = _Ready | _Unchanged | _Skip


@dataclass
class _ModelInput:
    """How files become vectors for one embedder."""

    preprocess: Preprocess | None
    min_side: int
    embed: Callable[[Sequence[PreparedImage]], np.ndarray]
    item_bytes: int = 3 * FALLBACK_MIN_SIDE * FALLBACK_MIN_SIDE * 4
    """Memory one decoded file holds until it is embedded (sizes the read-ahead)."""
    warm_up: Callable[[], None] | None = None
    """Loads the model; run in the background while the first files decode."""


def _model_input(embedder: Embedder) -> _ModelInput:
    if not embedder.supports_images:
        raise UnsupportedModalityError(
            f"embedder {embedder.name!r} embeds text only", hint="use -e clip for images"
        )
    config = getattr(embedder, "preprocess_config", None)
    embed_preprocessed = getattr(embedder, "embed_preprocessed", None)
    if config is not None and callable(embed_preprocessed):
        from ..embedders.clip.preprocess import preprocess_image

        def embed_pixels(prepared: Sequence[PreparedImage]) -> np.ndarray:
            pixels = [p.pixels for p in prepared if p.pixels is not None]
            assert len(pixels) == len(prepared), "every file was preprocessed"
            result: np.ndarray = embed_preprocessed(np.stack(pixels))
            return result

        return _ModelInput(
            preprocess=functools.partial(preprocess_image, config=config),
            min_side=draft_side(config),
            embed=embed_pixels,
            item_bytes=4 * int(np.prod(config.shape)),
            warm_up=_warm_up_hook(embedder),
        )

    def embed_decoded(prepared: Sequence[PreparedImage]) -> np.ndarray:
        return embedder.embed_images([p.image for p in prepared if p.image is not None])

    return _ModelInput(
        preprocess=None,
        min_side=FALLBACK_MIN_SIDE,
        embed=embed_decoded,
        warm_up=_warm_up_hook(embedder),
    )


def _warm_up_hook(embedder: Embedder) -> Callable[[], None] | None:
    hook = getattr(embedder, "prepare_images", None)
    return hook if callable(hook) else None


class _Background:
    """One call in a daemon thread; ``wait`` returns when it is done and re-raises its error."""

    def __init__(self, work: Callable[[], None]) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(work,), name="same-same-model-load", daemon=True
        )
        self._thread.start()

    def _run(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread in wait()
            self._error = exc

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error


# -- the run -------------------------------------------------------------------


@dataclass
class _Run:
    store: VectorStore
    source: Source
    namespace: str
    batch_size: int
    dry_run: bool
    verbose: bool
    progress: Progress
    report: IngestReport
    model: _ModelInput
    namespace_exists: bool
    stored: dict[str, _Stored] = field(default_factory=dict)
    known_hashes: set[str] = field(default_factory=set)
    seen_ids: set[str] = field(default_factory=set)
    warming: _Background | None = None
    model_idle: threading.Event | None = None
    """Set while the model is not running; None when decoding never waits for it."""

    def start_warm_up(self) -> None:
        if self.warming is None and self.model.warm_up is not None:
            self.warming = _Background(self.model.warm_up)

    def wait_for_model(self) -> None:
        if self.warming is not None:
            self.warming.wait()

    def say(self, text: str) -> None:
        if self.verbose:
            self.progress.message(text)

    def skip(self, location: str, reason: str) -> None:
        self.report.skipped += 1
        self.report.problems.append((location, reason))
        self.progress.message(f"skipping {location}: {reason}")

    # step 1: decide per file, in the main thread, without reading any file
    def plan(self, items: Iterable[SourceItem | BadItem]) -> Iterator[_Job | _Outcome]:
        for item in items:
            self.report.seen += 1
            if isinstance(item, BadItem):
                yield _Skip(item.location, item.reason)
                continue
            if item.path is None or item.id is None:
                yield _Skip(item.location, "the source gave no file path")
                continue
            self.seen_ids.add(item.id)
            file = _File(
                item.location, item.id, item.path, {**item.metadata, "namespace": self.namespace}
            )
            try:
                info = os.stat(file.path)
            except OSError as exc:
                yield _Skip(file.location, describe_os_error(exc))
                continue
            if not stat.S_ISREG(info.st_mode):
                yield _Skip(file.location, "not a regular file")
                continue
            before = self.stored.get(file.record_id)
            if before is None or not before.sha256 or not _same_file(before, info):
                self.start_warm_up()  # this file will most likely need the model
                yield _Job(file, info.st_mtime)
            elif _same_source_metadata(before.metadata, file.metadata):
                yield _Unchanged(file.location)
            else:  # the same file with new labels or a new path: keep its vector
                for key in PIPELINE_KEYS - {"namespace"}:
                    if key in before.metadata:
                        file.metadata[key] = before.metadata[key]
                yield _Ready(file, before.sha256)

    # step 2: in a worker thread
    def prepare(self, job: _Job) -> _Outcome:
        if self.model_idle is not None:
            self.model_idle.wait()
        try:
            prepared = self.prepare_file(job.file, self.known_hashes)
        except ImageDecodeError as exc:
            return _Skip(job.file.location, exc.reason)
        job.file.metadata.update(
            width=prepared.width,
            height=prepared.height,
            bytes=prepared.size_bytes,
            mtime=job.mtime,
            sha256=prepared.sha256,
        )
        return _Ready(job.file, prepared.sha256, prepared)

    def prepare_file(self, file: _File, known_hashes: AbstractSet[str]) -> PreparedImage:
        try:
            return prepare_image_file(
                file.path,
                preprocess=self.model.preprocess,
                min_side=self.model.min_side,
                known_hashes=known_hashes,
            )
        except ImageDecodeError:
            raise
        except Exception as exc:  # noqa: BLE001 - one odd file must not end the ingest
            raise ImageDecodeError(f"cannot prepare image ({type(exc).__name__}: {exc})") from exc

    # step 3: in the main thread
    def consume(self, outcomes: Iterable[_Outcome]) -> None:
        batch: list[_Ready] = []
        for outcome in outcomes:
            if isinstance(outcome, _Skip):
                self.skip(outcome.location, outcome.reason)
                self.progress.advance()
            elif isinstance(outcome, _Unchanged):
                self.report.unchanged += 1
                self.progress.advance()
                self.say(f"unchanged {outcome.location}")
            else:
                batch.append(outcome)
                if len(batch) >= self.batch_size:
                    self.commit(batch)
                    batch = []
        if batch:
            self.commit(batch)

    def commit(self, batch: list[_Ready]) -> None:
        found: dict[str, np.ndarray] = {}
        if self.namespace_exists:
            hashes = sorted({ready.sha256 for ready in batch})
            found = self.store.find_vectors_by_hash(self.namespace, hashes)
        firsts: dict[str, _Ready] = {}  # identical files in one batch are embedded once
        for ready in batch:
            if ready.sha256 not in found:
                firsts.setdefault(ready.sha256, ready)
        embedded, failed = self.embed(list(firsts.values()))
        records: list[Record] = []
        for ready in batch:
            file = ready.file
            if ready.sha256 in failed:
                self.skip(file.location, failed[ready.sha256])
                continue
            reused = firsts.get(ready.sha256) is not ready
            self.report.stored += 1
            self.report.reused += int(reused)
            self.say(f"{'reused vector for' if reused else 'embedded'} {file.location}")
            if not self.dry_run:
                vector = found[ready.sha256] if ready.sha256 in found else embedded[ready.sha256]
                records.append(Record(file.record_id, vector, None, file.metadata, ready.sha256))
        if records:
            self.store.upsert(self.namespace, records)
            self.known_hashes.update(ready.sha256 for ready in firsts.values())
        self.progress.advance(len(batch))

    def embed(self, todo: list[_Ready]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Vectors by hash, and reasons by hash for files that turned out undecodable."""
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
        if not ready_for_model:
            return {}, failed
        self.wait_for_model()
        if self.model_idle is None:
            matrix = self.model.embed(ready_for_model)
        else:
            self.model_idle.clear()
            try:
                matrix = self.model.embed(ready_for_model)
            finally:
                self.model_idle.set()
        return {sha: matrix[row] for row, sha in enumerate(hashes)}, failed

    def prune(self) -> None:
        if not isinstance(self.source, ImageSource):
            return
        gone = [
            record_id
            for record_id, before in sorted(self.stored.items())
            if record_id not in self.seen_ids
            and self.source.owns(before.metadata)
            and _is_gone(before.metadata.get("abs_path"))
        ]
        if gone and not self.dry_run:
            self.store.delete(self.namespace, gone)
        self.report.pruned = len(gone)
        for record_id in gone:
            self.say(f"pruned {self.stored[record_id].metadata.get('abs_path', record_id)}")


def _same_file(before: _Stored, info: os.stat_result) -> bool:
    return before.size_bytes == info.st_size and before.mtime == info.st_mtime


def _same_source_metadata(before: dict[str, Any], now: dict[str, Any]) -> bool:
    kept = {key: value for key, value in before.items() if key not in PIPELINE_KEYS}
    new = {key: value for key, value in now.items() if key not in PIPELINE_KEYS}
    return kept == new and before.get("namespace") == now.get("namespace")


def _is_gone(path: object) -> bool:
    """True only when the file is certainly absent (not merely unreadable)."""
    if not isinstance(path, str) or not path:
        return False
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


def _load_stored(store: VectorStore, namespace: str) -> dict[str, _Stored]:
    stored: dict[str, _Stored] = {}
    for record_id, content_hash, metadata in store.scan_metadata(namespace):
        if metadata.get("type") == "image":
            stored[record_id] = _Stored(
                metadata.get("bytes"), metadata.get("mtime"), content_hash, metadata
            )
    return stored


def _map_in_order(
    pool: ThreadPoolExecutor | None,
    work: Callable[[_Job], _Outcome],
    steps: Iterable[_Job | _Outcome],
    window: int,
) -> Iterator[_Outcome]:
    """Run the jobs among ``steps`` on ``pool``, yielding every outcome in input order.

    At most ``window`` steps are in flight, which bounds memory and keeps the next
    batch decoding while the current one is embedded.
    """
    pending: deque[Future[_Outcome] | _Outcome] = deque()

    def resolve(entry: Future[_Outcome] | _Outcome) -> _Outcome:
        return entry.result() if isinstance(entry, Future) else entry

    for step in steps:
        if isinstance(step, _Job):
            pending.append(pool.submit(work, step) if pool else work(step))
        else:
            pending.append(step)
        while len(pending) > window:
            yield resolve(pending.popleft())
    while pending:
        yield resolve(pending.popleft())


def _count_in_background(source: Source, progress: Progress) -> threading.Thread:
    """Fill in the progress total from a separate walk, so the ingest starts at once."""

    def count() -> None:
        try:
            total = source.count_hint()
        except Exception:  # noqa: BLE001 - a total is a nicety; the ingest reports errors
            return
        if total is not None:
            progress.set_total(total)

    counter = threading.Thread(target=count, name="same-same-count", daemon=True)
    counter.start()
    return counter


def read_ahead(batch_size: int, threads: int, item_bytes: int) -> int:
    """How many files may be in flight (decoding, or decoded and waiting for the model).

    A few batches, so decoding goes on while the model embeds and while it loads,
    within READ_AHEAD_BYTES of decoded pixels; never less than a batch plus two
    files per thread, which keeps every thread busy.
    """
    least = batch_size + 2 * max(threads, 1)
    wanted = READ_AHEAD_BATCHES * batch_size
    affordable = READ_AHEAD_BYTES // max(item_bytes, 1)
    return max(least, min(wanted, affordable))


def takes_turns_with_decoding(embedder: Embedder) -> bool:
    """Whether files are decoded only while the model is not running.

    For models that want every core to themselves (any model on a CPU: torch's
    threads wait for each other, so one core taken by a decode thread stalls all
    of them, and ONNX Runtime measured faster taking turns too) each side gets all
    cores in its turn, which is the rate of a perfect overlap, 1 / (1/model rate +
    1/decode rate). A model on a GPU runs side by side with decoding.
    """
    return bool(getattr(embedder, "wants_cores_to_itself", False))


def _model_device(embedder: Embedder) -> str:
    """Where the model runs (``cpu`` when the embedder does not say); loads nothing."""
    device = getattr(embedder, "model_device", None)
    return device if isinstance(device, str) else "cpu"


def _check_arguments(batch_size: int, sample: int | None, workers: int | None) -> None:
    if batch_size < 1:
        raise InvalidInputError("--batch-size must be at least 1")
    if sample is not None and sample < 1:
        raise InvalidInputError("--sample must be at least 1")
    if workers is not None and workers < 0:
        raise InvalidInputError("--workers must be 0 (decode in the main thread) or more")


def _namespace_exists(store: VectorStore, namespace: str) -> bool:
    try:
        store.get_namespace(namespace)
    except NamespaceNotFoundError:
        return False
    return True


def ingest_images(
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
    """Ingest the image files of ``source`` into ``namespace``; returns what happened.

    ``workers``: decode threads (None: one per CPU, at most 8; 0: decode in this
    thread). ``sample``: a deterministic sample of N files. ``prune``: delete this
    source's records whose files are gone. ``dry_run``: read, decode and embed as a
    real run would (finding bad files and model problems), write nothing.
    """
    _check_arguments(batch_size, sample, workers)
    model = _model_input(embedder)
    progress = progress or Progress(enabled=False)
    report = IngestReport(source.describe(), namespace, dry_run=dry_run, unit="images")
    started = time.monotonic()
    if dry_run:
        check_namespace_space(store, namespace, embedder)
        exists = _namespace_exists(store, namespace)
    else:
        store.ensure_namespace(namespace, embedder.space)
        exists = True
    run = _Run(
        store,
        source,
        namespace,
        batch_size,
        dry_run,
        verbose,
        progress,
        report,
        model,
        exists,
    )
    if exists:
        run.stored = _load_stored(store, namespace)
        run.known_hashes = {s.sha256 for s in run.stored.values() if s.sha256}

    items: Iterable[SourceItem | BadItem] = source.items()
    counter = None
    if sample is not None:
        items = sample_stream(items, sample)
        progress.set_total(len(items))
    else:
        counter = _count_in_background(source, progress)
    device = _model_device(embedder)
    threads = default_workers(device) if workers is None else workers
    pool = ThreadPoolExecutor(threads, "same-same-decode") if threads > 0 else None
    if pool is not None and takes_turns_with_decoding(embedder):
        run.model_idle = threading.Event()
        run.model_idle.set()
    try:
        window = read_ahead(batch_size, threads, model.item_bytes)
        run.consume(_map_in_order(pool, run.prepare, run.plan(items), window))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if counter is not None:
            counter.join()
        if run.warming is not None:
            with contextlib.suppress(Exception):  # a load error already ended the run
                run.warming.wait()
    if prune:
        run.prune()
    report.seconds = time.monotonic() - started
    progress.close()
    return report
