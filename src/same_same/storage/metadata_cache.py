"""Metadata indexes of the indexed namespaces, kept in memory and caught up from SQLite.

As ``matrix_cache`` does for vectors: the first filtered search of a namespace
reads its metadata once (in chunks, parsed with orjson); every later one reads
only what changed since: the deletion log's rowids with a newer seq, then the
records stamped with a newer seq (a record written again replaces its old
postings). An index older than the log's horizon, or than log rows without a
rowid (schema version 1), is built again. All of it inside the caller's read
snapshot, so a search sees exactly the writes committed before it began.

Memory: about 8 bytes per (record, path) posting and 16 per number; 1M records
with four short fields take about 70 MB (docs/vector-index.md).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import numpy as np

from ..filters import FilterSet
from .matrix_cache import NamespaceRow
from .metadata_index import MetadataIndex
from .metadata_postings import build_segment, parse_metadata

_FETCH_ROWS = 65_536


@dataclass
class MetadataStats:
    """What the metadata indexes have cost in this process; lets tests see catch-ups."""

    builds: int = 0
    catch_ups: int = 0
    rows_read: int = 0
    rows_deleted: int = 0


@dataclass
class MetadataCache:
    """Callers hold the store's cache lock and one open read transaction, as for MatrixCache."""

    stats: MetadataStats = field(default_factory=MetadataStats)
    _entries: dict[str, MetadataIndex] = field(default_factory=dict)

    def rows(
        self,
        conn: sqlite3.Connection,
        namespaces: dict[str, NamespaceRow],
        name: str,
        seq: int,
        horizon: int,
        filters: FilterSet,
    ) -> np.ndarray | None:
        """Sorted rowids of ``name``'s records matching ``filters`` at store state ``seq``,
        or None where the index cannot answer exactly (ask SQL)."""
        return self.index(conn, namespaces, name, seq, horizon).rows(filters)

    def index(
        self,
        conn: sqlite3.Connection,
        namespaces: dict[str, NamespaceRow],
        name: str,
        seq: int,
        horizon: int,
    ) -> MetadataIndex:
        """The namespace's index brought to the snapshot ``conn`` reads (``seq``)."""
        for gone in [known for known in self._entries if known not in namespaces]:
            del self._entries[gone]
        row = namespaces[name]
        entry = self._entries.get(name)
        if entry is not None and entry.created_seq != row.created_seq:
            entry = None  # deleted and created again
        if entry is not None and row.changed_seq > entry.loaded_seq:
            if entry.loaded_seq < horizon or _log_lacks_rowids(conn, name, entry.loaded_seq):
                entry = None  # deletions it missed may be gone from the log
            else:
                self._catch_up(conn, name, entry)
        if entry is None:
            entry = MetadataIndex(row.created_seq)
            self._read_records(conn, name, entry)
            self.stats.builds += 1
            self._entries[name] = entry
        entry.loaded_seq = max(entry.loaded_seq, seq)
        return entry

    def forget(self, name: str) -> None:
        self._entries.pop(name, None)

    def clear(self) -> None:
        self._entries.clear()

    def _catch_up(self, conn: sqlite3.Connection, name: str, entry: MetadataIndex) -> None:
        # Deletions first: a rowid deleted and then used again comes back from the records.
        deleted = np.fromiter(
            (
                rowid
                for (rowid,) in conn.execute(
                    "SELECT record_rowid FROM deletions WHERE namespace = ? AND seq > ?",
                    (name, entry.loaded_seq),
                )
            ),
            dtype=np.int64,
        )
        entry.delete(deleted)
        self.stats.rows_deleted += len(deleted)
        self._read_records(conn, name, entry)
        self.stats.catch_ups += 1

    def _read_records(self, conn: sqlite3.Connection, name: str, entry: MetadataIndex) -> None:
        cursor = conn.execute(
            "SELECT rowid, metadata FROM records WHERE namespace = ? AND seq > ?",
            (name, entry.loaded_seq),
        )
        while chunk := cursor.fetchmany(_FETCH_ROWS):
            entry.add(build_segment((rowid, parse_metadata(text)) for rowid, text in chunk))
            self.stats.rows_read += len(chunk)


def _log_lacks_rowids(conn: sqlite3.Connection, name: str, since: int) -> bool:
    # Rows logged by schema version 1 have no rowid.
    return (
        conn.execute(
            "SELECT 1 FROM deletions WHERE namespace = ? AND seq > ?"
            " AND record_rowid IS NULL LIMIT 1",
            (name, since),
        ).fetchone()
        is not None
    )


__all__ = ["MetadataCache", "MetadataStats"]
