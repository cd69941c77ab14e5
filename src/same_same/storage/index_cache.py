"""Approximate indexes of the large namespaces, kept in memory and on disk, caught up from SQLite.

Lifecycle of one namespace's index, in any process that uses it (a server
searching, an ingest process writing):

1. First use: load the saved index (``ann_index``), then catch up: apply the
   deletions logged and insert the records written after its watermark. With no
   usable file, build it from the records while holding the namespace's file
   lock (a second process wanting it meanwhile waits, then loads what was built),
   and save it.
2. Every later search or write: catch up the same way, from the watermark the
   in-memory index has reached. A process far behind a newer saved file (another
   process saved after inserting many rows) loads that file instead of inserting
   the rows itself.
3. Saving: after ``save_min_changes`` changes (or ``save_share`` of its size) and
   when the store is closed, a process saves, unless another process holds the
   lock or has already saved a state at least as new. So an ingest process
   leaves the file up to date when it finishes, and a server started afterwards
   loads it and inserts nothing. The same count applies inside one long insertion
   (a build, a large catch-up): rows go in oldest first and a checkpoint is saved
   every so many, so a process killed midway leaves its progress to the next one
   instead of leaving it to start again from zero.
4. A save that fails (a full disk, a read-only folder) removes what it wrote and
   keeps the previous file; searches go on with the index in memory, the next
   attempt waits for as many changes again, and ``save_all`` reports the failure
   so an ingest can say its records are stored but the index is not.

The deletion log keeps rowids (the index keys) since schema version 2; an index
whose watermark is older than the log's horizon, or older than log rows without
a rowid, is rebuilt.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import StoreError
from .ann_index import VectorIndex, usearch_available
from .base import LoadedIndex
from .index_files import IndexFiles, IndexSaveFailed, sidecar_number
from .index_locks import IndexLocks
from .index_log import deleted_rowids_since, log_lacks_rowids, rows_written_since
from .index_settings import IndexSettings
from .matrix import normalize_rows_in_place
from .matrix_cache import NamespaceRow

logger = logging.getLogger(__name__)

_FETCH_ROWS = 8192
_CLOSE_LOCK_WAIT_S = 10.0


@dataclass
class IndexStats:
    """What the indexes have cost in this process; lets tests prove nothing was rebuilt."""

    builds: int = 0
    loads: int = 0
    saves: int = 0
    vectors_added: int = 0
    vectors_removed: int = 0
    add_seconds: float = 0.0
    build_seconds: float = 0.0
    save_seconds: float = 0.0
    load_seconds: float = 0.0


@dataclass
class _Entry:
    created_seq: int
    index: VectorIndex
    unsaved: int = 0
    """Changes applied since the state on disk (or since it was built)."""
    failed_saves: int = 0
    """Saves that failed in a row; each one puts the next attempt further off."""


@dataclass
class IndexCache:
    """Callers hold the store's cache lock and an open read transaction, as for MatrixCache.

    ``current_seq`` reads the store's seq outside that snapshot; it tells a file
    saved by another process a moment ago from one newer than a restored database.
    ``read_only``: the data directory cannot be written; indexes are loaded if saved,
    else built in memory, and never saved.
    """

    data_dir: Path
    settings: IndexSettings
    current_seq: Callable[[], int]
    read_only: bool = False
    stats: IndexStats = field(default_factory=IndexStats)
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _locks: IndexLocks = field(init=False)

    def __post_init__(self) -> None:
        self._locks = IndexLocks(self.data_dir, self.read_only)

    @property
    def enabled(self) -> bool:
        return self.settings.enabled and usearch_available()

    def serves(self, name: str, row: NamespaceRow) -> bool:
        """Whether searches of this namespace go through its index.

        Once indexed, a namespace keeps its index until it shrinks to half the
        threshold, so deletions around the threshold do not flip it back and forth.
        """
        if not self.enabled or row.record_count == 0:
            return False
        if row.record_count >= self.settings.min_vectors:
            return True
        entry = self._entries.get(name)
        return (
            entry is not None
            and entry.created_seq == row.created_seq
            and row.record_count >= self.settings.min_vectors // 2
        )

    def refresh(
        self, conn: sqlite3.Connection, namespaces: dict[str, NamespaceRow], seq: int, horizon: int
    ) -> None:
        """Bring every loaded index to the snapshot ``conn`` reads (``seq``)."""
        for name, entry in list(self._entries.items()):
            row = namespaces.get(name)
            if row is None or row.created_seq != entry.created_seq or not self.serves(name, row):
                del self._entries[name]
                continue
            if entry.index.verified is False:
                self._discard(name, entry)
                continue
            self._catch_up(conn, name, row, entry, seq, horizon)

    def index(
        self, conn: sqlite3.Connection, name: str, row: NamespaceRow, seq: int, horizon: int
    ) -> VectorIndex:
        """The up-to-date index of a namespace that ``serves``, loading or building it."""
        entry = self._entries.get(name)
        if entry is not None and entry.index.verified is False:
            self._discard(name, entry)
            entry = None
        if entry is None:
            entry = self._open(conn, name, row, seq, horizon)
            self._entries[name] = entry
            self._catch_up(conn, name, row, entry, seq, horizon)
        return entry.index

    def loaded(self) -> list[LoadedIndex]:
        """Each index held, its size and its saved file's (``/metrics``), without the lock.

        ``list(dict.items())`` copies the entries in one step (the interpreter holds its
        lock), so a scrape never waits behind a build; the sizes may be a moment old.
        """
        found = []
        for name, entry in list(self._entries.items()):
            sidecar = self._files(name).read_sidecar()
            saved_bytes, saved_at = (
                sidecar_number(sidecar, "bytes"),
                sidecar_number(sidecar, "saved_at"),
            )
            found.append(LoadedIndex(name, len(entry.index), saved_bytes, saved_at))
        return found

    def forget(self, name: str) -> None:
        """The namespace was deleted: drop its index and its files."""
        self._entries.pop(name, None)
        IndexFiles.of(self.data_dir, name).remove_all()

    def save_all(self) -> StoreError | None:
        """Save what this process changed; the first failure, if any (already logged)."""
        failures = [
            self._save(name, entry, wait=_CLOSE_LOCK_WAIT_S)
            for name, entry in self._entries.items()
            if entry.unsaved
        ]
        return next((failure for failure in failures if failure is not None), None)

    def clear(self) -> None:
        self._entries.clear()

    # -- internals ----------------------------------------------------------

    def _discard(self, name: str, entry: _Entry) -> None:
        """Its file failed the background checksum: forget both; the next use rebuilds."""
        del self._entries[name]
        with self._locks.locked(name, wait=None) as held:
            if held:
                entry.index.discard_file(self._files(name))
        logger.warning("rebuilding the index of namespace %r (its file is damaged)", name)

    def _files(self, name: str) -> IndexFiles:
        return IndexFiles.of(self.data_dir, name)

    def _open(
        self, conn: sqlite3.Connection, name: str, row: NamespaceRow, seq: int, horizon: int
    ) -> _Entry:
        loaded = self._load(name, row, seq, horizon)
        if loaded is not None:
            return _Entry(row.created_seq, loaded)
        with self._locks.locked(name, wait=None) as held:
            if not held:  # the folder cannot take a lock file, so no file can be saved
                return self._build(conn, name, row, seq, save=None)
            # Another process may have built it while we waited for the lock.
            loaded = self._load(name, row, seq, horizon)
            if loaded is not None:
                return _Entry(row.created_seq, loaded)
            entry = self._build(conn, name, row, seq, save=self._save_checkpoint_locked)
            self._save_locked(name, entry, force=True)
        return entry

    def _load(self, name: str, row: NamespaceRow, seq: int, horizon: int) -> VectorIndex | None:
        started = time.perf_counter()
        files = self._files(name)
        index = VectorIndex.load(files, name, row.created_seq, row.space.dim, self.settings)
        if index is None:
            return None
        if index.watermark < horizon:
            return None  # deletions it missed may be gone from the log
        if index.watermark > seq and index.watermark > self.current_seq():
            logger.warning(
                "the saved index of namespace %r is newer than the database "
                "(a restored backup?); rebuilding it",
                name,
            )
            return None
        self.stats.loads += 1
        self.stats.load_seconds += time.perf_counter() - started
        return index

    def _build(
        self,
        conn: sqlite3.Connection,
        name: str,
        row: NamespaceRow,
        seq: int,
        save: Callable[[str, _Entry], object] | None,
    ) -> _Entry:
        """A new index of every record in the snapshot, checkpointed through ``save``."""
        started = time.perf_counter()
        entry = _Entry(row.created_seq, VectorIndex.create(row.space.dim, self.settings))
        self._insert_since(conn, name, entry, 0, save)
        entry.index.watermark = seq
        self.stats.builds += 1
        self.stats.build_seconds += time.perf_counter() - started
        logger.info("built the index of namespace %r: %d vectors", name, len(entry.index))
        return entry

    def _catch_up(
        self,
        conn: sqlite3.Connection,
        name: str,
        row: NamespaceRow,
        entry: _Entry,
        seq: int,
        horizon: int,
    ) -> None:
        since = entry.index.watermark
        if row.changed_seq <= since:
            entry.index.watermark = max(since, seq)
            return
        if rows_written_since(conn, name, since) >= self.settings.reload_min_rows:
            newer = self._load_newer(name, row, since, seq, horizon)
            if newer is not None:
                entry.index, entry.unsaved = newer, 0
                since = newer.watermark
        if since < horizon or log_lacks_rowids(conn, name, since):
            logger.info("the index of namespace %r is too far behind the log; rebuilding", name)
            rebuilt = self._build(conn, name, row, seq, save=self._save_rebuilt)
            entry.index, entry.unsaved = rebuilt.index, rebuilt.unsaved
            self._save(name, entry, wait=0.0, force=True)
            return
        removed = entry.index.remove(deleted_rowids_since(conn, name, since))
        self.stats.vectors_removed += removed
        entry.unsaved += removed
        self._insert_since(conn, name, entry, since, save=self._save_checkpoint)
        entry.index.watermark = max(since, seq)
        if entry.unsaved >= self._save_threshold(entry):
            self._save(name, entry, wait=0.0)

    def _load_newer(
        self, name: str, row: NamespaceRow, since: int, seq: int, horizon: int
    ) -> VectorIndex | None:
        sidecar = self._files(name).read_sidecar()
        watermark = sidecar.get("watermark") if sidecar else None
        if not isinstance(watermark, int) or watermark <= since:
            return None
        return self._load(name, row, seq, horizon)

    def _insert_since(
        self,
        conn: sqlite3.Connection,
        name: str,
        entry: _Entry,
        since: int,
        save: Callable[[str, _Entry], object] | None,
    ) -> int:
        """Insert the rows written after ``since``, oldest first; returns how many.

        Every ``_save_threshold`` rows, ``save`` gets a checkpoint: the index with the
        watermark its rows are complete up to (rows of the last seq read may be only
        partly in; the next process inserts them again, which replaces them).
        Applied deletions newer than that watermark are applied again, harmlessly.
        """
        started = time.perf_counter()
        cursor = conn.execute(
            "SELECT rowid, vector, seq FROM records WHERE namespace = ? AND seq > ? ORDER BY seq",
            (name, since),
        )
        index, total = entry.index, 0
        while chunk := cursor.fetchmany(min(_FETCH_ROWS, self._save_threshold(entry))):
            keys = np.fromiter((rowid for rowid, _, _ in chunk), dtype=np.int64, count=len(chunk))
            blob = b"".join(vector for _, vector, _ in chunk)
            if len(blob) != index.dim * 4 * len(chunk):
                raise StoreError(
                    f"stored vectors do not have {index.dim} dimensions; the store is damaged"
                )
            vectors = np.frombuffer(blob, dtype="<f4").reshape(len(chunk), index.dim)
            index.upsert(keys, normalize_rows_in_place(vectors.astype(np.float32)))
            total += len(chunk)
            entry.unsaved += len(chunk)
            if save is not None and entry.unsaved >= self._save_threshold(entry):
                last_seq = int(chunk[-1][2])
                if last_seq - 1 > since:
                    index.watermark = last_seq - 1
                    save(name, entry)
        self.stats.vectors_added += total
        self.stats.add_seconds += time.perf_counter() - started
        return total

    def _save_threshold(self, entry: _Entry) -> int:
        """Changes after which a process saves; each failed save in a row doubles it."""
        settings = self.settings
        threshold = max(settings.save_min_changes, settings.save_share * len(entry.index))
        return max(1, int(threshold)) * (1 + entry.failed_saves)

    def _save(
        self, name: str, entry: _Entry, wait: float, force: bool = False
    ) -> StoreError | None:
        """Save unless another process holds the lock for longer than ``wait`` s."""
        with self._locks.locked(name, wait=wait) as held:
            if held:
                return self._save_locked(name, entry, force)
        return None

    # Checkpoints of a long insertion. A rebuild's are forced, as its final save is: the
    # file it replaces may be the damaged one the sidecar still names.

    def _save_checkpoint(self, name: str, entry: _Entry) -> None:
        self._save(name, entry, wait=0.0)

    def _save_rebuilt(self, name: str, entry: _Entry) -> None:
        self._save(name, entry, wait=0.0, force=True)

    def _save_checkpoint_locked(self, name: str, entry: _Entry) -> None:
        self._save_locked(name, entry, force=True)

    def _save_locked(self, name: str, entry: _Entry, force: bool = False) -> StoreError | None:
        """``force``: even when the sidecar claims a state as new (it may name a damaged file)."""
        sidecar = self._files(name).read_sidecar()
        if (
            not force
            and sidecar is not None
            and sidecar.get("created_seq") == entry.created_seq
            and isinstance(sidecar.get("watermark"), int)
            and sidecar["watermark"] >= entry.index.watermark
        ):
            entry.unsaved = 0  # another process saved this state, or a newer one
            return None
        started = time.perf_counter()
        try:
            entry.index.save(self._files(name), name, entry.created_seq)
        except IndexSaveFailed as exc:
            # The index is a cache: failing to save it costs time later, not data.
            entry.failed_saves += 1
            entry.unsaved = max(entry.unsaved, 1)  # still to save, at close if not before
            logger.warning("cannot save the index of namespace %r: %s", name, exc.detail)
            return exc.describe(name, len(entry.index))
        entry.unsaved = entry.failed_saves = 0
        self.stats.saves += 1
        self.stats.save_seconds += time.perf_counter() - started
        return None


__all__ = ["IndexCache", "IndexStats"]
