"""What the text and image pipelines share: the target namespace, the report of each
item, and checking vectors before they are stored."""

from __future__ import annotations

import numpy as np

from ..embedders import Embedder
from ..identifiers import check_namespace_name
from ..records import EmbeddingSpace, NamespaceInfo
from ..storage import VectorStore
from ..storage.checks import check_namespace_space
from .progress import Progress
from .report import IngestReport


class NamespaceTarget:
    """The namespace an ingest writes, created only when its first record is stored.

    A namespace records the embedding space of its vectors. Creating it before
    anything is stored would lock it to a model that may not even load (offline
    weights), so a run that stores nothing leaves no trace. The space is checked up
    front all the same: a mismatch is refused before any work is done.
    """

    def __init__(self, store: VectorStore, name: str, embedder: Embedder) -> None:
        self.store = store
        self.name = name
        self.embedder = embedder
        self.space: EmbeddingSpace = embedder.space
        self.info: NamespaceInfo | None = store.find_namespace(name)
        if self.info is not None:
            check_namespace_space(name, self.info.space, self.space)
            # an int8 namespace takes int8 vectors only, an fp32 one fp32 (storage.writers)
            embedder.follow_namespace(self.info)
        else:  # refused before any work, not at the first commit
            check_namespace_name(name)

    @property
    def exists(self) -> bool:
        return self.info is not None

    def ensure(self) -> None:
        """Create the namespace (once) before the first upsert."""
        if self.info is None:
            self.info = self.store.ensure_namespace(self.name, self.space)

    @property
    def writer(self) -> str | None:
        """What the namespace records as the writer of the vectors this ingest stores."""
        return self.embedder.writer


class ItemLog:
    """Counts what happens to items in the report and tells the person watching."""

    def __init__(self, report: IngestReport, progress: Progress, verbose: bool) -> None:
        self.report = report
        self.progress = progress
        self.verbose = verbose

    def skip(self, location: str, reason: str) -> None:
        """A bad item (unreadable, undecodable): reported with its reason, not stored."""
        self.report.skipped += 1
        self.report.problems.append((location, reason))
        self.progress.message(f"skipping {location}: {reason}")

    def fail(self, location: str, reason: str) -> None:
        """A good item the model could not embed: reported with its reason, not stored."""
        self.report.failed += 1
        self.report.problems.append((location, reason))
        self.progress.message(f"failed {location}: {reason}")

    def say(self, text: str) -> None:
        if self.verbose:
            self.progress.message(text)


def unusable_rows(vectors: np.ndarray) -> set[int]:
    """Rows that cannot be stored: not finite, or all zero (no direction to compare)."""
    finite = np.isfinite(vectors).all(axis=1)
    nonzero = np.any(vectors != 0, axis=1)
    return {int(row) for row in np.flatnonzero(~(finite & nonzero))}


UNUSABLE_VECTOR = "the model gave no usable vector (not finite, or all zeros)"


def choose_batch_size(requested: int | None, embedder: Embedder) -> int:
    return requested if requested is not None else embedder.batch_size
