"""Search matrices kept in memory and brought up to date with the database before each search.

Another process may have written since the last search. One tiny SELECT reads the
store's change counter; when it moved, only what changed is read: the records
stamped with a newer seq and the deletions logged since. A namespace is read in
full only the first time it is searched, after it was deleted and created again,
or when the deletion log no longer reaches back far enough.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field

import numpy as np

from ..errors import StoreError
from ..records import EmbeddingSpace
from .matrix import SearchMatrix

_FETCH_ROWS = 4096


@dataclass
class CacheStats:
    """What refreshing has cost so far; lets tests prove refreshes are incremental."""

    full_loads: int = 0
    incremental_loads: int = 0
    rows_read: int = 0
    rows_deleted: int = 0


@dataclass(frozen=True)
class NamespaceRow:
    space: EmbeddingSpace
    created_seq: int
    changed_seq: int
    record_count: int


@dataclass
class _Entry:
    created_seq: int
    loaded_seq: int
    matrix: SearchMatrix


@dataclass
class MatrixCache:
    """Callers hold ``lock`` and an open read transaction across ``refresh`` and their search."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    stats: CacheStats = field(default_factory=CacheStats)
    namespaces: dict[str, NamespaceRow] = field(default_factory=dict)
    horizon: int = 0
    """The deletion log's horizon in the last snapshot refreshed from."""
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _checked_seq: int = -1

    @property
    def seq(self) -> int:
        """The store's seq in the last snapshot refreshed from."""
        return self._checked_seq

    def refresh(self, conn: sqlite3.Connection) -> None:
        """Bring ``namespaces`` and every loaded matrix to the snapshot ``conn`` reads."""
        seq = _read_state(conn, "seq")
        if seq == self._checked_seq:
            return
        if seq < self._checked_seq:
            self._entries.clear()  # the file was replaced (a restored backup): start over
        self.namespaces = _read_namespaces(conn)
        self.horizon = horizon = _read_state(conn, "deletions_horizon")
        for name, entry in list(self._entries.items()):
            row = self.namespaces.get(name)
            if row is None or row.created_seq != entry.created_seq:
                del self._entries[name]  # deleted, or deleted and created again
                continue
            if row.changed_seq > entry.loaded_seq:
                if entry.loaded_seq < horizon:
                    del self._entries[name]  # deletions it missed may be gone from the log
                    continue
                self._apply_changes(conn, name, entry)
            entry.loaded_seq = seq
        self._checked_seq = seq

    def matrix(self, conn: sqlite3.Connection, name: str) -> SearchMatrix:
        """The up-to-date matrix of a namespace in ``namespaces``, loading it when needed."""
        entry = self._entries.get(name)
        if entry is None:
            row = self.namespaces[name]
            entry = _Entry(row.created_seq, self._checked_seq, self._load(conn, name, row))
            self._entries[name] = entry
        return entry.matrix

    def drop(self, name: str) -> None:
        """Forget a namespace's matrix (it is searched through its index now)."""
        self._entries.pop(name, None)

    def clear(self) -> None:
        self._entries.clear()
        self.namespaces = {}
        self._checked_seq = -1

    def _load(self, conn: sqlite3.Connection, name: str, row: NamespaceRow) -> SearchMatrix:
        # Room for some growth, so the first new record does not copy the whole block.
        capacity = row.record_count + row.record_count // 8
        matrix = SearchMatrix(row.space.dim, capacity=capacity)
        cursor = conn.execute("SELECT id, vector FROM records WHERE namespace = ?", (name,))
        self.stats.rows_read += _read_vectors(cursor, matrix, fresh=True)
        self.stats.full_loads += 1
        return matrix

    def _apply_changes(self, conn: sqlite3.Connection, name: str, entry: _Entry) -> None:
        # Deletions first: an id deleted and then written again comes back from the records.
        deleted = conn.execute(
            "SELECT id FROM deletions WHERE namespace = ? AND seq > ?", (name, entry.loaded_seq)
        )
        self.stats.rows_deleted += entry.matrix.delete(record_id for (record_id,) in deleted)
        cursor = conn.execute(
            "SELECT id, vector FROM records WHERE namespace = ? AND seq > ?",
            (name, entry.loaded_seq),
        )
        self.stats.rows_read += _read_vectors(cursor, entry.matrix)
        self.stats.incremental_loads += 1


def _read_vectors(cursor: sqlite3.Cursor, matrix: SearchMatrix, fresh: bool = False) -> int:
    """Copy ``(id, vector blob)`` rows into ``matrix`` in blocks; returns how many.

    ``fresh``: the matrix started empty and the ids are unique (a full read), so rows
    are appended without looking each id up.
    """
    width = matrix.dim * 4
    total = 0
    while chunk := cursor.fetchmany(_FETCH_ROWS):
        blob = b"".join(vector for _, vector in chunk)
        if len(blob) != width * len(chunk):
            raise StoreError(
                f"stored vectors do not have {matrix.dim} dimensions; the store is damaged"
            )
        vectors = np.frombuffer(blob, dtype="<f4").reshape(len(chunk), matrix.dim)
        ids = [record_id for record_id, _ in chunk]
        if fresh:
            matrix.append(ids, vectors)
        else:
            matrix.upsert(ids, vectors)
        total += len(chunk)
    return total


def _read_state(conn: sqlite3.Connection, key: str) -> int:
    return int(conn.execute("SELECT value FROM store_state WHERE key = ?", (key,)).fetchone()[0])


def _read_namespaces(conn: sqlite3.Connection) -> dict[str, NamespaceRow]:
    rows = conn.execute(
        "SELECT name, embedder, model, pretrained, dim, created_seq, changed_seq, record_count"
        " FROM namespaces"
    )
    return {
        name: NamespaceRow(EmbeddingSpace(embedder, model, pretrained, dim), *seqs_and_count)
        for name, embedder, model, pretrained, dim, *seqs_and_count in rows
    }


__all__ = ["CacheStats", "MatrixCache", "NamespaceRow"]
