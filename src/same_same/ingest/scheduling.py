"""How the image pipeline keeps decoding and the model busy: decode threads, the
read-ahead window, taking turns on a CPU, and work in the background.

Decoding runs in a thread pool while the model embeds: Pillow and numpy release the
GIL for the heavy work, and threads share the set of known hashes and hand pixels
over without pickling. Results are consumed in source order, so batches (and
everything stored) are the same whatever the timing.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from ..embedders import ImageEmbedder
from ..sources import Source
from .image_plan import Job, Outcome
from .progress import Progress

MAX_DEFAULT_WORKERS = 8
"""Decode threads share the CPU with a model that runs there; more than 8 only contend."""
MAX_GPU_WORKERS = 32
"""With the model on a GPU, decoding is the CPU's only job: every core decodes."""
READ_AHEAD_BATCHES = 4
"""Files decoded ahead of the model, in batches; bounded by READ_AHEAD_BYTES."""
READ_AHEAD_BYTES = 384 * 2**20


def default_workers(device: str = "cpu") -> int:
    """Decode threads when none are asked for: one per CPU, at most 8 (32 for a GPU model)."""
    cap = MAX_GPU_WORKERS if device.startswith("cuda") else MAX_DEFAULT_WORKERS
    return max(1, min(cap, os.cpu_count() or 1))


def workers_for(embedder: ImageEmbedder, requested: int | None) -> int:
    """Decode threads for ``embedder``'s device; ``requested`` when the user chose."""
    return default_workers(embedder.device) if requested is None else requested


def takes_turns_with_decoding(embedder: ImageEmbedder) -> bool:
    """Whether files are decoded only while the model is not running.

    For models that want every core to themselves (any model on a CPU: torch's
    threads wait for each other, so one core taken by a decode thread stalls all
    of them, and ONNX Runtime measured faster taking turns too, figures in
    docs/performance-notes.md) each side gets all cores in its turn, which is the
    rate of a perfect overlap, 1 / (1/model rate + 1/decode rate). A model on a GPU
    runs side by side with decoding.
    """
    return embedder.wants_cores_to_itself


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


def map_in_order(
    pool: ThreadPoolExecutor | None,
    work: Callable[[Job], Outcome],
    steps: Iterable[Job | Outcome],
    window: int,
) -> Iterator[Outcome]:
    """Run the jobs among ``steps`` on ``pool``, yielding every outcome in input order.

    At most ``window`` steps are in flight, which bounds memory and keeps the next
    batch decoding while the current one is embedded. Without a pool, jobs run here.
    """
    pending: deque[Future[Outcome] | Outcome] = deque()

    def resolve(entry: Future[Outcome] | Outcome) -> Outcome:
        return entry.result() if isinstance(entry, Future) else entry

    for step in steps:
        if isinstance(step, Job):
            pending.append(pool.submit(work, step) if pool else work(step))
        else:
            pending.append(step)
        while len(pending) > window:
            yield resolve(pending.popleft())
    while pending:
        yield resolve(pending.popleft())


class Background:
    """One call in a daemon thread; ``wait`` returns when it is done and re-raises its error."""

    def __init__(self, work: Callable[[], None], name: str) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
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


def count_in_background(source: Source, progress: Progress) -> threading.Thread:
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
