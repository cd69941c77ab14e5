"""What changed in a namespace after an index's watermark, as the store's change log says.

``records.seq`` stamps every write and ``deletions`` logs every removal (with the
record's rowid since schema version 2); an index catches up from these.
"""

from __future__ import annotations

import sqlite3

import numpy as np


def rows_written_since(conn: sqlite3.Connection, name: str, since: int) -> int:
    """How many of ``name``'s records were written after seq ``since``."""
    return int(
        conn.execute(
            "SELECT COUNT(*) FROM records WHERE namespace = ? AND seq > ?", (name, since)
        ).fetchone()[0]
    )


def deleted_rowids_since(conn: sqlite3.Connection, name: str, since: int) -> np.ndarray:
    """The rowids (index keys) of ``name``'s records deleted after seq ``since``."""
    rows = conn.execute(
        "SELECT record_rowid FROM deletions WHERE namespace = ? AND seq > ?", (name, since)
    )
    return np.fromiter((rowid for (rowid,) in rows), dtype=np.int64)


def log_lacks_rowids(conn: sqlite3.Connection, name: str, since: int) -> bool:
    """Whether a deletion after ``since`` has no rowid to remove from an index (rows
    logged by schema version 1)."""
    found = conn.execute(
        "SELECT 1 FROM deletions WHERE namespace = ? AND seq > ? AND record_rowid IS NULL LIMIT 1",
        (name, since),
    ).fetchone()
    return found is not None


__all__ = ["deleted_rowids_since", "log_lacks_rowids", "rows_written_since"]
