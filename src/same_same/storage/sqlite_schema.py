"""The SQLite file behind SQLiteStore: its tables, and how every connection to it is set up.

Change tracking, so a server sees what an ingest process commits:

* ``store_state.seq`` goes up by one in every write transaction that changes
  something; the transaction stamps what it wrote with the new value.
* ``records.seq`` is the seq of the record's last write.
* ``deletions`` logs each deleted id (and its rowid, which keys the approximate
  index, see ``index_cache``) with the seq of its deletion. Only the most
  recent rows are kept; ``store_state.deletions_horizon`` is the highest seq
  whose log rows may have been dropped, so a reader that last looked at an older
  seq reloads instead of trusting the log.
* ``namespaces.created_seq`` tells a namespace from an earlier one of the same
  name; ``namespaces.changed_seq`` lets a reader skip untouched namespaces.

Versions: 2 added ``deletions.record_rowid`` and ``records_by_metadata``; a
version-1 file is upgraded in place when opened (its older log rows have no
rowid, which readers of the log treat like rows past the horizon). 3 added
``records.from_image_ingest`` (``Record.from_image_ingest``). 4 added
``namespaces.writers``, the JSON list of the backends that wrote a namespace's
vectors (``NamespaceInfo.writers``; older namespaces start with none). 5 added the
keyword index ``records_terms`` (FTS5, rowid = the record's rowid, kept by triggers
that call the SQL function ``same_same_terms``, see ``keyword_terms``; an older file's
records are indexed when it is upgraded) and ``namespace_notes`` (``VectorStore.read_note``).

``record_count`` is kept by triggers, in the same statement as the change, so
counting never scans the records.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path

from ..errors import ReadOnlyStoreError, StoreError
from ..places import DISTANCE_FUNCTION, distance_between
from .keyword_terms import terms_of_row

DB_FILENAME = "same-same.db"
SCHEMA_VERSION = 5
BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another process's transaction before giving up."""

SCHEMA = """
CREATE TABLE store_state (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO store_state (key, value) VALUES ('seq', 0), ('deletions_horizon', 0);

CREATE TABLE namespaces (
    name TEXT PRIMARY KEY,
    embedder TEXT NOT NULL,
    model TEXT NOT NULL,
    pretrained TEXT NOT NULL,
    dim INTEGER NOT NULL CHECK (dim > 0),
    created_seq INTEGER NOT NULL,
    changed_seq INTEGER NOT NULL,
    record_count INTEGER NOT NULL DEFAULT 0,
    writers TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE records (
    namespace TEXT NOT NULL REFERENCES namespaces (name),
    id TEXT NOT NULL,
    vector BLOB NOT NULL,
    text TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    content_hash TEXT,
    seq INTEGER NOT NULL,
    from_image_ingest INTEGER NOT NULL DEFAULT 0,
    UNIQUE (namespace, id)
);
CREATE INDEX records_by_hash ON records (namespace, content_hash);
CREATE INDEX records_by_seq ON records (namespace, seq);
-- Covers filtered searches of indexed namespaces (SELECT rowid ... WHERE <metadata>):
-- scanning it reads the metadata only, not the pages of 2 KB vectors around it.
CREATE INDEX records_by_metadata ON records (namespace, metadata);

CREATE TABLE deletions (
    seq INTEGER NOT NULL,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    record_rowid INTEGER
);
CREATE INDEX deletions_by_seq ON deletions (namespace, seq);

CREATE TRIGGER records_counted_on_insert AFTER INSERT ON records BEGIN
    UPDATE namespaces SET record_count = record_count + 1 WHERE name = NEW.namespace;
END;
CREATE TRIGGER records_counted_on_delete AFTER DELETE ON records BEGIN
    UPDATE namespaces SET record_count = record_count - 1 WHERE name = OLD.namespace;
END;
"""

KEYWORD_SCHEMA = """
CREATE VIRTUAL TABLE records_terms USING fts5(
    terms, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER records_terms_on_insert AFTER INSERT ON records BEGIN
    INSERT INTO records_terms (rowid, terms)
    VALUES (NEW.rowid, same_same_terms(NEW.id, NEW.text, NEW.metadata));
END;
CREATE TRIGGER records_terms_on_delete AFTER DELETE ON records BEGIN
    DELETE FROM records_terms WHERE rowid = OLD.rowid;
END;
CREATE TRIGGER records_terms_on_update AFTER UPDATE OF id, text, metadata ON records BEGIN
    UPDATE records_terms SET terms = same_same_terms(NEW.id, NEW.text, NEW.metadata)
    WHERE rowid = NEW.rowid;
END;
CREATE TABLE namespace_notes (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
);
"""
TERMS_FUNCTION = "same_same_terms"


def connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
    """Open a connection with the settings every user of the file must share.

    * WAL: readers never block the writer, and a server keeps answering while an
      ingest process commits.
    * ``synchronous=FULL``: each commit is fsynced before it returns. NORMAL would
      already survive a killed process (WAL appends are in the OS cache); FULL also
      keeps the last commits across a power cut or OS crash, and costs one fsync
      per batch, which is small next to embedding the batch.
    * ``busy_timeout``: a second writer waits for the first instead of failing.
    * ``isolation_level=None``: transactions are opened explicitly by the store.

    ``read_only``: the file or its folder cannot be written (see ``read_only_uri``).
    Errors name the data directory, which the operator gave; they are raised when a
    store is opened, never in answer to a request.
    """
    where = path.parent
    try:
        if read_only:
            conn = sqlite3.connect(
                read_only_uri(path),
                uri=True,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            conn = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the store in {where}: {exc}") from None
    try:
        conn.create_function(TERMS_FUNCTION, 3, terms_of_row, deterministic=True)
        conn.create_function(DISTANCE_FUNCTION, 4, distance_between, deterministic=True)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if not read_only:  # a read-only file keeps the mode it was written in
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"cannot use write-ahead logging for the store in {where} "
                    f"(journal mode {mode})",
                    hint="put the data directory on a local disk",
                )
            conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(
            f"cannot open the store in {where}: {exc}",
            hint="is it a same-same data directory on a local disk?",
        ) from None
    except StoreError:
        conn.close()
        raise
    return conn


def is_read_only(path: Path) -> bool:
    """Whether this process cannot write the store file ``path`` or its folder.

    ``access`` answers for the mount too (EROFS), so this also holds for root on a
    read-only mount, where permissions alone would say yes."""
    if not os.access(path.parent, os.W_OK):
        return True
    return path.exists() and not os.access(path, os.W_OK)


def read_only_uri(path: Path) -> str:
    """The URI that opens ``path`` for reading without writing anything beside it.

    In WAL mode a reader needs the ``-shm`` file, which it creates when missing.
    ``mode=ro`` reads the ``-wal`` file too, so it sees every commit; it works when
    the ``-shm`` file exists or the folder can take one. Otherwise (a read-only mount
    of a store closed cleanly, which leaves neither file) only ``immutable=1`` opens
    it: SQLite then ignores any ``-wal`` file, which is safe only because there is
    none, so a ``-wal`` file with commits in it and no way to read it is refused.
    """
    if not path.exists():
        raise StoreError(
            f"there is no store in {path.parent}, and it is read-only, so none can be made"
        )
    wal = path.with_name(path.name + "-wal")
    shm = path.with_name(path.name + "-shm")
    base = "file:" + urllib.parse.quote(str(path.resolve()))
    if shm.exists() or os.access(path.parent, os.W_OK):
        return base + "?mode=ro"
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError(
            f"the store in {path.parent} is read-only and its last commits are in "
            f"{wal.name}, which SQLite cannot read without {shm.name}",
            hint="open it once from a writable mount; that folds the commits into the file",
        )
    return base + "?immutable=1"


def _split_statements(script: str) -> list[str]:
    # executescript() would commit our transaction; run statement by statement instead.
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [statement for statement in statements if statement]


MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE deletions ADD COLUMN record_rowid INTEGER",
        "CREATE INDEX records_by_metadata ON records (namespace, metadata)",
    ),
    # Only the image ingest writes an image record with a content hash and no text (no
    # API path can), so the records of older versions that look so are the ingest's.
    2: (
        "ALTER TABLE records ADD COLUMN from_image_ingest INTEGER NOT NULL DEFAULT 0",
        "UPDATE records SET from_image_ingest = 1 WHERE text IS NULL"
        " AND content_hash IS NOT NULL AND json_extract(metadata, '$.type') = 'image'",
    ),
    # What wrote a namespace before version 4 is not known: its list starts empty.
    3: ("ALTER TABLE namespaces ADD COLUMN writers TEXT NOT NULL DEFAULT '[]'",),
    4: (
        *_split_statements(KEYWORD_SCHEMA),
        "INSERT INTO records_terms (rowid, terms)"
        f" SELECT rowid, {TERMS_FUNCTION}(id, text, metadata) FROM records",
    ),
}
"""Version -> the statements that bring a file of that version to the next one."""


def ensure_schema(conn: sqlite3.Connection, path: Path, read_only: bool = False) -> None:
    """Create the tables in a new file, upgrade an older one; refuse a newer one.

    A read-only file can only be read as it is."""
    version = _read_version(conn)
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the store in {path.parent} has schema version {version}; this same-same knows "
            f"up to {SCHEMA_VERSION}",
            hint="upgrade same-same",
        )
    if read_only:
        what = "is not a same-same store" if version == 0 else f"has schema version {version}"
        raise ReadOnlyStoreError(
            f"the store in {path.parent} {what}, and it is read-only, so it cannot be "
            f"brought to version {SCHEMA_VERSION}",
            hint="open it once from a writable mount" if version else None,
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have created or upgraded it while we waited for the lock.
        version = _read_version(conn)
        if version == 0:
            for statement in _split_statements(SCHEMA + KEYWORD_SCHEMA):
                conn.execute(statement)
        else:
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step]:
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _read_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])
