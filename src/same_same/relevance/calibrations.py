"""Making, storing and finding namespaces' calibrations.

``Calibrations.current`` is what a text or image search asks: the namespace's
calibration at its present size, made now (the null queries embedded with the
namespace's own model and searched in it, a second or two with ViT-B-32 on a CPU)
when the stored one is missing or stale. ``Calibrations.stored`` is what a raw
vector search asks: whatever is stored, never making one, since a vector search
must not load a model. ``same-same ingest`` refreshes the calibration when it ends,
so searches rarely make one.

A store that cannot be written (a read-only mount) keeps its calibrations in this
process's memory only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..embedders import Embedder, is_image_embedder
from ..errors import ReadOnlyStoreError
from ..records import EmbeddingSpace, NamespaceInfo
from .calibration import NOTE_KEY, Calibration, fit_nulls
from .duplicate_threshold import measure_duplicate_threshold
from .null_set import NULL_TEXTS, null_images

if TYPE_CHECKING:
    from ..embedder_cache import EmbedderCache
    from ..storage import VectorStore


def calibrate(store: VectorStore, info: NamespaceInfo, embedder: Embedder) -> Calibration:
    """A new calibration of ``info``'s namespace, made with its model ``embedder``."""

    def search(vectors: np.ndarray, depth: int) -> list[list[float]]:
        rows = []
        for vector in vectors:
            matches = store.search([info.name], vector, limit=depth)
            rows.append([match.score for match in matches])
        return rows

    text_vectors = _per_space(("text", embedder.space), lambda: embedder.embed_texts(NULL_TEXTS))
    image_vectors = None
    threshold = None
    if is_image_embedder(embedder):
        image_vectors = _per_space(
            ("image", embedder.space), lambda: embedder.embed_images(null_images())
        )
        threshold = float(
            _per_space(
                ("duplicates", embedder.space),
                lambda: np.float64(measure_duplicate_threshold(embedder.embed_images)),
            )
        )
    text, image = fit_nulls(text_vectors, image_vectors, search)
    return Calibration(
        space=info.space,
        record_count=info.count,
        text=text,
        image=image,
        duplicate_threshold=threshold,
    )


_MODEL_ANSWERS: dict[tuple[str, EmbeddingSpace], np.ndarray] = {}
_MODEL_ANSWERS_LOCK = threading.Lock()


def _per_space(key: tuple[str, EmbeddingSpace], compute: Callable[[], Any]) -> Any:
    """What a model answers to the fixed null set, once per space and process: a space
    names one model, and its answers do not depend on any namespace's records."""
    with _MODEL_ANSWERS_LOCK:
        known = _MODEL_ANSWERS.get(key)
    if known is None:
        known = compute()
        with _MODEL_ANSWERS_LOCK:
            _MODEL_ANSWERS[key] = known
    return known


class Calibrations:
    """The calibrations of one store's namespaces, cached in memory; thread-safe."""

    def __init__(self, store: VectorStore, embedders: EmbedderCache) -> None:
        self.store = store
        self.embedders = embedders
        self._memory: dict[str, Calibration] = {}
        self._lock = threading.Lock()
        self._making: dict[str, threading.Lock] = {}

    def stored(self, info: NamespaceInfo) -> Calibration | None:
        """The namespace's calibration if one was made for its space, current or not."""
        from ..embedder_cache import has_registered_embedder

        if not has_registered_embedder(info.space):
            return None  # raw vectors are never calibrated: no note to read per search
        remembered = self._memory.get(info.name)
        if remembered is not None and remembered.space == info.space:
            return remembered
        found = self._read(info)
        if found is not None:
            self._memory[info.name] = found
        return found

    def stored_is_current(self, info: NamespaceInfo) -> bool:
        found = self.stored(info)
        return found is not None and found.is_current(info)

    def current(self, info: NamespaceInfo, embedder: Embedder | None = None) -> Calibration | None:
        """A calibration at the namespace's present size; None for raw-vector or empty ones."""
        from ..embedder_cache import has_registered_embedder

        if info.count == 0 or not has_registered_embedder(info.space):
            return None
        remembered = self._memory.get(info.name)
        if remembered is not None and remembered.is_current(info):
            return remembered
        with self._lock_for(info.name):
            remembered = self._memory.get(info.name)
            if remembered is not None and remembered.is_current(info):
                return remembered
            found = self._read(info)
            if found is None or not found.is_current(info):
                found = self.refresh(info, embedder)
            self._memory[info.name] = found
            return found

    def refresh(self, info: NamespaceInfo, embedder: Embedder | None = None) -> Calibration:
        """Make the namespace's calibration again and store it."""
        model = embedder if embedder is not None else self.embedders.get(info.space)
        made = calibrate(self.store, info, model)
        try:
            self.store.write_note(info.name, NOTE_KEY, made.to_dict())
        except ReadOnlyStoreError:
            pass  # kept in memory: a read-only store still answers with relevance
        self._memory[info.name] = made
        return made

    def _read(self, info: NamespaceInfo) -> Calibration | None:
        found = Calibration.from_dict(self.store.read_note(info.name, NOTE_KEY))
        return found if found is not None and found.space == info.space else None

    def _lock_for(self, name: str) -> threading.Lock:
        with self._lock:
            return self._making.setdefault(name, threading.Lock())


__all__ = ["Calibrations", "calibrate"]
