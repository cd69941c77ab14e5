"""How SQLiteStore reaches its file: a connection per thread, one transaction per operation.

Each thread gets its own connection, and a forked child opens its own instead of
touching its parent's. Writes take SQLite's write lock up front (``BEGIN
IMMEDIATE``), so a transaction never fails halfway for want of it; reads that need
several SELECTs share one snapshot. SQLite's exceptions become typed errors
(``translate_errors``) whose messages say what went wrong in words a client can
act on: never the file's path or the SQL, which go to the log instead.

Every write transaction that changes something takes the next ``seq`` and stamps
what it wrote with it, and deletions are logged (see ``sqlite_schema`` for what
readers do with both). The log is trimmed here, in the transaction that grows it,
so it stays bounded however long a reader stays away.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import (
    DiskFullError,
    InvalidInputError,
    ReadOnlyStoreError,
    SameSameError,
    StoreError,
    StoreUnavailableError,
)
from .index_files import disk_is_full
from .sqlite_schema import BUSY_TIMEOUT_S, connect

logger = logging.getLogger(__name__)

KEPT_DELETIONS = 100_000
"""Rows kept in the deletion log; readers further behind reload a namespace in full."""


class SQLiteConnections:
    """The connections of one store to its file: one per thread, all closed together."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
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
                raise StoreError("the store is closed")
            conn = connect(self.path, self.read_only)
            self._opened.append(conn)
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    def check_writable(self) -> None:
        """ReadOnlyStoreError when this store was opened read-only."""
        if self.read_only:
            raise read_only_error()

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
        """Turn SQLite's exceptions into typed errors; the library's own pass through."""
        try:
            yield
        except SameSameError:
            raise
        except sqlite3.Error as exc:
            raise describe_sqlite_error(exc, self.path) from None

    def read_current_seq(self) -> int:
        """The store's seq now, outside any snapshot this thread holds."""
        conn = connect(self.path, self.read_only)
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


_TOO_COMPLEX = (
    "too large",
    "too many",
    "too big",
    "too deep",
    "too long",
    "too complex",
    "stack overflow",
)
"""Words of SQLite's limit errors (expression depth, variables, string or blob size)."""


def describe_sqlite_error(exc: sqlite3.Error, path: Path) -> SameSameError:
    """The typed error a client sees for ``exc``: what happened, never the path or SQL.

    SQLite's own message can quote the SQL or name the file, so only its error
    code's name reaches the client; the full message and the path go to the log.
    """
    message = str(exc)
    lowered = message.lower()
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    logger.warning("the store %s failed: %s: %s", path, name, message)
    disk_full = name == "SQLITE_FULL" or "disk is full" in lowered
    if disk_full or (name.startswith("SQLITE_IOERR") and disk_is_full(path.parent)):
        return DiskFullError(
            "disk full: the store could not commit the last change; what was committed "
            "before it is stored",
            hint="free some space and run it again",
        )
    if name.startswith("SQLITE_READONLY") or "readonly database" in lowered:
        return read_only_error()
    if name in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in lowered or "busy" in lowered:
        return StoreUnavailableError(
            f"the store stayed locked by another process for {BUSY_TIMEOUT_S:.0f} s",
            hint="try again when the other same-same command has finished",
        )
    if name in ("SQLITE_TOOBIG", "SQLITE_LIMIT") or any(words in lowered for words in _TOO_COMPLEX):
        return InvalidInputError(
            "the store could not run this query: too complex",
            hint="use fewer or smaller filters",
        )
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in lowered:
        return StoreError("the store's file is damaged", hint="restore it from a backup")
    return StoreError(f"the store failed ({name}); see the server log")


def read_only_error() -> ReadOnlyStoreError:
    return ReadOnlyStoreError(
        "the store is read-only: writes are refused (searches and reads work)",
        hint="remount the data directory writable, or write as a user who can",
    )


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
    "describe_sqlite_error",
    "log_deletions",
    "mark_changed",
    "next_seq",
]
