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
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    InvalidInputError,
    RecordNotFoundError,
    SameSameError,
    SpaceMismatchError,
    StoreError,
)
from ..filters import FilterSet, parse_filters
from ..records import EmbeddingSpace, Match, NamespaceInfo, Record
from .base import Filters, VectorStore, namespace_not_found
from .checks import (
    check_count,
    check_ids,
    check_namespace_name,
    check_query,
    check_same_space,
    check_space,
    encode_record,
)
from .filter_cache import FilterCache, select_rowids
from .index_cache import IndexCache, IndexStats
from .index_search import search_index
from .index_settings import IndexSettings
from .matrix import SearchMatrix, normalize_rows_in_place, select_top
from .matrix_cache import CacheStats, MatrixCache, NamespaceRow
from .sql_filters import build_filter_sql
from .sqlite_schema import BUSY_TIMEOUT_S, DB_FILENAME, connect, ensure_schema

_CHUNK = 10_000
"""Ids per query when looking many up at once (they travel as one JSON parameter)."""
_KEPT_DELETIONS = 100_000
"""Rows kept in the deletion log; readers further behind reload a namespace in full."""

_RECORD_COLUMNS = "id, text, metadata, content_hash"
_UPSERT_SQL = """
INSERT INTO records (namespace, id, vector, text, metadata, content_hash, seq)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (namespace, id) DO UPDATE SET
    vector = excluded.vector, text = excluded.text, metadata = excluded.metadata,
    content_hash = excluded.content_hash, seq = excluded.seq
"""


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
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        self._cache = MatrixCache()
        self._filters = FilterCache()
        self._indexes = IndexCache(
            self.data_dir,
            index_settings or IndexSettings.from_env(),
            self._read_current_seq,
        )
        try:
            with self._sqlite_errors():
                ensure_schema(self._connection(), self.path)
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

    # -- namespaces ---------------------------------------------------------

    def ensure_namespace(self, name: str, space: EmbeddingSpace) -> NamespaceInfo:
        check_namespace_name(name)
        check_space(space)
        with self._sqlite_errors():
            existing = _select_namespace(self._connection(), name)
            if existing is not None:
                _refuse_other_space(name, existing.space, space)
                return existing
            with self._write() as conn:
                row = _select_namespace(conn, name)
                if row is not None:
                    _refuse_other_space(name, row.space, space)
                    return row
                seq = _next_seq(conn)
                conn.execute(
                    "INSERT INTO namespaces (name, embedder, model, pretrained, dim,"
                    " created_seq, changed_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (name, space.embedder, space.model, space.pretrained, space.dim, seq, seq),
                )
        return NamespaceInfo(name=name, space=space, count=0)

    def find_namespace(self, name: str) -> NamespaceInfo | None:
        with self._sqlite_errors():
            return _select_namespace(self._connection(), name)

    def list_namespaces(self) -> list[NamespaceInfo]:
        with self._sqlite_errors():
            rows = self._connection().execute(
                f"SELECT {_NAMESPACE_COLUMNS} FROM namespaces ORDER BY name"
            )
            return [_namespace_info(row) for row in rows]

    def delete_namespace(self, name: str) -> None:
        with self._sqlite_errors(), self._write() as conn:
            if _select_namespace(conn, name) is None:
                raise namespace_not_found(name)
            _next_seq(conn)  # readers notice the namespace is gone
            conn.execute("DELETE FROM records WHERE namespace = ?", (name,))
            conn.execute("DELETE FROM deletions WHERE namespace = ?", (name,))
            conn.execute("DELETE FROM namespaces WHERE name = ?", (name,))
        with self._cache.lock:
            self._indexes.forget(name)

    # -- records ------------------------------------------------------------

    def upsert(self, namespace: str, records: Sequence[Record]) -> int:
        records = list(records)
        with self._sqlite_errors():
            if not records:
                self.get_namespace(namespace)
                return 0
            with self._write() as conn:
                # Checked inside the transaction: the namespace cannot change under us.
                info = _select_namespace(conn, namespace)
                if info is None:
                    raise namespace_not_found(namespace)
                rows = [encode_record(record, info.space.dim) for record in records]
                seq = _next_seq(conn)
                conn.executemany(_UPSERT_SQL, [(namespace, *row, seq) for row in rows])
                _mark_changed(conn, namespace, seq)
            self._update_index(namespace)
        return len(records)

    def get(self, record_id: str, namespace: str | None = None) -> tuple[str, Record]:
        """Without a namespace, the first namespace by name holding ``record_id`` wins."""
        with self._sqlite_errors():
            if namespace is not None:
                names = [self.get_namespace(namespace).name]
            else:
                names = [info.name for info in self.list_namespaces()]
            conn = self._connection()
            for name in names:
                row = conn.execute(
                    f"SELECT {_RECORD_COLUMNS}, vector FROM records WHERE namespace = ? AND id = ?",
                    (name, record_id),
                ).fetchone()
                if row is not None:
                    return name, _record(row, with_vector=True)
        where = f"in namespace {namespace!r}" if namespace is not None else "in any namespace"
        raise RecordNotFoundError(f"no record {record_id!r} {where}")

    def delete(self, namespace: str, ids: Sequence[str]) -> int:
        wanted = check_ids(ids)
        with self._sqlite_errors():
            self.get_namespace(namespace)
            if not wanted:
                return 0
            with self._write() as conn:
                if _select_namespace(conn, namespace) is None:
                    raise namespace_not_found(namespace)
                deleted: list[tuple[str, int]] = []
                for chunk in _chunks(wanted):
                    deleted.extend(
                        conn.execute(
                            "DELETE FROM records WHERE namespace = ?"
                            " AND id IN (SELECT value FROM json_each(?)) RETURNING id, rowid",
                            (namespace, json.dumps(chunk)),
                        ).fetchall()
                    )
                if deleted:
                    seq = _next_seq(conn)
                    conn.executemany(
                        "INSERT INTO deletions (seq, namespace, id, record_rowid)"
                        " VALUES (?, ?, ?, ?)",
                        [(seq, namespace, record_id, rowid) for record_id, rowid in deleted],
                    )
                    _mark_changed(conn, namespace, seq)
                    _trim_deletion_log(conn)
            if deleted:
                self._update_index(namespace)
        return len(deleted)

    def count(self, namespace: str | None = None) -> int:
        if namespace is not None:
            return self.get_namespace(namespace).count
        with self._sqlite_errors():
            total = (
                self._connection()
                .execute("SELECT COALESCE(SUM(record_count), 0) FROM namespaces")
                .fetchone()[0]
            )
        return int(total)

    def list_records(
        self, namespace: str, offset: int = 0, limit: int = 100, with_vectors: bool = False
    ) -> list[Record]:
        """Without ``with_vectors``, each record's vector is an empty array."""
        offset = check_count(offset, "offset", 0)
        limit = check_count(limit, "limit", 0)
        vector_column = ", vector" if with_vectors else ""
        with self._sqlite_errors():
            self.get_namespace(namespace)
            rows = self._connection().execute(
                f"SELECT {_RECORD_COLUMNS}{vector_column} FROM records WHERE namespace = ?"
                " ORDER BY id LIMIT ? OFFSET ?",
                (namespace, limit, offset),
            )
            return [_record(row, with_vector=with_vectors) for row in rows]

    def scan_metadata(self, namespace: str) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        """Pages through by id, so no read transaction stays open while the caller works.

        Records written during the scan may or may not be seen.
        """
        self.get_namespace(namespace)
        return self._scan_metadata(namespace)

    def get_content_hashes(self, namespace: str, ids: Sequence[str]) -> dict[str, str | None]:
        rows = self._select_by_ids(namespace, "id, content_hash", "id", check_ids(ids))
        return {record_id: content_hash for record_id, content_hash in rows}

    def get_metadata(self, namespace: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = self._select_by_ids(namespace, "id, metadata", "id", check_ids(ids))
        return {record_id: json.loads(metadata) for record_id, metadata in rows}

    def find_vectors_by_hash(self, namespace: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        wanted = check_ids(hashes, "hashes")
        rows = self._select_by_ids(namespace, "content_hash, vector", "content_hash", wanted)
        return {content_hash: _decode_vector(vector) for content_hash, vector in rows}

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
        conditions = parse_filters(filters)
        limit = check_count(limit, "limit", 1)
        names = list(dict.fromkeys(check_ids(namespaces, "namespaces")))
        if not names:
            raise InvalidInputError("search needs at least one namespace")
        excluded = check_ids(exclude_ids, "exclude_ids")
        with self._sqlite_errors(), self._cache.lock, self._read() as conn:
            self._refresh(conn)
            missing = [name for name in names if name not in self._cache.namespaces]
            if missing:
                raise namespace_not_found(missing[0])
            space = check_same_space({name: self._cache.namespaces[name].space for name in names})
            query = check_query(vector, space)
            found: list[tuple[float, str, str]] = []
            for name in names:
                row = self._cache.namespaces[name]
                if self._indexes.serves(name, row):
                    hits = self._search_index(
                        conn, name, row, query, limit, conditions, excluded, exact is True
                    )
                    found.extend((score, record_id, name) for score, record_id in hits)
                    continue
                matrix = self._cache.matrix(conn, name)
                rows = self._candidate_rows(conn, name, matrix, conditions, excluded)
                found.extend(_best_in_matrix(matrix, query, rows, limit, name))
            found.sort(key=lambda hit: (-hit[0], hit[1], hit[2]))
            return self._matches(conn, found[:limit])

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        with self._cache.lock:
            try:
                self._indexes.save_all()
            finally:
                self._indexes.clear()
        with self._connections_lock:
            self._closed = True
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        with self._cache.lock:
            self._cache.clear()
            self._filters.clear()

    # -- internals ----------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        # A forked child must not touch its parent's SQLite connection; it opens its own.
        if conn is not None and not self._closed and self._local.pid == os.getpid():
            return conn
        with self._connections_lock:
            if self._closed:
                raise StoreError(f"the store at {self.path} is closed")
            conn = connect(self.path)
            self._connections.append(conn)
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; taken up front (IMMEDIATE) so it never fails halfway."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One snapshot for several SELECTs (WAL: writers carry on meanwhile)."""
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")  # nothing was written; this only ends the snapshot

    @contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
        try:
            yield
        except SameSameError:
            raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(
                    f"the store at {self.path} stayed locked by another process for "
                    f"{BUSY_TIMEOUT_S:.0f} s",
                    hint="try again when the other same-same command has finished",
                ) from None
            raise StoreError(f"the store at {self.path} failed: {exc}") from None
        except sqlite3.Error as exc:
            raise StoreError(f"the store at {self.path} failed: {exc}") from None

    def _refresh(self, conn: sqlite3.Connection) -> None:
        """Bring the matrices and the indexes to the snapshot ``conn`` reads."""
        self._cache.refresh(conn)
        self._indexes.refresh(conn, self._cache.namespaces, self._cache.seq, self._cache.horizon)

    def _read_current_seq(self) -> int:
        """The store's seq now, outside any snapshot this thread holds."""
        conn = connect(self.path)
        try:
            return int(
                conn.execute("SELECT value FROM store_state WHERE key = 'seq'").fetchone()[0]
            )
        finally:
            conn.close()

    def _update_index(self, namespace: str) -> None:
        """Extend a large namespace's index with what was just committed (and maybe save it)."""
        if not self._indexes.enabled:
            return
        with self._cache.lock, self._read() as conn:
            self._refresh(conn)
            row = self._cache.namespaces.get(namespace)
            if row is not None and self._indexes.serves(namespace, row):
                self._cache.drop(namespace)
                self._indexes.index(conn, namespace, row, self._cache.seq, self._cache.horizon)

    def _search_index(
        self,
        conn: sqlite3.Connection,
        name: str,
        row: NamespaceRow,
        query: np.ndarray,
        limit: int,
        conditions: FilterSet,
        excluded: list[str],
        exact: bool,
    ) -> list[tuple[float, str]]:
        self._cache.drop(name)  # the index holds the vectors now; free the float32 copy
        index = self._indexes.index(conn, name, row, self._cache.seq, self._cache.horizon)
        allowed: np.ndarray | None = None
        if conditions:
            where, params = build_filter_sql(conditions)
            allowed = self._filters.rowids(conn, self._cache.seq, name, where, params)
        excluded_keys = None
        if excluded:
            excluded_keys = select_rowids(
                conn,
                "namespace = ? AND id IN (SELECT value FROM json_each(?))",
                (name, json.dumps(excluded)),
            )

        def rescore(keys: np.ndarray) -> list[tuple[float, str]]:
            return _rescore(conn, name, query, keys)

        return search_index(
            index,
            query,
            limit,
            rescore,
            self._indexes.settings,
            allowed=allowed,
            excluded=excluded_keys,
            exact=exact,
        )

    def _scan_metadata(self, namespace: str) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
        after = ""
        while True:
            with self._sqlite_errors():
                rows = (
                    self._connection()
                    .execute(
                        "SELECT id, content_hash, metadata FROM records"
                        " WHERE namespace = ? AND id > ? ORDER BY id LIMIT ?",
                        (namespace, after, _CHUNK),
                    )
                    .fetchall()
                )
            for record_id, content_hash, metadata in rows:
                yield record_id, content_hash, json.loads(metadata)
            if len(rows) < _CHUNK:
                return
            after = rows[-1][0]

    def _select_by_ids(
        self, namespace: str, columns: str, key: str, wanted: list[str]
    ) -> list[tuple[Any, ...]]:
        """Rows of ``namespace`` whose ``key`` column (a trusted name) is in ``wanted``."""
        with self._sqlite_errors():
            self.get_namespace(namespace)
            conn = self._connection()
            rows: list[tuple[Any, ...]] = []
            for chunk in _chunks(wanted):
                rows.extend(
                    conn.execute(
                        f"SELECT {columns} FROM records WHERE namespace = ?"
                        f" AND {key} IN (SELECT value FROM json_each(?))",
                        (namespace, json.dumps(chunk)),
                    )
                )
            return rows

    def _candidate_rows(
        self,
        conn: sqlite3.Connection,
        namespace: str,
        matrix: SearchMatrix,
        conditions: FilterSet,
        excluded: list[str],
    ) -> np.ndarray | None:
        """Matrix rows a search may return, or None for all of them."""
        rows: np.ndarray | None = None
        if conditions:
            where, params = build_filter_sql(conditions)
            ids = conn.execute(
                f"SELECT id FROM records WHERE namespace = ? AND {where}", (namespace, *params)
            )
            rows = matrix.rows_for(record_id for (record_id,) in ids)
        if excluded:
            dropped = matrix.rows_for(excluded)
            if len(dropped):
                everything = np.arange(matrix.size) if rows is None else rows
                rows = np.setdiff1d(everything, dropped, assume_unique=True)
        return rows

    def _matches(
        self, conn: sqlite3.Connection, found: list[tuple[float, str, str]]
    ) -> list[Match]:
        by_namespace: dict[str, list[str]] = {}
        for _, record_id, name in found:
            by_namespace.setdefault(name, []).append(record_id)
        details: dict[tuple[str, str], tuple[str | None, dict[str, Any]]] = {}
        for name, ids in by_namespace.items():
            rows = conn.execute(
                "SELECT id, text, metadata FROM records WHERE namespace = ?"
                " AND id IN (SELECT value FROM json_each(?))",
                (name, json.dumps(ids)),
            )
            for record_id, text, metadata in rows:
                details[(name, record_id)] = (text, json.loads(metadata))
        matches = []
        for score, record_id, name in found:
            text, metadata = details[(name, record_id)]
            matches.append(Match(record_id, score, name, text, metadata))
        return matches


_NAMESPACE_COLUMNS = "name, embedder, model, pretrained, dim, record_count"


def _select_namespace(conn: sqlite3.Connection, name: str) -> NamespaceInfo | None:
    row = conn.execute(
        f"SELECT {_NAMESPACE_COLUMNS} FROM namespaces WHERE name = ?", (name,)
    ).fetchone()
    return None if row is None else _namespace_info(row)


def _namespace_info(row: tuple[Any, ...]) -> NamespaceInfo:
    name, embedder, model, pretrained, dim, count = row
    return NamespaceInfo(name, EmbeddingSpace(embedder, model, pretrained, dim), count)


def _refuse_other_space(name: str, existing: EmbeddingSpace, wanted: EmbeddingSpace) -> None:
    if existing != wanted:
        raise SpaceMismatchError(
            f"namespace {name!r} holds vectors of {existing.describe()}, not {wanted.describe()}",
            hint="use another namespace, or delete this one to start over",
        )


def _next_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "UPDATE store_state SET value = value + 1 WHERE key = 'seq' RETURNING value"
    ).fetchall()
    return int(row[0][0])


def _mark_changed(conn: sqlite3.Connection, namespace: str, seq: int) -> None:
    conn.execute("UPDATE namespaces SET changed_seq = ? WHERE name = ?", (seq, namespace))


def _trim_deletion_log(conn: sqlite3.Connection) -> None:
    """Keep the newest log rows; raise the horizon past the ones dropped."""
    last = conn.execute("SELECT MAX(rowid) FROM deletions").fetchone()[0] or 0
    cutoff = last - _KEPT_DELETIONS
    if cutoff <= 0:
        return
    dropped_seq = conn.execute(
        "SELECT MAX(seq) FROM deletions WHERE rowid <= ?", (cutoff,)
    ).fetchone()[0]
    if dropped_seq is None:
        return
    conn.execute("DELETE FROM deletions WHERE rowid <= ?", (cutoff,))
    conn.execute(
        "UPDATE store_state SET value = MAX(value, ?) WHERE key = 'deletions_horizon'",
        (dropped_seq,),
    )


def _best_in_matrix(
    matrix: SearchMatrix, query: np.ndarray, rows: np.ndarray | None, limit: int, name: str
) -> list[tuple[float, str, str]]:
    """``(score, id, namespace)`` of the best ``limit`` rows among ``rows`` (None: all)."""
    if rows is not None and len(rows) == 0:
        return []
    scores = matrix.score(query, rows)
    ids = matrix.ids
    if rows is None:
        positions = select_top(scores, ids.__getitem__, limit)
        return [(_clip_score(scores[p]), ids[p], name) for p in positions]
    candidates = rows
    positions = select_top(scores, lambda p: ids[candidates[p]], limit)
    return [(_clip_score(scores[p]), ids[candidates[p]], name) for p in positions]


def _rescore(
    conn: sqlite3.Connection, name: str, query: np.ndarray, keys: np.ndarray
) -> list[tuple[float, str]]:
    """Float32 cosine scores of index keys (rowids), read back from the records."""
    if len(keys) == 0:
        return []
    # "+namespace": look the rows up by rowid; SQLite would otherwise scan the
    # namespace through its (namespace, ...) indexes.
    rows = conn.execute(
        "SELECT id, vector FROM records WHERE rowid IN (SELECT value FROM json_each(?))"
        " AND +namespace = ?",
        (json.dumps(keys.tolist()), name),
    ).fetchall()
    if not rows:
        return []
    vectors = np.frombuffer(b"".join(blob for _, blob in rows), dtype="<f4")
    # Row by row in float64 (not one BLAS call): a vector's score must not depend on
    # which other rows were re-scored with it, or equal vectors could stop tying.
    block = normalize_rows_in_place(vectors.reshape(len(rows), -1).astype(np.float64))
    scores = (block * query.astype(np.float64)).sum(axis=1)
    return [
        (_clip_score(score), record_id) for (record_id, _), score in zip(rows, scores, strict=True)
    ]


def _clip_score(score: np.floating[Any]) -> float:
    # float32 rounding can take the dot product of unit vectors a hair past +-1.
    return min(1.0, max(-1.0, float(score)))


def _record(row: tuple[Any, ...], with_vector: bool) -> Record:
    record_id, text, metadata, content_hash, *rest = row
    vector = _decode_vector(rest[0]) if with_vector else np.empty(0, dtype=np.float32)
    return Record(
        id=record_id,
        vector=vector,
        text=text,
        metadata=json.loads(metadata),
        content_hash=content_hash,
    )


def _decode_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
