"""The Milvus store: same-same's VectorStore on a Milvus server, through pymilvus.

Milvus Standalone, Milvus Distributed (Kubernetes) and Zilliz Cloud take the same
client, so this one class serves all three. ``layout`` says how namespaces and
records map onto collections, ``expressions`` how filters become Milvus
expressions, ``search`` how a search runs.

Consistency: every read runs at the URL's consistency level, ``Strong`` by
default, so a batch an ingest has committed is seen by a running server's next
query (Milvus waits for its time tick to pass the request's timestamp: about
half of ``proxy.timeTickInterval`` per request, 200 ms by default on a server).
``?consistency=Bounded`` answers sooner and may miss the last seconds of writes.

Atomicity: one ``upsert`` is one Milvus upsert request, applied whole or not at
all, and record keys are stable, so a killed ingest run again stores every record
once. Milvus has no transactions across requests: a namespace deleted while
another process writes to it may keep that process's last batch.
"""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ...errors import InvalidInputError, RecordNotFoundError, UnsupportedOperationError
from ...records import EmbeddingSpace, Match, NamespaceInfo, Record
from ..base import Filters, VectorStore, namespace_not_found
from ..checks import (
    SearchArgs,
    check_count,
    check_ids,
    check_namespace_name,
    check_namespace_space,
    check_note,
    check_query,
    check_same_space,
    check_search,
    check_space,
)
from ..index_settings import IndexSettings
from ..writers import add_writer, check_writer
from . import reads
from .catalog import Catalog, Entry, create_collection, load
from .client import connect, import_pymilvus, translate_errors
from .layout import (
    HASH,
    ID,
    KEY,
    MAX_VARCHAR_BYTES,
    METADATA,
    NS,
    VECTOR,
    data_index,
    data_schema,
    hash_forms,
    in_list,
    literal,
    optional,
    record_from_row,
    record_key,
    record_row,
)
from .location import MilvusLocation, parse_milvus_url
from .search import Plan, ann, scan
from .sizes import NamespaceSizes

SEARCH_THREADS = 8
"""Searches (and the batches of a large read) in flight at once: each waits on the
server, so several overlap; the server sends this many vector searches at a time."""


class MilvusStore(VectorStore):
    """Namespaces and records in a Milvus database (see ``location`` for the URL)."""

    search_threads = SEARCH_THREADS

    def __init__(self, location: MilvusLocation | str) -> None:
        if isinstance(location, str):
            location = parse_milvus_url(location)
        self.location = location
        self._pymilvus = import_pymilvus()
        self._client = connect(location)
        self._ready: set[str] = set()
        self._always_scan = not IndexSettings.from_env().enabled
        self._pool = concurrent.futures.ThreadPoolExecutor(SEARCH_THREADS, "same-same-milvus")
        self._sizes = NamespaceSizes(self.location.scan_max, self._count)
        with self._errors():
            self._catalog = Catalog(self._client, self._pymilvus, location)

    # -- namespaces ---------------------------------------------------------

    def ensure_namespace(self, name: str, space: EmbeddingSpace) -> NamespaceInfo:
        check_namespace_name(name)
        check_space(space)
        with self._errors():
            existing = self._catalog.find(name)
            if existing is not None:
                check_namespace_space(name, existing.space, space)
                return self._info(existing)
            entry = self._catalog.entry_for(name, space)
            self._collection(entry)
            self._catalog.add(entry)
        return NamespaceInfo(name=name, space=space, count=0)

    def find_namespace(self, name: str) -> NamespaceInfo | None:
        """One round trip when the namespace was seen before: its count is asked for while
        the catalog confirms it (each read waits for a time tick at Strong)."""
        with self._errors():
            seen = self._catalog.remembered([name])
            counting = self._pool.submit(self._count, seen[name]) if seen else None
            entry = self._catalog.find(name)
            count = counting.result() if counting is not None else None
            if entry is None:
                return None
            if seen is None or seen[name] != entry or count is None:
                count = self._count(entry)
            return NamespaceInfo(entry.name, entry.space, count, entry.writers)

    def list_namespaces(self) -> list[NamespaceInfo]:
        with self._errors():
            entries = self._catalog.all()
            return list(self._pool.map(self._info, entries))  # counts in parallel

    def delete_namespace(self, name: str) -> None:
        with self._errors():
            entry = self._entry(name)
            self._collection(entry)
            # Rows first: a crash in between leaves an empty namespace, never orphans.
            self._client.delete(entry.collection, filter=f"{NS} == {literal(entry.uid)}")
            self._catalog.remove(entry)

    # -- records ------------------------------------------------------------

    def upsert(self, namespace: str, records: Sequence[Record], writer: str | None = None) -> int:
        records = list(records)
        with self._errors():
            entry = self._entry(namespace)
            rows: dict[str, dict[str, Any]] = {}
            for record in records:  # checked before anything is sent; the last copy wins
                row = record_row(record, entry.uid, entry.space.dim)
                rows.pop(row[KEY], None)
                rows[row[KEY]] = row
            if rows and writer and writer not in entry.writers:
                # before the rows: the namespace never holds vectors of an unnamed writer
                check_writer(namespace, entry.writers, writer)
                self._catalog.add(replace(entry, writers=add_writer(entry.writers, writer)))
            if rows:
                self._client.upsert(
                    self._collection(entry), list(rows.values()), timeout=self.location.timeout
                )
        return len(records)

    def get(self, record_id: str, namespace: str | None = None) -> tuple[str, Record]:
        """Without a namespace, the first namespace by name holding ``record_id`` wins."""
        with self._errors():
            entries = [self._entry(namespace)] if namespace is not None else self._catalog.all()
            by_collection: dict[str, list[Entry]] = {}
            for entry in entries:
                by_collection.setdefault(entry.collection, []).append(entry)
            found: dict[str, Record] = {}
            for collection, group in by_collection.items():
                keys = [record_key(entry.uid, record_id) for entry in group]
                names = {entry.uid: entry.name for entry in group}
                for row in self._query(collection, in_list(KEY, keys), _ALL_FIELDS):
                    found[names[row[NS]]] = record_from_row(row)
        if found:
            first = min(found)
            return first, found[first]
        where = f"in namespace {namespace!r}" if namespace is not None else "in any namespace"
        raise RecordNotFoundError(f"no record {record_id!r} {where}")

    def delete(self, namespace: str, ids: Sequence[str]) -> int:
        wanted = check_ids(ids)
        deleted = 0
        with self._errors():
            entry = self._entry(namespace)
            collection = self._collection(entry)
            keys = [record_key(entry.uid, record_id) for record_id in wanted]
            rows = reads.by_keys(self._client, self.location, collection, keys, [KEY])
            existing = [row[KEY] for row in rows]
            for start in range(0, len(existing), reads.CHUNK):
                chunk = existing[start : start + reads.CHUNK]
                self._client.delete(collection, ids=chunk, timeout=self.location.timeout)
                deleted += len(chunk)
        return deleted

    def count(self, namespace: str | None = None) -> int:
        with self._errors():
            entries = [self._entry(namespace)] if namespace is not None else self._catalog.all()
            return sum(self._count(entry) for entry in entries)

    def list_records(
        self,
        namespace: str,
        offset: int = 0,
        limit: int = 100,
        with_vectors: bool = False,
        after_id: str | None = None,
    ) -> list[Record]:
        """Pages in id order (keys are ``uid:id``). Without ``with_vectors``, vectors are empty."""
        offset = check_count(offset, "offset", 0)
        limit = check_count(limit, "limit", 0)
        fields = _ALL_FIELDS if with_vectors else [f for f in _ALL_FIELDS if f != VECTOR]
        with self._errors():
            entry = self._entry(namespace)
            after = None if after_id is None else record_key(entry.uid, after_id)
            collection = self._collection(entry)
            keys = reads.page_keys(self._client, self.location, collection, entry.uid,
                                   reads.KeyPage(offset, limit, after))  # fmt: skip
            rows = reads.by_keys(self._client, self.location, entry.collection, keys, fields)
        rows.sort(key=lambda row: row[KEY])
        return [record_from_row(row, with_vectors) for row in rows]

    def scan_metadata(self, namespace: str) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        """Pages through by key; records written during the scan may or may not be seen."""
        with self._errors():
            entry = self._entry(namespace)
        return self._scan_metadata(entry)

    def get_content_hashes(self, namespace: str, ids: Sequence[str]) -> dict[str, str | None]:
        rows = self._rows_by_id(namespace, check_ids(ids), [ID, HASH])
        return {row[ID]: optional(row[HASH]) for row in rows}

    def get_metadata(self, namespace: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = self._rows_by_id(namespace, check_ids(ids), [ID, METADATA])
        return {row[ID]: dict(row[METADATA] or {}) for row in rows}

    def find_vectors_by_hash(self, namespace: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        wanted = check_ids(hashes, "hashes")
        found: dict[str, np.ndarray] = {}
        with self._errors():
            entry = self._entry(namespace)
            collection = self._collection(entry)
            for start in range(0, len(wanted), reads.CHUNK):
                chunk = wanted[start : start + reads.CHUNK]
                stored = [form for h in chunk for form in hash_forms(h)]
                expression = f"{NS} == {literal(entry.uid)} and {in_list(HASH, stored)}"
                for row in self._query(collection, expression, [HASH, VECTOR]):
                    found[row[HASH][1:]] = np.asarray(row[VECTOR], dtype=np.float32)
        return found

    # -- search -------------------------------------------------------------

    def search(
        self,
        namespaces: Sequence[str],
        vector: np.ndarray,
        limit: int = 10,
        filters: Filters | None = None,
        exclude_ids: Sequence[str] = (),
        exact: bool | None = None,
    ) -> list[Match]:
        """Cosine search; ties are ordered by id, then namespace name.

        Exact (a scan) when ``exact`` or when the namespaces hold at most the URL's
        ``scan_max`` records; otherwise through the collection's index.
        """
        args = check_search(namespaces, limit, filters, exclude_ids)
        names = args.names
        with self._errors():
            remembered = self._catalog.remembered(names)
            if remembered is None:  # first time: the catalog's answer before searching
                remembered = self._fresh_entries(names)
            checking = self._pool.submit(self._fresh_entries, names)
            try:
                matches = self._search(remembered, vector, args, exact)
            finally:
                fresh = checking.result()
            if fresh != remembered:  # created, deleted or remade meanwhile: search again
                matches = self._search(fresh, vector, args, exact)
            return matches

    def keyword_search(
        self,
        namespaces: Sequence[str],
        query: str,
        limit: int = 10,
        filters: Filters | None = None,
        vector: np.ndarray | None = None,
    ) -> list[Match]:
        """Not on Milvus 2.3 (it has no full-text index): UnsupportedOperationError."""
        raise UnsupportedOperationError(
            "keyword search needs the embedded store; Milvus 2.3 has no full-text index",
            hint="search with mode 'vector' here",
        )

    # -- notes --------------------------------------------------------------

    def read_note(self, namespace: str, key: str) -> Any | None:
        with self._errors():
            notes = json.loads(self._entry(namespace).notes)
        return notes.get(key)

    def write_note(self, namespace: str, key: str, value: Any) -> None:
        text = check_note(key, value)
        with self._errors():
            entry = self._entry(namespace)
            notes = json.dumps({**json.loads(entry.notes), key: json.loads(text)}, sort_keys=True)
            if len(notes.encode()) > MAX_VARCHAR_BYTES - 4_096:  # the space's fields share it
                raise InvalidInputError(
                    f"namespace {namespace!r}'s notes would not fit in its catalog row"
                )
            self._catalog.add(replace(entry, notes=notes))

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        try:
            self._client.close()
        except Exception:  # noqa: BLE001, S110 - closing a dead connection is not an error
            pass

    # -- internals ----------------------------------------------------------

    def _errors(self) -> Any:
        return translate_errors(self.location)

    def _entry(self, name: str) -> Entry:
        entry = self._catalog.find(name)
        if entry is None:
            raise namespace_not_found(name)
        return entry

    def _fresh_entries(self, names: list[str]) -> dict[str, Entry]:
        found = self._catalog.find_many(names)
        missing = [name for name in names if name not in found]
        if missing:
            raise namespace_not_found(missing[0])
        return found

    def _search(
        self,
        entries: dict[str, Entry],
        vector: np.ndarray,
        args: SearchArgs,
        exact: bool | None,
    ) -> list[Match]:
        space = check_same_space({name: entry.space for name, entry in entries.items()})
        query = check_query(vector, space)
        collection = self._collection(next(iter(entries.values())))
        uids = {entry.uid: name for name, entry in entries.items()}
        plan = Plan(collection, uids, query, args.limit, args.conditions, tuple(args.excluded))
        if exact or self._always_scan or self._sizes.small(entries.values()):
            return scan(self._client, self.location, plan)
        return ann(self._client, self.location, plan)

    def _collection(self, entry: Entry) -> str:
        """``entry``'s data collection, created and loaded the first time it is needed."""
        name = entry.collection
        if name not in self._ready:
            index = data_index(self._client, self.location)
            if not self._client.has_collection(name, timeout=self.location.timeout):
                schema = data_schema(self._pymilvus, entry.space)
                create_collection(self._client, name, schema, index, self.location)
            load(self._client, name, index, self.location)
            self._ready.add(name)
        return name

    def _info(self, entry: Entry) -> NamespaceInfo:
        return NamespaceInfo(entry.name, entry.space, self._count(entry), entry.writers)

    def _count(self, entry: Entry) -> int:
        return reads.count(
            self._client, self.location, self._collection(entry), f"{NS} == {literal(entry.uid)}"
        )

    def _query(self, collection: str, expression: str, fields: list[str]) -> list[dict[str, Any]]:
        return reads.query(self._client, self.location, collection, expression, fields)

    def _pages(self, entry: Entry, fields: list[str]) -> Iterator[list[dict[str, Any]]]:
        collection = self._collection(entry)
        return reads.pages(self._client, self.location, collection, entry.uid, fields)

    def _scan_metadata(self, entry: Entry) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        pages = self._pages(entry, [ID, HASH, METADATA])
        while True:
            with self._errors():
                page = next(pages, None)
            if page is None:
                return
            for row in page:
                yield row[ID], optional(row[HASH]), dict(row[METADATA] or {})

    def _rows_by_id(
        self, namespace: str, wanted: list[str], fields: list[str]
    ) -> list[dict[str, Any]]:
        with self._errors():
            entry = self._entry(namespace)
            keys = [record_key(entry.uid, record_id) for record_id in wanted]
            return reads.by_keys(self._client, self.location, self._collection(entry), keys, fields)


_ALL_FIELDS = [KEY, NS, ID, "text", HASH, METADATA, VECTOR]

__all__ = ["MilvusStore"]
