"""Single records by id: add a raw vector, embed and add a text, read, update, delete, page.

The library behind ``/api/v1/vectors``. A namespace created from raw vectors gets
the space ``external:custom (dim N)``: its vectors can be searched by vector, but
no model is known to embed a text query into it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .browse import browse_records
from .config import DEFAULT_NAMESPACE
from .embedder_cache import EmbedderCache, has_registered_embedder
from .embedders import (
    DEFAULT_EMBEDDER,
    Embedder,
    EmbedderOptions,
    create_embedder,
)
from .errors import InvalidInputError
from .filters import FilterSet, parse_filters
from .limits import check_metadata_limits, check_record_text
from .ordering import SortOrder, parse_sort
from .records import (
    EmbeddingSpace,
    NamespaceInfo,
    Record,
    derive_text_id,
    hash_text,
    stamp_namespace,
)
from .storage import Filters, VectorStore
from .validation import (
    check_embedded,
    check_existing_record_id,
    check_limit,
    check_metadata,
    check_offset,
    check_record_id,
    check_text,
    coerce_vector,
    require_namespace,
)

EXTERNAL_EMBEDDER = "external"
EXTERNAL_MODEL = "custom"


def stored_metadata(fields: dict[str, Any], namespace: str) -> dict[str, Any]:
    """``fields`` stamped with the namespace, checked whole against the metadata limits
    before anything (a new namespace included) is written."""
    metadata = stamp_namespace(fields, namespace)
    check_metadata_limits(metadata)
    return metadata


@dataclass(frozen=True)
class StoredRecord:
    namespace: str
    record: Record

    def to_dict(self, include_embedding: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.record.id,
            "namespace": self.namespace,
            "metadata": self.record.metadata,
        }
        if self.record.text is not None:
            out["text"] = self.record.text
        if include_embedding:
            out["embedding"] = np.asarray(self.record.vector, dtype=np.float32).tolist()
        return out


@dataclass(frozen=True)
class RecordPage:
    records: list[StoredRecord]
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        following = self.offset + len(self.records)
        return following if following < self.total and self.records else None

    def to_dict(self, include_embedding: bool = False) -> dict[str, Any]:
        return {
            "vectors": [item.to_dict(include_embedding) for item in self.records],
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
            "next_offset": self.next_offset,
        }


class VectorService:
    def __init__(
        self,
        store: VectorStore,
        embedders: EmbedderCache | None = None,
        embedder_options: EmbedderOptions | None = None,
    ) -> None:
        self.store = store
        self.embedders = embedders or EmbedderCache(embedder_options)
        self._embedder_options = embedder_options

    # -- namespaces ---------------------------------------------------------

    def get_namespace(self, name: str) -> NamespaceInfo:
        return require_namespace(self.store, name)

    def list_namespaces(self) -> list[NamespaceInfo]:
        return self.store.list_namespaces()

    def delete_namespace(self, name: str) -> None:
        self.get_namespace(name)
        self.store.delete_namespace(name)

    # -- writes -------------------------------------------------------------

    def add_vector(
        self,
        embedding: Any,
        *,
        record_id: str | None = None,
        namespace: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        text: str | None = None,
    ) -> StoredRecord:
        """Store a raw vector, normalised to unit length; a new namespace gets an external space."""
        vector = coerce_vector(embedding)  # unit length, normalised in float64
        record_id = uuid.uuid4().hex if record_id is None else check_record_id(record_id)
        namespace = namespace or DEFAULT_NAMESPACE
        info = self.store.find_namespace(namespace)
        dim = int(vector.shape[0])
        if info is not None and info.space.dim != dim:
            raise InvalidInputError(
                f"namespace {namespace!r} holds vectors of {info.space.describe()}; "
                f"this embedding has {dim} values"
            )
        record = Record(
            id=record_id,
            vector=vector,
            text=check_text(text),
            metadata=stored_metadata(check_metadata(metadata), namespace),
        )
        if info is None:
            space = EmbeddingSpace(EXTERNAL_EMBEDDER, EXTERNAL_MODEL, "", dim)
            self.store.ensure_namespace(namespace, space)
        self.store.upsert(namespace, [record])
        return StoredRecord(namespace, record)

    def add_text(
        self,
        text: str,
        *,
        record_id: str | None = None,
        namespace: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> StoredRecord:
        """Embed ``text`` with the namespace's model (``local`` for a new namespace) and store it.

        Without an id, the id derives from the text, as ``same-same ingest`` does, so
        adding the same text twice replaces the record.
        """
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("text must be a non-empty string")
        check_record_text(text)
        namespace = namespace or DEFAULT_NAMESPACE
        record_id = derive_text_id(text) if record_id is None else check_record_id(record_id)
        metadata = stored_metadata({"type": "text", **check_metadata(metadata)}, namespace)
        info = self.store.find_namespace(namespace)
        embedder = self._embedder_for_writing(info)
        record = Record(
            id=record_id,
            vector=check_embedded(embedder.embed(text), "the text"),
            text=text,
            metadata=metadata,
            content_hash=hash_text(text),
        )
        if info is None:  # created only once there is a record to store in it
            self.store.ensure_namespace(namespace, embedder.space)
        self.store.upsert(namespace, [record], embedder.writer)
        return StoredRecord(namespace, record)

    def _embedder_for_writing(self, info: NamespaceInfo | None) -> Embedder:
        if info is not None:  # the precision of what already wrote it (storage.writers)
            return self.embedders.get(info.space, info)
        started = time.perf_counter()
        embedder = create_embedder(DEFAULT_EMBEDDER, self._embedder_options)
        return self.embedders.remember(embedder, load_seconds=time.perf_counter() - started)

    def update(
        self,
        record_id: str,
        *,
        namespace: str | None = None,
        embedding: Any = None,
        metadata: Mapping[str, Any] | None = None,
        text: str | None = None,
    ) -> StoredRecord:
        """Replace the given fields of an existing record.

        A new text without a new embedding is embedded again when the namespace has a
        model; metadata, when given, replaces the old metadata whole.
        """
        home, old = self.store.get(check_existing_record_id(record_id), namespace)
        info = self.get_namespace(home)
        space = info.space
        text = check_text(text)
        vector = old.vector
        content_hash = old.content_hash
        writer = None
        if embedding is not None:
            vector = coerce_vector(embedding)
            if vector.shape[0] != space.dim:
                raise InvalidInputError(
                    f"namespace {home!r} holds vectors of {space.describe()}; "
                    f"this embedding has {vector.shape[0]} values"
                )
            content_hash = None
        elif text is not None and text != old.text and has_registered_embedder(space):
            embedder = self.embedders.get(space, info)
            vector = check_embedded(embedder.embed(text), "the text")
            content_hash = hash_text(text)
            writer = embedder.writer
        record = Record(
            id=old.id,
            vector=vector,
            text=old.text if text is None else text,
            metadata=stored_metadata(
                old.metadata if metadata is None else check_metadata(metadata), home
            ),
            content_hash=content_hash,
            # the image ingest's mark lasts only while its vector and hash are kept
            from_image_ingest=old.from_image_ingest and vector is old.vector,
        )
        self.store.upsert(home, [record], writer)
        return StoredRecord(home, record)

    def delete(self, record_id: str, namespace: str | None = None) -> StoredRecord:
        """Delete one record; returns what was deleted (RecordNotFoundError when absent)."""
        home, record = self.store.get(check_existing_record_id(record_id), namespace)
        self.store.delete(home, [record.id])
        return StoredRecord(home, record)

    # -- reads --------------------------------------------------------------

    def get(self, record_id: str, namespace: str | None = None) -> StoredRecord:
        if namespace is not None:
            self.get_namespace(namespace)
        home, record = self.store.get(check_existing_record_id(record_id), namespace)
        return StoredRecord(home, record)

    def count(self, namespace: str | None = None) -> int:
        if namespace is not None:
            self.get_namespace(namespace)
        return self.store.count(namespace)

    def list_page(
        self,
        namespace: str | None = None,
        offset: int = 0,
        limit: int = 100,
        with_vectors: bool = False,
        filters: Filters | FilterSet | None = None,
        sort: str | SortOrder | None = None,
    ) -> RecordPage:
        """A page of records by id; without a namespace, namespaces follow each other by name.

        ``filters`` keeps only matching records (``total`` counts them); ``sort``
        (``"taken_at"``, ``"-taken_at"``, any field) orders them, see ``browse``.
        """
        offset = check_offset(offset)
        limit = check_limit(limit)
        conditions = parse_filters(filters)
        order = sort if isinstance(sort, SortOrder) else parse_sort(sort)
        infos = [self.get_namespace(namespace)] if namespace is not None else self.list_namespaces()
        if conditions or order is not None:
            found, total = browse_records(self.store, infos, conditions, order, offset, limit)
            return RecordPage(
                records=[StoredRecord(name, record) for name, record in found],
                total=total,
                offset=offset,
                limit=limit,
            )
        total = sum(info.count for info in infos)
        records: list[StoredRecord] = []
        skip = offset
        for info in infos:
            if len(records) >= limit:
                break
            if skip >= info.count:
                skip -= info.count
                continue
            page = self.store.list_records(
                info.name, offset=skip, limit=limit - len(records), with_vectors=with_vectors
            )
            records.extend(StoredRecord(info.name, record) for record in page)
            skip = 0
        return RecordPage(records=records, total=total, offset=offset, limit=limit)
