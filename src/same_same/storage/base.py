"""The store interface. Everything outside ``storage/`` talks to a store only through this.

A distributed engine will later be plugged in behind the same interface; the
contract test suite (tests/test_store_contract.py) runs against every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import NamespaceNotFoundError
from ..records import EmbeddingSpace, Match, NamespaceInfo, Record

Filters = dict[str, Any]
"""Metadata filters: ``{"year": {"gte": 1900}, "author": {"in": ["A", "B"]}}``.

A bare value means ``eq``: ``{"type": "image"}``. Operators: eq, neq, lt, lte, gt,
gte, between, contains, in, exists. All conditions must hold (AND).
"""


@dataclass(frozen=True)
class LoadedIndex:
    """One namespace's approximate index held in memory by this process (``/metrics``)."""

    namespace: str
    vectors: int
    """Vectors in the index as this process holds it."""
    saved_bytes: int | None = None
    """The size of its saved file, as its sidecar says; None: not saved yet."""
    saved_at: float | None = None
    """When that file was saved (Unix time, by any process); None: not saved yet."""


class VectorStore(ABC):
    """A persistent set of namespaces, each holding vectors of one embedding space."""

    search_threads: int = 1
    """How many searches one process usefully runs at once: a server runs its vector
    searches on this many threads (``server.search_runner``). One suits a store whose
    searches take one lock in the process; a store that waits on a server says more."""

    read_only: bool = False
    """Whether writes are refused (e.g. a data directory this process cannot write):
    searches still work; callers that only write (ingest, a watch) refuse to start."""

    # -- namespaces ---------------------------------------------------------

    @abstractmethod
    def ensure_namespace(self, name: str, space: EmbeddingSpace) -> NamespaceInfo:
        """Create ``name`` for ``space``, or return it when it already has that space.

        Raises SpaceMismatchError when it exists with another space.
        """

    @abstractmethod
    def find_namespace(self, name: str) -> NamespaceInfo | None:
        """The namespace called ``name``, or None when there is none.

        Absence is an answer here, not an error: nothing is raised for it.
        """

    def get_namespace(self, name: str) -> NamespaceInfo:
        """The namespace called ``name``; raises NamespaceNotFoundError when there is none."""
        info = self.find_namespace(name)
        if info is None:
            raise namespace_not_found(name)
        return info

    @abstractmethod
    def list_namespaces(self) -> list[NamespaceInfo]:
        """All namespaces, sorted by name."""

    @abstractmethod
    def delete_namespace(self, name: str) -> None:
        """Remove the namespace and its records. Raises NamespaceNotFoundError."""

    # -- records ------------------------------------------------------------

    @abstractmethod
    def upsert(self, namespace: str, records: Sequence[Record], writer: str | None = None) -> int:
        """Insert or replace records, atomically (all or none). Returns how many.

        The namespace must exist. Vectors must have the namespace's dimension and be
        finite (InvalidInputError otherwise). Vectors are stored as given (callers
        normalise); search uses cosine similarity.

        ``writer``: the backend that embedded the vectors (``Embedder.writer``), added
        to ``NamespaceInfo.writers`` with the records; SpaceMismatchError when it would
        mix fp32 and int8 vectors in the namespace (see ``storage.writers``). None
        records nothing (raw vectors).
        """

    @abstractmethod
    def get(self, record_id: str, namespace: str | None = None) -> tuple[str, Record]:
        """Return ``(namespace, record)``. Without a namespace, look in every namespace.

        Raises RecordNotFoundError (or NamespaceNotFoundError for an unknown namespace).
        """

    @abstractmethod
    def delete(self, namespace: str, ids: Sequence[str]) -> int:
        """Delete records by id; returns how many existed."""

    @abstractmethod
    def count(self, namespace: str | None = None) -> int:
        """Records in one namespace, or in all."""

    @abstractmethod
    def list_records(
        self,
        namespace: str,
        offset: int = 0,
        limit: int = 100,
        with_vectors: bool = False,
        after_id: str | None = None,
    ) -> list[Record]:
        """A page of records, in a stable order (by id).

        ``after_id``: only ids after it (it need not exist), then ``offset`` of those
        skipped. A cursor costs the same wherever the page starts; a large offset does not.
        """

    def iter_records(
        self, namespace: str, page_size: int = 1000, with_vectors: bool = True
    ) -> Iterator[list[Record]]:
        """Every record of ``namespace`` by id, ``page_size`` at a time (keyset paging: a
        million records cost a thousand equal pages). Records written meanwhile may or may
        not be seen; each page is read on its own."""
        if page_size < 1:
            raise ValueError(f"page size must be at least 1, not {page_size}")
        after: str | None = None
        while True:
            page = self.list_records(
                namespace, limit=page_size, with_vectors=with_vectors, after_id=after
            )
            if page:
                yield page
                after = page[-1].id
            if len(page) < page_size:
                return

    @abstractmethod
    def scan_metadata(self, namespace: str) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        """Every ``(id, content_hash, metadata)`` in a namespace (for incremental ingest)."""

    @abstractmethod
    def get_content_hashes(self, namespace: str, ids: Sequence[str]) -> dict[str, str | None]:
        """``id -> content_hash`` for the ids that exist."""

    @abstractmethod
    def get_metadata(self, namespace: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``id -> metadata`` for the ids that exist."""

    @abstractmethod
    def find_vectors_by_hash(self, namespace: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """``content_hash -> vector`` for hashes some record in the namespace has."""

    # -- search -------------------------------------------------------------

    @abstractmethod
    def search(
        self,
        namespaces: Sequence[str],
        vector: np.ndarray,
        limit: int = 10,
        filters: Filters | None = None,
        exclude_ids: Sequence[str] = (),
        exact: bool | None = None,
    ) -> list[Match]:
        """Top ``limit`` records by cosine similarity across ``namespaces``.

        Filters are applied before ranking, so ``limit`` results come back whenever
        that many match. ``exact=None`` lets the store choose (exact below a size
        where it is as fast as an index); ``True`` forces exact search.
        """

    @abstractmethod
    def keyword_search(
        self,
        namespaces: Sequence[str],
        query: str,
        limit: int = 10,
        filters: Filters | None = None,
        vector: np.ndarray | None = None,
    ) -> list[Match]:
        """Top ``limit`` records by how well their words match ``query`` (BM25).

        A record's words are its id, its text and the strings in its metadata, split
        as ``keyword_terms`` says; any query term may match (OR), so records matching
        the most and the rarest terms come first; ties are ordered by id, then
        namespace. Records matching no term never come back, nor records whose match
        weighs far less than the best one's (only terms nearly every record has).
        Each match's ``score`` is its cosine similarity to ``vector`` (0.0 without
        one), so keyword and vector answers read alike. Raises UnsupportedOperationError where the
        backend has no keyword index.
        """

    # -- notes --------------------------------------------------------------

    @abstractmethod
    def read_note(self, namespace: str, key: str) -> Any | None:
        """The JSON value last written under ``key`` for ``namespace``, or None.

        Notes are small facts about a namespace that are not records (its relevance
        calibration); they go with the namespace when it is deleted.
        """

    @abstractmethod
    def write_note(self, namespace: str, key: str, value: Any) -> None:
        """Keep ``value`` (JSON-serialisable, at most ``checks.MAX_NOTE_BYTES`` as JSON) under
        ``key`` for ``namespace``, replacing what was there."""

    # -- monitoring ---------------------------------------------------------

    def loaded_indexes(self) -> list[LoadedIndex]:
        """The approximate indexes this process holds, by namespace; none by default.

        Cheap and lock-free: a scrape of ``/metrics`` calls it, and must not wait
        behind an index being built.
        """
        return []

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:  # noqa: B027 - optional for backends
        """Release files and connections."""

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def namespace_not_found(name: str) -> NamespaceNotFoundError:
    """The error every store raises for a namespace that does not exist."""
    return NamespaceNotFoundError(
        f"no namespace {name!r}", hint="`same-same namespaces` lists the existing ones"
    )
