"""Keyword search and namespace notes in SQLiteStore's file.

Keyword search reads the FTS5 table ``records_terms`` (see ``sqlite_schema``), which
triggers keep in step with the records in the same transaction as each write, so it
sees exactly the records a vector search sees. BM25 orders the matches; metadata
filters run in SQL on the same rows; each match is scored by its cosine similarity
to the caller's query vector, in float64 row by row (as index answers are
re-scored), so a record's score agrees with a vector search's to float32 rounding.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..filters import FilterSet
from ..records import Match
from .base import namespace_not_found
from .checks import SearchArgs, check_query, check_same_space
from .keyword_terms import match_expression
from .matrix import normalize_rows_in_place
from .sql_filters import build_filter_sql
from .sqlite_rows import select_namespace

_KEYWORD_SQL = """
SELECT r.id, r.namespace, r.text, r.metadata, r.vector, bm25(records_terms) AS weight
FROM records_terms JOIN records AS r ON r.rowid = records_terms.rowid
WHERE records_terms MATCH ? AND r.namespace IN (SELECT value FROM json_each(?)) AND {where}
ORDER BY weight, r.id, r.namespace
LIMIT ?
"""

RELATIVE_WEIGHT = 0.25
"""A hit's BM25 must reach this share of the best hit's. A term nearly every record has
("jpg", "scene", "img") weighs next to nothing, so records that match only such terms
are not keyword answers at all: they would otherwise fill the list (and, fused, lift
whatever the vector ranking put first) on no evidence."""


def keyword_matches(
    conn: sqlite3.Connection, args: SearchArgs, query: object, vector: np.ndarray | None
) -> list[Match]:
    """``VectorStore.keyword_search`` inside one read snapshot (``args`` checked)."""
    if not isinstance(query, str):
        raise InvalidInputError(f"query must be a string, got {type(query).__name__}")
    infos = {name: select_namespace(conn, name) for name in args.names}
    spaces = {name: info.space for name, info in infos.items() if info is not None}
    missing = [name for name in args.names if name not in spaces]
    if missing:
        raise namespace_not_found(missing[0])
    unit = None if vector is None else check_query(vector, check_same_space(spaces))
    expression = match_expression(query)
    if expression is None:
        return []
    return select_keyword_matches(conn, args.names, expression, args.limit, args.conditions, unit)


def select_keyword_matches(
    conn: sqlite3.Connection,
    names: list[str],
    expression: str,
    limit: int,
    conditions: FilterSet,
    query: np.ndarray | None,
) -> list[Match]:
    """The best ``limit`` records of ``names`` for the FTS5 ``expression``.

    ``query``: a unit vector of the namespaces' dimension to score by, or None (0.0).
    """
    where, params = build_filter_sql(conditions, column="r.metadata") if conditions else ("1", [])
    rows = conn.execute(
        _KEYWORD_SQL.format(where=where), (expression, json.dumps(names), *params, limit)
    ).fetchall()
    if rows:  # bm25() is negative: the more negative, the better the match
        floor = rows[0][5] * RELATIVE_WEIGHT
        rows = [row for row in rows if row[5] <= floor]
    scores = _cosine(query, [row[4] for row in rows])
    return [
        Match(record_id, score, name, text, json.loads(metadata))
        for (record_id, name, text, metadata, _, _), score in zip(rows, scores, strict=True)
    ]


def _cosine(query: np.ndarray | None, blobs: list[bytes]) -> list[float]:
    if query is None or not blobs:
        return [0.0] * len(blobs)
    vectors = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1)
    block = normalize_rows_in_place(vectors.astype(np.float64))
    scores = (block * query.astype(np.float64)).sum(axis=1)
    return [min(1.0, max(-1.0, float(score))) for score in scores]


def select_note(conn: sqlite3.Connection, namespace: str, key: str) -> Any | None:
    row = conn.execute(
        "SELECT value FROM namespace_notes WHERE namespace = ? AND key = ?", (namespace, key)
    ).fetchone()
    return None if row is None else json.loads(row[0])


def upsert_note(conn: sqlite3.Connection, namespace: str, key: str, text: str) -> None:
    conn.execute(
        "INSERT INTO namespace_notes (namespace, key, value) VALUES (?, ?, ?)"
        " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
        (namespace, key, text),
    )


__all__ = ["keyword_matches", "select_keyword_matches", "select_note", "upsert_note"]
