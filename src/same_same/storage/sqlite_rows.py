"""Rows of the ``records`` and ``namespaces`` tables: the SQL that reads and writes them,
and their Python forms.

Kept out of SQLiteStore so its methods read as the steps of an operation (check,
look up, write, stamp) and each column list lives in one place. Vectors are
little-endian float32 blobs (``checks.encode_vector``). A list of ids travels as
one JSON parameter, read back in SQL with ``json_each`` (one parameter whatever
the length of the list), ``CHUNK_IDS`` ids at a time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..records import EmbeddingSpace, NamespaceInfo, Record

if TYPE_CHECKING:
    from .sqlite_transactions import SQLiteConnections

CHUNK_IDS = 10_000
"""Ids per query when looking many up at once, and rows per page of a scan."""

_RECORD_COLUMNS = "id, text, metadata, content_hash, from_image_ingest"
_NAMESPACE_COLUMNS = "name, embedder, model, pretrained, dim, record_count, writers"
_UPSERT_SQL = """
INSERT INTO records (namespace, id, vector, text, metadata, content_hash, from_image_ingest, seq)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (namespace, id) DO UPDATE SET
    vector = excluded.vector, text = excluded.text, metadata = excluded.metadata,
    content_hash = excluded.content_hash, from_image_ingest = excluded.from_image_ingest,
    seq = excluded.seq
"""

EncodedRecord = tuple[str, bytes, str | None, str, str | None, bool]
"""``(id, vector bytes, text, metadata JSON, content_hash, from_image_ingest)``, as
``checks.encode_record`` makes."""


# -- namespaces -------------------------------------------------------------


def select_namespace(conn: sqlite3.Connection, name: str) -> NamespaceInfo | None:
    row = conn.execute(
        f"SELECT {_NAMESPACE_COLUMNS} FROM namespaces WHERE name = ?", (name,)
    ).fetchone()
    return None if row is None else _namespace_info(row)


def select_namespaces(conn: sqlite3.Connection) -> list[NamespaceInfo]:
    """Every namespace, empty ones included, sorted by name."""
    rows = conn.execute(f"SELECT {_NAMESPACE_COLUMNS} FROM namespaces ORDER BY name")
    return [_namespace_info(row) for row in rows]


def insert_namespace(conn: sqlite3.Connection, name: str, space: EmbeddingSpace, seq: int) -> None:
    conn.execute(
        "INSERT INTO namespaces (name, embedder, model, pretrained, dim,"
        " created_seq, changed_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (name, space.embedder, space.model, space.pretrained, space.dim, seq, seq),
    )


def update_namespace_writers(conn: sqlite3.Connection, name: str, writers: tuple[str, ...]) -> None:
    conn.execute("UPDATE namespaces SET writers = ? WHERE name = ?", (json.dumps(writers), name))


def delete_namespace_rows(conn: sqlite3.Connection, name: str) -> None:
    """The namespace, its records, its notes and its deletion log rows."""
    conn.execute("DELETE FROM records WHERE namespace = ?", (name,))
    conn.execute("DELETE FROM deletions WHERE namespace = ?", (name,))
    conn.execute("DELETE FROM namespace_notes WHERE namespace = ?", (name,))
    conn.execute("DELETE FROM namespaces WHERE name = ?", (name,))


def count_all_records(conn: sqlite3.Connection) -> int:
    """Records in every namespace, from the counts the triggers keep (no scan)."""
    total = conn.execute("SELECT COALESCE(SUM(record_count), 0) FROM namespaces").fetchone()[0]
    return int(total)


def _namespace_info(row: tuple[Any, ...]) -> NamespaceInfo:
    name, embedder, model, pretrained, dim, count, writers = row
    space = EmbeddingSpace(embedder, model, pretrained, dim)
    return NamespaceInfo(name, space, count, tuple(json.loads(writers)))


# -- records ----------------------------------------------------------------


def upsert_records(
    conn: sqlite3.Connection, namespace: str, rows: list[EncodedRecord], seq: int
) -> None:
    conn.executemany(_UPSERT_SQL, [(namespace, *row, seq) for row in rows])


def select_record(conn: sqlite3.Connection, namespace: str, record_id: str) -> Record | None:
    """The record with its vector, or None."""
    row = conn.execute(
        f"SELECT {_RECORD_COLUMNS}, vector FROM records WHERE namespace = ? AND id = ?",
        (namespace, record_id),
    ).fetchone()
    return None if row is None else _decode_record(row, with_vector=True)


@dataclass(frozen=True)
class RecordPageQuery:
    """Which page ``list_records`` reads: ids after ``after_id`` (when set), ``offset`` of
    them skipped, ``limit`` kept."""

    offset: int
    limit: int
    with_vectors: bool
    after_id: str | None = None


def select_record_page(
    conn: sqlite3.Connection, namespace: str, page: RecordPageQuery
) -> list[Record]:
    """A page of records by id; without ``with_vectors``, each vector is an empty array.
    The (namespace, id) key makes ``after_id`` a seek, not a scan."""
    vector_column = ", vector" if page.with_vectors else ""
    after = "" if page.after_id is None else " AND id > ?"
    cursor = () if page.after_id is None else (page.after_id,)
    rows = conn.execute(
        f"SELECT {_RECORD_COLUMNS}{vector_column} FROM records WHERE namespace = ?{after}"
        " ORDER BY id LIMIT ? OFFSET ?",
        (namespace, *cursor, page.limit, page.offset),
    )
    return [_decode_record(row, with_vector=page.with_vectors) for row in rows]


def scan_metadata_pages(
    db: SQLiteConnections, namespace: str
) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """(id, content hash, metadata) of every record of ``namespace``, a page of
    ``CHUNK_IDS`` per short read, so no read transaction stays open while the caller works."""
    after = ""
    while True:
        with db.translate_errors():
            rows = select_metadata_page(db.connection(), namespace, after)
        for record_id, content_hash, metadata in rows:
            yield record_id, content_hash, json.loads(metadata)
        if len(rows) < CHUNK_IDS:
            return
        after = rows[-1][0]


def select_metadata_page(
    conn: sqlite3.Connection, namespace: str, after: str
) -> list[tuple[str, str | None, str]]:
    """Up to ``CHUNK_IDS`` ``(id, content_hash, metadata JSON)`` with ids after ``after``."""
    return conn.execute(
        "SELECT id, content_hash, metadata FROM records"
        " WHERE namespace = ? AND id > ? ORDER BY id LIMIT ?",
        (namespace, after, CHUNK_IDS),
    ).fetchall()


def select_by_ids(
    conn: sqlite3.Connection, namespace: str, columns: str, key: str, wanted: list[str]
) -> list[tuple[Any, ...]]:
    """Rows of ``namespace`` whose ``key`` column is in ``wanted``.

    ``columns`` and ``key`` are trusted names chosen by the store, never user input.
    """
    rows: list[tuple[Any, ...]] = []
    for chunk in _chunked(wanted):
        rows.extend(
            conn.execute(
                f"SELECT {columns} FROM records WHERE namespace = ?"
                f" AND {key} IN (SELECT value FROM json_each(?))",
                (namespace, json.dumps(chunk)),
            )
        )
    return rows


def delete_by_ids(
    conn: sqlite3.Connection, namespace: str, wanted: list[str]
) -> list[tuple[str, int]]:
    """Delete the records of ``namespace`` with these ids; ``(id, rowid)`` of those that were."""
    deleted: list[tuple[str, int]] = []
    for chunk in _chunked(wanted):
        deleted.extend(
            conn.execute(
                "DELETE FROM records WHERE namespace = ?"
                " AND id IN (SELECT value FROM json_each(?)) RETURNING id, rowid",
                (namespace, json.dumps(chunk)),
            ).fetchall()
        )
    return deleted


def decode_vector(blob: bytes) -> np.ndarray:
    """A stored vector as a writable float32 array (``frombuffer`` alone gives a read-only view)."""
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


def _decode_record(row: tuple[Any, ...], with_vector: bool) -> Record:
    record_id, text, metadata, content_hash, from_image_ingest, *rest = row
    vector = decode_vector(rest[0]) if with_vector else np.empty(0, dtype=np.float32)
    return Record(
        id=record_id,
        vector=vector,
        text=text,
        metadata=json.loads(metadata),
        content_hash=content_hash,
        from_image_ingest=bool(from_image_ingest),
    )


def _chunked(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK_IDS):
        yield items[start : start + CHUNK_IDS]


__all__ = [
    "CHUNK_IDS",
    "EncodedRecord",
    "count_all_records",
    "decode_vector",
    "delete_by_ids",
    "delete_namespace_rows",
    "insert_namespace",
    "select_by_ids",
    "select_metadata_page",
    "select_namespace",
    "select_namespaces",
    "select_record",
    "RecordPageQuery",
    "select_record_page",
    "upsert_records",
]
