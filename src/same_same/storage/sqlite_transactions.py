"""How SQLiteStore reaches its file: a connection per thread, one transaction per operation.

Each thread gets its own connection, and a forked child opens its own instead of
touching its parent's. Writes take SQLite's write lock up front (``BEGIN
IMMEDIATE``), so a transaction never fails halfway for want of it; reads that need
several SELECTs share one snapshot. SQLite's exceptions become StoreErrors naming
the file, with a hint when another process held the lock too long.

Every write transaction that changes something takes the next ``seq`` and stamps
what it wrote with it, and deletions are logged (see ``sqlite_schema`` for what
readers do with both). The log is trimmed here, in the transaction that grows it,
so it stays bounded however long a reader stays away.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import SameSameError, StoreError
from .sqlite_schema import BUSY_TIMEOUT_S, connect

KEPT_DELETIONS = 100_000
"""Rows kept in the deletion log; readers further behind reload a namespace in full."""


class SQLiteConnections:
    """The connections of one store to its file: one per thread, all closed together."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._closed = False

    def connection(self) -> sqlite3.Connection:
        """The calling thread's connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        # A forked child must not touch its parent's SQLite connection; it opens its own.
        if conn is not None and not self._closed and self._local.pid == os.getpid():
            return conn
        with self._opened_lock:
            if self._closed:
                raise StoreError(f"the store at {self.path} is closed")
            conn = connect(self.path)
            self._opened.append(conn)
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; taken up front (IMMEDIATE) so it never fails halfway."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One snapshot for several SELECTs (WAL: writers carry on meanwhile)."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")  # nothing was written; this only ends the snapshot

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        """Turn SQLite's exceptions into StoreErrors; the library's own pass through."""
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

    def read_current_seq(self) -> int:
        """The store's seq now, outside any snapshot this thread holds."""
        conn = connect(self.path)
        try:
            return int(
                conn.execute("SELECT value FROM store_state WHERE key = 'seq'").fetchone()[0]
            )
        finally:
            conn.close()

    def close(self) -> None:
        """Close every thread's connection; later use raises StoreError."""
        with self._opened_lock:
            self._closed = True
            for conn in self._opened:
                conn.close()
            self._opened.clear()


def next_seq(conn: sqlite3.Connection) -> int:
    """Take the next change number for the write transaction ``conn`` is in."""
    row = conn.execute(
        "UPDATE store_state SET value = value + 1 WHERE key = 'seq' RETURNING value"
    ).fetchall()
    return int(row[0][0])


def mark_changed(conn: sqlite3.Connection, namespace: str, seq: int) -> None:
    """Record that ``namespace`` changed at ``seq``, so readers do not skip it."""
    conn.execute("UPDATE namespaces SET changed_seq = ? WHERE name = ?", (seq, namespace))


def log_deletions(
    conn: sqlite3.Connection, namespace: str, seq: int, deleted: Sequence[tuple[str, int]]
) -> None:
    """Log ``(id, rowid)`` pairs deleted at ``seq``, then trim the log."""
    conn.executemany(
        "INSERT INTO deletions (seq, namespace, id, record_rowid) VALUES (?, ?, ?, ?)",
        [(seq, namespace, record_id, rowid) for record_id, rowid in deleted],
    )
    _trim_deletion_log(conn)


def _trim_deletion_log(conn: sqlite3.Connection) -> None:
    """Keep the newest log rows; raise the horizon past the ones dropped."""
    last = conn.execute("SELECT MAX(rowid) FROM deletions").fetchone()[0] or 0
    cutoff = last - KEPT_DELETIONS
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


__all__ = [
    "KEPT_DELETIONS",
    "SQLiteConnections",
    "log_deletions",
    "mark_changed",
    "next_seq",
]
