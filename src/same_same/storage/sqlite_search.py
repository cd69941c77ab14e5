"""Searching one namespace of SQLiteStore: an exact scan of its matrix, or its index.

The store holds the cache lock and one read snapshot, refreshes the matrices and
indexes, and merges the hits of every namespace searched; this module does the
work for one namespace inside that snapshot, then reads the winners' text and
metadata (one query per namespace, for the winners only).

For a matrix (a small namespace) a filter runs in SQL and becomes the rows a
scan may return. For an index, it becomes the rowids (its keys) it may return,
from the namespace's metadata index (``metadata_cache``; SQL where that cannot
answer exactly), kept in the filter cache until the next write. Index answers
are re-scored from the float32 vectors in SQLite, so both paths give the same
scores.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..filters import FilterSet
from ..records import Match
from .ann_index import VectorIndex
from .filter_cache import FilterCache, select_rowids
from .index_cache import IndexCache
from .index_search import search_index
from .index_settings import IndexSettings
from .matrix import SearchMatrix, normalize_rows_in_place, select_top
from .matrix_cache import MatrixCache, NamespaceRow
from .metadata_cache import MetadataCache
from .sql_filters import build_filter_sql

Hit = tuple[float, str, str]
"""``(score, record id, namespace)``."""


@dataclass(frozen=True)
class Snapshot:
    """The store state a search reads (its read transaction's)."""

    seq: int
    horizon: int
    """The deletion log's horizon."""
    namespaces: dict[str, NamespaceRow]


@dataclass(frozen=True)
class Query:
    """One search, as each namespace it covers is asked it (already checked)."""

    vector: np.ndarray
    """Unit length, float32, of the namespaces' dimension."""
    limit: int
    conditions: FilterSet
    excluded: list[str]
    """Record ids that must not come back."""
    exact: bool
    """Whether an indexed namespace must give the exact answer too."""


def search_namespace(
    conn: sqlite3.Connection,
    name: str,
    query: Query,
    cache: MatrixCache,
    indexes: IndexCache,
    filters: FilterCache,
    metadata: MetadataCache,
) -> list[Hit]:
    """``query``'s best hits in namespace ``name``: through its index when the index
    serves it (the float32 matrix is dropped then), else exactly in the matrix."""
    row = cache.namespaces[name]
    if not indexes.serves(name, row):
        return search_matrix(conn, name, cache.matrix(conn, name), query)
    cache.drop(name)
    snapshot = Snapshot(cache.seq, cache.horizon, cache.namespaces)
    index = indexes.index(conn, name, row, snapshot.seq, snapshot.horizon)
    allowed = RowidSelector(conn, snapshot, name, filters, metadata)
    return search_through_index(conn, name, index, query, indexes.settings, allowed)


def search_matrix(
    conn: sqlite3.Connection, name: str, matrix: SearchMatrix, query: Query
) -> list[Hit]:
    """The best ``query.limit`` hits of a namespace searched exactly in its matrix."""
    rows = _candidate_rows(conn, name, matrix, query.conditions, query.excluded)
    return _best_in_matrix(matrix, query.vector, rows, query.limit, name)


def search_through_index(
    conn: sqlite3.Connection,
    name: str,
    index: VectorIndex,
    query: Query,
    settings: IndexSettings,
    select_allowed: Callable[[FilterSet], np.ndarray],
) -> list[Hit]:
    """The best ``query.limit`` hits of an indexed namespace; ``select_allowed`` gives the
    sorted rowids a filter matches (``select_filtered_rowids``, maybe kept in a cache)."""
    allowed = select_allowed(query.conditions) if query.conditions else None
    excluded_keys = None
    if query.excluded:
        excluded_keys = select_rowids(
            conn,
            "namespace = ? AND id IN (SELECT value FROM json_each(?))",
            (name, json.dumps(query.excluded)),
        )
    vector = query.vector

    def rescore(keys: np.ndarray) -> list[tuple[float, str]]:
        return _rescore(conn, name, vector, keys)

    hits = search_index(
        index,
        vector,
        query.limit,
        rescore,
        settings,
        allowed=allowed,
        excluded=excluded_keys,
        exact=query.exact,
    )
    return [(score, record_id, name) for score, record_id in hits]


class RowidSelector:
    """The rowids a filtered index search may return: ``filter_cache`` answers repeated
    filters, the metadata index or SQL (``select_filtered_rowids``) the rest."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        snapshot: Snapshot,
        name: str,
        filters: FilterCache,
        metadata: MetadataCache,
    ) -> None:
        self.conn, self.snapshot, self.name = conn, snapshot, name
        self.filters, self.metadata = filters, metadata

    def __call__(self, conditions: FilterSet) -> np.ndarray:
        return self.filters.rowids(
            self.snapshot.seq,
            self.name,
            conditions,
            lambda: select_filtered_rowids(
                self.conn, self.snapshot, self.name, conditions, self.metadata
            ),
        )


def select_filtered_rowids(
    conn: sqlite3.Connection,
    snapshot: Snapshot,
    name: str,
    conditions: FilterSet,
    metadata: MetadataCache,
) -> np.ndarray:
    """Sorted rowids of ``name``'s records matching ``conditions`` in the snapshot: from its
    metadata index, or from SQL where the index cannot answer exactly."""
    found = metadata.rows(
        conn, snapshot.namespaces, name, snapshot.seq, snapshot.horizon, conditions
    )
    if found is not None:
        return found
    where, params = build_filter_sql(conditions)
    return select_rowids(conn, f"namespace = ? AND {where}", (name, *params))


def fetch_matches(conn: sqlite3.Connection, found: list[Hit]) -> list[Match]:
    """The hits as Matches, in the same order, with their text and metadata."""
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


def _candidate_rows(
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


def _best_in_matrix(
    matrix: SearchMatrix, query: np.ndarray, rows: np.ndarray | None, limit: int, name: str
) -> list[Hit]:
    """The best ``limit`` rows among ``rows`` (None: all)."""
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


__all__ = [
    "Hit",
    "Query",
    "Snapshot",
    "fetch_matches",
    "search_matrix",
    "search_through_index",
    "select_filtered_rowids",
]
