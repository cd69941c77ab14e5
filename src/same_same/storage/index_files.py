"""Where a namespace's approximate index lives on disk, and how its files are written safely.

Files, in ``data_dir/index/``, per namespace (``KEY`` is a hash of its name, since
names may hold any character):

* ``KEY-CREATED-WATERMARK.usearch``: the index. ``CREATED`` is the namespace's
  ``created_seq``; ``WATERMARK`` is the store's seq the index was up to date with.
* ``KEY.json``: the sidecar naming the current index file, with its watermark,
  size and CRC-32, and the settings it was built with.
* ``KEY.lock``: ``flock``-ed by the one process building or saving.

A save (``ann_index.VectorIndex.save``) writes a new index file under a temporary
name, fsyncs and renames it, then replaces the sidecar the same way, then removes
the older index file: a crash at any point leaves the previous sidecar naming a
complete file. This module holds the pieces that sequence is made of.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DiskFullError, ReadOnlyStoreError, StoreError

INDEX_DIRNAME = "index"
_CRC_CHUNK = 16 * 1024 * 1024
FULL_DISK_BYTES = 1024 * 1024
"""A disk with less room than this for this process is full (``disk_is_full``)."""


def namespace_key(name: str) -> str:
    """A file-name-safe key for a namespace name (names may hold any character)."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class IndexFiles:
    """Where one namespace's index lives."""

    folder: Path
    key: str

    @classmethod
    def of(cls, data_dir: Path, namespace: str) -> IndexFiles:
        return cls(Path(data_dir) / INDEX_DIRNAME, namespace_key(namespace))

    @property
    def sidecar(self) -> Path:
        return self.folder / f"{self.key}.json"

    @property
    def lock_path(self) -> Path:
        return self.folder / f"{self.key}.lock"

    def index_path(self, created_seq: int, watermark: int) -> Path:
        return self.folder / f"{self.key}-{created_seq}-{watermark}.usearch"

    def read_sidecar(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def remove_all(self) -> None:
        """Forget the namespace's index files (it was deleted); best effort."""
        for path in [self.sidecar, *self.folder.glob(f"{self.key}-*")]:
            with contextlib.suppress(OSError):
                path.unlink()

    def remove_stale(self, keep: Path) -> None:
        """Older index files, and temporaries of saves that crashed (only the lock holder saves)."""
        for path in self.folder.glob(f"{self.key}-*"):
            if path != keep:
                with contextlib.suppress(OSError):
                    path.unlink()
        for path in self.folder.glob(f"{self.key}.json.*.tmp"):
            with contextlib.suppress(OSError):
                path.unlink()

    @contextlib.contextmanager
    def locked(self, wait: float | None) -> Iterator[bool]:
        """Hold the namespace's file lock; yields False when it stayed taken for ``wait`` s.

        ``wait=None`` waits as long as it takes (another process is building or saving).
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            yield _take_lock(fd, wait)
        finally:
            os.close(fd)  # closing drops the lock


def disk_is_full(folder: Path) -> bool:
    """Whether the file system under ``folder`` has (almost) no room left for this user.

    For failures that do not carry ENOSPC (usearch reports a failed write as
    "Failed to serialize into stream"): asked before the partial file is removed,
    while the disk is still as full as the write left it."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < FULL_DISK_BYTES


class IndexSaveFailed(Exception):
    """A save of an index did not happen; its temporary files are already removed.

    ``reason``: ``"disk_full"``, ``"read_only"`` or ``"failed"``; ``detail`` says why in
    words, without paths (it may reach a client)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail

    @classmethod
    def of(cls, exc: BaseException, folder: Path) -> IndexSaveFailed:
        """What ``exc``, raised while writing in ``folder``, means (ask before cleaning up)."""
        code = exc.errno if isinstance(exc, OSError) else None
        if code in (errno.ENOSPC, errno.EDQUOT) or disk_is_full(folder):
            return cls("disk_full", "the disk is full")
        if code in (errno.EROFS, errno.EACCES, errno.EPERM):
            return cls("read_only", "the index folder cannot be written")
        if isinstance(exc, OSError):
            return cls("failed", exc.strerror or type(exc).__name__)
        return cls("failed", str(exc) or type(exc).__name__)

    def describe(self, namespace: str, count: int) -> StoreError:
        """The one line an ingest ends with: the index is not saved, the records are."""
        stored = f"all {count} records are stored"
        hint = (
            f"the index of namespace {namespace!r} is saved again by the next run; "
            "searches work meanwhile"
        )
        if self.reason == "disk_full":
            return DiskFullError(f"disk full while saving the index; {stored}", hint=hint)
        if self.reason == "read_only":
            return ReadOnlyStoreError(f"the index folder is read-only; {stored}", hint=hint)
        return StoreError(f"cannot save the index ({self.detail}); {stored}", hint=hint)


def checksum(path: Path) -> tuple[int, int]:
    """``(CRC-32, size in bytes)`` of a file, read in chunks."""
    crc, size = 0, 0
    with open(path, "rb") as file:
        while chunk := file.read(_CRC_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return crc, size


def checksum_matches(path: Path, sidecar: dict[str, Any]) -> bool:
    """Whether the file has the size and CRC-32 its sidecar records (False if unreadable)."""
    try:
        crc, size = checksum(path)
    except OSError:
        return False
    return size == sidecar.get("bytes") and crc == sidecar.get("crc32")


def fsync_path(path: Path) -> None:
    """Flush a file, or a folder's entries (a rename), to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _take_lock(fd: int, wait: float | None) -> bool:
    if wait is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def sidecar_number(sidecar: dict[str, Any] | None, key: str) -> Any:
    """A number from an index's sidecar, or None (no sidecar, or not a number in it)."""
    value = None if sidecar is None else sidecar.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


__all__ = [
    "FULL_DISK_BYTES",
    "INDEX_DIRNAME",
    "IndexFiles",
    "IndexSaveFailed",
    "disk_is_full",
    "sidecar_number",
    "checksum",
    "checksum_matches",
    "fsync_path",
    "namespace_key",
]
