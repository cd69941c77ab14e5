"""One embedder per embedding space for the life of a process, and a cache of query vectors.

A server loads a namespace's model on that namespace's first query and keeps it;
repeating a query costs a dictionary lookup instead of a forward pass. The cache keys on
a SHA-256 digest of the query text, so it holds 32 bytes per query, not the text.

Embedders resolve their backend as an ingest does (clip: ``--backend auto`` by default,
the same recorded check). Writes into a namespace use an embedder that follows the
namespace's precision (``get(space, target)``): an int8 namespace gets int8 vectors.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .embedders import Embedder, EmbedderOptions, canonical_embedder_name, create_embedder_for_space
from .errors import InvalidInputError, SpaceMismatchError, UnknownNameError
from .records import EmbeddingSpace, NamespaceInfo
from .storage.writers import namespace_precision

DEFAULT_QUERY_CACHE_SIZE = 1024


def has_registered_embedder(space: EmbeddingSpace) -> bool:
    """False for namespaces filled with raw vectors (embedder ``external``)."""
    try:
        canonical_embedder_name(space.embedder)
    except UnknownNameError:
        return False
    return True


@dataclass(frozen=True)
class LoadedModel:
    """A model this cache loaded, and how long that took (``/metrics``)."""

    embedder: str
    model: str
    pretrained: str
    precision: str | None
    """The precision of the namespace it writes to; None: it embeds queries."""
    seconds: float


class EmbedderCache:
    """Thread-safe: embedders are created once per space, query vectors kept in an LRU."""

    def __init__(
        self,
        options: EmbedderOptions | None = None,
        max_queries: int = DEFAULT_QUERY_CACHE_SIZE,
    ) -> None:
        self._options = options
        self._max_queries = max_queries
        # keyed by space and the precision of the namespace written to (None: queries)
        self._embedders: dict[tuple[EmbeddingSpace, str | None], Embedder] = {}
        self._creation_locks: dict[tuple[EmbeddingSpace, str | None], threading.Lock] = {}
        self._lock = threading.Lock()
        # keyed by a digest of the text: the cache never holds the texts themselves
        self._queries: OrderedDict[tuple[EmbeddingSpace, bytes], np.ndarray] = OrderedDict()
        self._load_seconds: dict[tuple[EmbeddingSpace, str | None], float] = {}

    def get(self, space: EmbeddingSpace, target: NamespaceInfo | None = None) -> Embedder:
        """The embedder that made ``space``'s vectors (InvalidInputError for raw-vector spaces).

        ``target``: the namespace about to be written; the embedder keeps to the precision
        of its writers, or refuses (SpaceMismatchError) when its backend was chosen
        explicitly and writes the other one.
        """
        precision = namespace_precision(target.writers) if target is not None else None
        key = (space, precision)
        embedder = self._embedders.get(key)
        if embedder is not None:
            return embedder
        if not has_registered_embedder(space):
            raise InvalidInputError(
                f"vectors of {space.describe()} were stored as raw embeddings; "
                "no model is known to embed a query into that space",
                hint="search it with an embedding vector instead",
            )
        with self._lock:
            creation_lock = self._creation_locks.setdefault(key, threading.Lock())
        # One lock per space: a slow model load does not block queries of other spaces.
        with creation_lock:
            embedder = self._embedders.get(key)
            if embedder is None:
                started = time.perf_counter()
                embedder = create_embedder_for_space(space, self._options)
                self._load_seconds[key] = time.perf_counter() - started
                if embedder.space.dim != space.dim:
                    raise SpaceMismatchError(
                        f"the embedder for {space.describe()} now makes vectors of dim "
                        f"{embedder.space.dim}",
                        hint="re-ingest the namespace with the current embedder",
                    )
                if target is not None and precision is not None:  # a write: its precision
                    embedder.follow_namespace(target)
                self._embedders[key] = embedder
        return embedder

    def loaded_models(self) -> list[LoadedModel]:
        """The models loaded so far (one per space and precision), with their load time."""
        return [
            LoadedModel(space.embedder, space.model, space.pretrained, precision, seconds)
            for (space, precision), seconds in list(self._load_seconds.items())
        ]

    def remember(self, embedder: Embedder, load_seconds: float | None = None) -> Embedder:
        """Keep an embedder made elsewhere (by name) for its space; returns the kept one.

        ``load_seconds``: how long making it took, reported as its load time when kept.
        """
        key = (embedder.space, None)
        with self._lock:
            kept = self._embedders.setdefault(key, embedder)
            if kept is embedder and load_seconds is not None:
                self._load_seconds.setdefault(key, load_seconds)
            return kept

    def embed_query(self, space: EmbeddingSpace, text: str) -> np.ndarray:
        """``text`` embedded in ``space``, from the cache when it was asked before."""
        key = (space, hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
        with self._lock:
            cached = self._queries.get(key)
            if cached is not None:
                self._queries.move_to_end(key)
                return cached
        vector = np.asarray(self.get(space).embed(text), dtype=np.float32)
        vector.setflags(write=False)  # shared between requests: nobody may modify it
        with self._lock:
            self._queries[key] = vector
            self._queries.move_to_end(key)
            while len(self._queries) > self._max_queries:
                self._queries.popitem(last=False)
        return vector
