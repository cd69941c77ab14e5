"""The embedded store: one SQLite file in the data directory, exact search in numpy.

Several processes share the file (``same-same ingest`` writes while ``same-same
serve`` answers); see ``sqlite_schema`` for the settings and the change counter
that lets a running server pick up new commits, and ``matrix_cache`` for how
searches refresh their in-memory matrices incrementally.

Threads: each thread gets its own connection. Searches of one store take turns
on the in-memory matrices (numpy's BLAS already uses every core for one search);
writes go through SQLite's own locking.

Small namespaces are searched exactly, in numpy. Namespaces of at least
``IndexSettings.min_vectors`` records are searched through an approximate index
(``index_cache``, ``index_search``) that every process keeps up to date from the
same change tracking, and that is saved in ``data_dir/index/``; ``exact=True``
still gives the exact answer there. Writes extend the index of a large namespace
as soon as they commit, so the ingest process pays for building it, not the
first search.

This module is the VectorStore API and the order of each operation's steps;
the steps live by concern: ``sqlite_transactions`` (connections, transactions,
the change counter), ``sqlite_rows`` (the SQL for each kind of row) and
``sqlite_search`` (searching one namespace).

A data directory this process cannot write (a read-only mount, files of another
user) is opened read-only: searches and reads work, every write raises
ReadOnlyStoreError, and indexes live in memory unless one was saved before.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RecordNotFoundError, StoreError
from ..records import EmbeddingSpace, Match, NamespaceInfo, Record
from .base import Filters, LoadedIndex, VectorStore, namespace_not_found
from .checks import (
    check_count,
    check_ids,
    check_namespace_name,
    check_namespace_space,
    check_note,
    check_query,
    check_same_space,
    check_search,
    check_space,
    encode_record,
)
from .filter_cache import FilterCache
from .index_cache import IndexCache, IndexStats
from .index_lease import WriterLeases
from .index_settings import IndexSettings
from .matrix_cache import CacheStats, MatrixCache
from .metadata_cache import MetadataCache
from .sqlite_keywords import keyword_matches, select_note, upsert_note
from .sqlite_rows import (
    RecordPageQuery,
    count_all_records,
    decode_vector,
    delete_by_ids,
    delete_namespace_rows,
    insert_namespace,
    scan_metadata_pages,
    select_by_ids,
    select_namespace,
    select_namespaces,
    select_record,
    select_record_page,
    update_namespace_writers,
    upsert_records,
)
from .sqlite_schema import DB_FILENAME, ensure_schema, is_read_only
from .sqlite_search import (
    Hit,
    Query,
    fetch_matches,
    search_namespace,
)
from .sqlite_transactions import SQLiteConnections, log_deletions, mark_changed, next_seq
from .writers import add_writer, check_writer


class SQLiteStore(VectorStore):
    """A store in ``data_dir/same-same.db`` (the directory is created if missing).

    ``index_settings``: when and how large namespaces are indexed (default: from
    the environment, see ``IndexSettings.from_env``).
    """

    def __init__(self, data_dir: Path, index_settings: IndexSettings | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_FILENAME
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the data directory {self.data_dir}: {exc.strerror}"
            ) from None
        self.read_only = is_read_only(self.path)
        """Whether this process cannot write the store (then every write is refused)."""
        self._db = SQLiteConnections(self.path, self.read_only)
        self._cache = MatrixCache()
        self._filters = FilterCache()
        self._metadata = MetadataCache()
        self._indexes = IndexCache(
            self.data_dir,
            index_settings or IndexSettings.from_env(),
            self._db.read_current_seq,
            read_only=self.read_only,
        )
        self._leases = WriterLeases(self.data_dir)
        try:
            with self._db.translate_errors():
                ensure_schema(self._connection(), self.path, self.read_only)
        except BaseException:
            self.close()
            raise

    @property
    def cache_stats(self) -> CacheStats:
        """Counters of the in-memory matrices' refreshes in this process."""
        return self._cache.stats

    @property
    def index_stats(self) -> IndexStats:
        """Counters of the approximate indexes' loads, builds and insertions in this process."""
        return self._indexes.stats

    def loaded_indexes(self) -> list[LoadedIndex]:
        return self._indexes.loaded()

    # -- namespaces ---------------------------------------------------------

    def ensure_namespace(self, name: str, space: EmbeddingSpace) -> NamespaceInfo:
        check_namespace_name(name)
        check_space(space)
        with self._db.translate_errors():
            existing = select_namespace(self._connection(), name)
            if existing is not None:
                check_namespace_space(name, existing.space, space)
                return existing
            self._db.check_writable()
            with self._db.write() as conn:
                existing = select_namespace(conn, name)
                if existing is not None:
                    check_namespace_space(name, existing.space, space)
                    return existing
                insert_namespace(conn, name, space, next_seq(conn))
        return NamespaceInfo(name=name, space=space, count=0)

    def find_namespace(self, name: str) -> NamespaceInfo | None:
        with self._db.translate_errors():
            return select_namespace(self._connection(), name)

    def list_namespaces(self) -> list[NamespaceInfo]:
        with self._db.translate_errors():
            return select_namespaces(self._connection())

    def delete_namespace(self, name: str) -> None:
        self._db.check_writable()
        with self._db.translate_errors(), self._db.write() as conn:
            if select_namespace(conn, name) is None:
                raise namespace_not_found(name)
            next_seq(conn)  # readers notice the namespace is gone
            delete_namespace_rows(conn, name)
        with self._cache.lock:
            self._indexes.forget(name)

    # -- records ------------------------------------------------------------

    def upsert(self, namespace: str, records: Sequence[Record], writer: str | None = None) -> int:
        records = list(records)
        if records:
            self._db.check_writable()
        with self._db.translate_errors():
            if not records:
                self.get_namespace(namespace)
                return 0
            with self._db.write() as conn:
                # Checked inside the transaction: the namespace cannot change under us.
                info = select_namespace(conn, namespace)
                if info is None:
                    raise namespace_not_found(namespace)
                rows = [encode_record(record, info.space.dim) for record in records]
                if writer and writer not in info.writers:
                    check_writer(namespace, info.writers, writer)
                    update_namespace_writers(conn, namespace, add_writer(info.writers, writer))
                seq = next_seq(conn)
                upsert_records(conn, namespace, rows, seq)
                mark_changed(conn, namespace, seq)
            self._update_index(namespace, len(records))
        return len(records)

    def get(self, record_id: str, namespace: str | None = None) -> tuple[str, Record]:
        """Without a namespace, the first namespace by name holding ``record_id`` wins."""
        with self._db.translate_errors():
            if namespace is not None:
                names = [self.get_namespace(namespace).name]
            else:
                names = [info.name for info in self.list_namespaces()]
            conn = self._connection()
            for name in names:
                record = select_record(conn, name, record_id)
                if record is not None:
                    return name, record
        where = f"in namespace {namespace!r}" if namespace is not None else "in any namespace"
        raise RecordNotFoundError(f"no record {record_id!r} {where}")

    def delete(self, namespace: str, ids: Sequence[str]) -> int:
        wanted = check_ids(ids)
        with self._db.translate_errors():
            self.get_namespace(namespace)
            if not wanted:
                return 0
            self._db.check_writable()
            with self._db.write() as conn:
                if select_namespace(conn, namespace) is None:
                    raise namespace_not_found(namespace)
                deleted = delete_by_ids(conn, namespace, wanted)
                if deleted:
                    seq = next_seq(conn)
                    log_deletions(conn, namespace, seq, deleted)
                    mark_changed(conn, namespace, seq)
            if deleted:
                self._update_index(namespace, len(deleted))
        return len(deleted)

    def count(self, namespace: str | None = None) -> int:
        if namespace is not None:
            return self.get_namespace(namespace).count
        with self._db.translate_errors():
            return count_all_records(self._connection())

    def list_records(
        self,
        namespace: str,
        offset: int = 0,
        limit: int = 100,
        with_vectors: bool = False,
        after_id: str | None = None,
    ) -> list[Record]:
        """Without ``with_vectors``, each record's vector is an empty array."""
        page = RecordPageQuery(
            check_count(offset, "offset", 0), check_count(limit, "limit", 0), with_vectors, after_id
        )
        with self._db.translate_errors():
            self.get_namespace(namespace)
            return select_record_page(self._connection(), namespace, page)

    def scan_metadata(self, namespace: str) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        """Pages through by id, so no read transaction stays open while the caller works.

        Records written during the scan may or may not be seen.
        """
        self.get_namespace(namespace)
        return scan_metadata_pages(self._db, namespace)

    def get_content_hashes(self, namespace: str, ids: Sequence[str]) -> dict[str, str | None]:
        rows = self._by_ids(namespace, "id, content_hash", "id", check_ids(ids))
        return {record_id: content_hash for record_id, content_hash in rows}

    def get_metadata(self, namespace: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = self._by_ids(namespace, "id, metadata", "id", check_ids(ids))
        return {record_id: json.loads(metadata) for record_id, metadata in rows}

    def find_vectors_by_hash(self, namespace: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        wanted = check_ids(hashes, "hashes")
        rows = self._by_ids(namespace, "content_hash, vector", "content_hash", wanted)
        return {content_hash: decode_vector(vector) for content_hash, vector in rows}

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

        Namespaces the index serves are searched approximately unless ``exact``.
        """
        args = check_search(namespaces, limit, filters, exclude_ids)
        names, limit, conditions, excluded = args.names, args.limit, args.conditions, args.excluded
        with self._db.translate_errors(), self._cache.lock, self._db.read() as conn:
            self._refresh(conn)
            missing = [name for name in names if name not in self._cache.namespaces]
            if missing:
                raise namespace_not_found(missing[0])
            space = check_same_space({name: self._cache.namespaces[name].space for name in names})
            query = Query(check_query(vector, space), limit, conditions, excluded, exact is True)
            found: list[Hit] = []
            for name in names:
                found.extend(
                    search_namespace(
                        conn, name, query, self._cache, self._indexes, self._filters, self._metadata
                    )
                )
            found.sort(key=lambda hit: (-hit[0], hit[1], hit[2]))
            return fetch_matches(conn, found[:limit])

    def keyword_search(
        self,
        namespaces: Sequence[str],
        query: str,
        limit: int = 10,
        filters: Filters | None = None,
        vector: np.ndarray | None = None,
    ) -> list[Match]:
        """BM25 over the FTS5 table the triggers keep (``sqlite_keywords``)."""
        args = check_search(namespaces, limit, filters, ())
        with self._db.translate_errors(), self._db.read() as conn:
            return keyword_matches(conn, args, query, vector)

    # -- notes --------------------------------------------------------------

    def read_note(self, namespace: str, key: str) -> Any | None:
        with self._db.translate_errors():
            self.get_namespace(namespace)
            return select_note(self._connection(), namespace, key)

    def write_note(self, namespace: str, key: str, value: Any) -> None:
        text = check_note(key, value)
        self._db.check_writable()
        with self._db.translate_errors(), self._db.write() as conn:
            if select_namespace(conn, namespace) is None:
                raise namespace_not_found(namespace)
            upsert_note(conn, namespace, key, text)

    # -- lifecycle ----------------------------------------------------------

    def save_indexes(self) -> None:
        """Save the indexes this process changed now, instead of at ``close``.

        Raises what stopped a save (DiskFullError, ReadOnlyStoreError, StoreError);
        the records are stored either way, and the last saved index stays usable.
        """
        with self._cache.lock:
            failure = self._indexes.save_all()
        if failure is not None:
            raise failure

    def close(self) -> None:
        """Save the indexes this process changed (a failure is logged, not raised: it
        cannot lose a record) and close every connection."""
        try:
            with self._cache.lock:
                try:
                    self._indexes.save_all()
                finally:
                    self._indexes.clear()
        finally:
            self._leases.release_all()
            self._db.close()
            with self._cache.lock:
                self._cache.clear()
                self._filters.clear()
                self._metadata.clear()

    # -- internals ----------------------------------------------------------

    def _by_ids(
        self, namespace: str, columns: str, key: str, wanted: list[str]
    ) -> list[tuple[Any, ...]]:
        with self._db.translate_errors():
            self.get_namespace(namespace)
            return select_by_ids(self._connection(), namespace, columns, key, wanted)

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (see ``SQLiteConnections``)."""
        return self._db.connection()

    def _refresh(self, conn: sqlite3.Connection) -> None:
        """Bring the matrices and the indexes to the snapshot ``conn`` reads."""
        self._cache.refresh(conn)
        self._indexes.refresh(conn, self._cache.namespaces, self._cache.seq, self._cache.horizon)

    def _update_index(self, namespace: str, records: int) -> None:
        """Extend a large namespace's index with the ``records`` just committed (and maybe
        save it), unless another writer maintains it (``index_lease``)."""
        if not self._indexes.enabled:
            return
        with self._cache.lock, self._db.read() as conn:
            self._refresh(conn)
            row = self._cache.namespaces.get(namespace)
            if (
                row is not None
                and self._indexes.serves(namespace, row)
                and self._leases.holds(namespace, records)
            ):
                self._cache.drop(namespace)
                self._indexes.index(conn, namespace, row, self._cache.seq, self._cache.horizon)


__all__ = ["SQLiteStore"]
