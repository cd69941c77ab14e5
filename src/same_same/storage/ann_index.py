"""An approximate nearest-neighbour index of one namespace (HNSW, by usearch) and its files.

The index is a cache derived from the SQLite file, never the truth: it can be
thrown away and rebuilt from the records at any time. Keys are the records'
SQLite rowids; vectors are stored unit length in float16, so the graph and its
vectors take less memory than the float32 vectors alone (docs/vector-index.md).

Where its files live, and how a save stays atomic: ``index_files``.

Loading maps the file (usearch's ``view``) instead of reading it: a server answers
its first search without reading the whole file first, and processes on one
machine share the pages. The first change copies the index into memory
(``materialize``). The CRC-32 of the file is checked before use for small files,
and on a background thread for large ones (``verified`` says how it went; a
damaged file found that way is rebuilt at the next search): reading a large file
in full to check it would hold up the start just as reading it would.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from .index_files import IndexFiles, IndexSaveFailed, checksum, checksum_matches, fsync_path
from .index_settings import IndexSettings

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
METRIC = "cos"
DTYPE = "f16"
_GET_CHUNK = 8192
_VERIFY_IN_BACKGROUND_BYTES = 256 * 1024 * 1024
_usearch_checked = False
_usearch_available = False


def usearch_available() -> bool:
    """Whether usearch imports; warns once (then stays quiet) when it does not."""
    global _usearch_checked, _usearch_available
    if not _usearch_checked:
        _usearch_checked = True
        try:
            import usearch.index  # noqa: F401
        except ImportError as exc:
            _usearch_available = False
            logger.warning(
                "usearch is not installed (%s): large namespaces are searched exactly, "
                "which is slower; `pip install usearch` to index them",
                exc,
            )
        else:
            _usearch_available = True
    return _usearch_available


class VectorIndex:
    """One namespace's HNSW graph in memory. Not thread-safe: the store serialises use."""

    def __init__(self, index: Any, settings: IndexSettings, watermark: int) -> None:
        self._index = index
        self.settings = settings
        self.watermark = watermark
        """The store seq whose state the index holds."""
        self.mapped = False
        """Whether the index is a read-only map of its file (until ``materialize``)."""
        self.verified: bool | None = True
        """The file's checksum matched (True), did not (False), or is being checked (None)."""

    @classmethod
    def create(cls, dim: int, settings: IndexSettings) -> VectorIndex:
        from usearch.index import Index

        index = Index(
            ndim=dim,
            metric=METRIC,
            dtype=DTYPE,
            connectivity=settings.connectivity,
            expansion_add=settings.expansion_add,
        )
        return cls(index, settings, watermark=0)

    @property
    def dim(self) -> int:
        return int(self._index.ndim)

    def __len__(self) -> int:
        return len(self._index)

    # -- changes ------------------------------------------------------------

    def materialize(self) -> None:
        """Copy a mapped index into memory, so it can change."""
        if self.mapped:
            copy: Any = self._index.copy()
            copy.expansion_add = self.settings.expansion_add
            self._index, self.mapped = copy, False

    def upsert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Add unit ``vectors`` under ``keys``, replacing what those keys held."""
        if len(keys) == 0:
            return
        self.materialize()
        keys = np.asarray(keys, dtype=np.uint64)
        self.remove(keys)
        self._index.add(keys, np.ascontiguousarray(vectors, dtype=np.float32))

    def remove(self, keys: np.ndarray) -> int:
        """Remove the keys that are present; returns how many were."""
        if len(keys) == 0:
            return 0
        keys = np.asarray(keys, dtype=np.uint64)
        present = keys[np.asarray(self._index.contains(keys), dtype=bool)]
        if len(present):
            self.materialize()
            self._index.remove(present)
        return len(present)

    # -- searches -----------------------------------------------------------

    def search(
        self, query: np.ndarray, count: int, exact: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, approximate cosine scores)`` of the best ``count``, best first.

        ``exact`` scans every vector (float16 scores) instead of walking the graph.
        """
        count = min(count, len(self))
        if count <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if not exact:
            # The graph walk keeps ef candidates; fewer than asked would lose results.
            ef = max(count, self.settings.search_expansion(len(self)))
            if self._index.expansion_search != ef:
                self._index.expansion_search = ef
        found = self._index.search(query, count, exact=exact)
        keys = np.asarray(found.keys, dtype=np.int64)
        scores = 1.0 - np.asarray(found.distances, dtype=np.float32)
        return keys, scores

    def score(self, query: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Approximate (float16) cosine scores of ``keys``, which must all be present."""
        scores = np.empty(len(keys), dtype=np.float32)
        for start in range(0, len(keys), _GET_CHUNK):
            chunk = np.asarray(keys[start : start + _GET_CHUNK], dtype=np.uint64)
            vectors = np.vstack(self._index.get(chunk, dtype=np.float32))
            scores[start : start + len(chunk)] = vectors @ query
        return scores

    # -- files --------------------------------------------------------------

    def discard_file(self, files: IndexFiles) -> None:
        """Its file proved damaged: stop naming it, so the next open rebuilds (lock held)."""
        sidecar = files.read_sidecar()
        if sidecar is not None and sidecar.get("watermark") == self.watermark:
            with contextlib.suppress(OSError):
                files.sidecar.unlink()

    def save(self, files: IndexFiles, namespace: str, created_seq: int) -> Path:
        """Write the index and its sidecar atomically (the caller holds the lock).

        Raises ``IndexSaveFailed`` (a full disk, a read-only folder...) after removing
        what it wrote: the previous sidecar and its file stay as they were.
        """
        target = files.index_path(created_seq, self.watermark)
        temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        temporary_sidecar = files.sidecar.with_name(f"{files.sidecar.name}.{os.getpid()}.tmp")
        written = [temporary, temporary_sidecar]
        try:
            files.folder.mkdir(parents=True, exist_ok=True)
            self._index.save(str(temporary))
            crc, size = checksum(temporary)
            fsync_path(temporary)
            os.replace(temporary, target)
            written.append(target)  # named by no sidecar until the next replace
            temporary_sidecar.write_text(
                json.dumps(self._describe(namespace, created_seq, target, size, crc), indent=1),
                encoding="utf-8",
            )
            fsync_path(temporary_sidecar)
            os.replace(temporary_sidecar, files.sidecar)
        except Exception as exc:
            failure = IndexSaveFailed.of(exc, files.folder)  # before the disk has room again
            _remove_quietly(written)
            raise failure from exc
        except BaseException:
            _remove_quietly(written)
            raise
        with contextlib.suppress(OSError):
            fsync_path(files.folder)  # the save is complete without it; only durability waits
        files.remove_stale(keep=target)
        return target

    def _describe(
        self, namespace: str, created_seq: int, target: Path, size: int, crc: int
    ) -> dict[str, Any]:
        """The sidecar of a save to ``target``."""
        return {
            "format": FORMAT_VERSION,
            "namespace": namespace,
            "created_seq": created_seq,
            "watermark": self.watermark,
            "file": target.name,
            "bytes": size,
            "crc32": crc,
            "count": len(self),
            "dim": self.dim,
            "metric": METRIC,
            "dtype": DTYPE,
            "connectivity": self.settings.connectivity,
            "expansion_add": self.settings.expansion_add,
            "saved_at": time.time(),
        }

    @classmethod
    def load(
        cls,
        files: IndexFiles,
        namespace: str,
        created_seq: int,
        dim: int,
        settings: IndexSettings,
    ) -> VectorIndex | None:
        """The saved index, or None when there is none or it cannot be trusted (logged)."""
        sidecar = files.read_sidecar()
        if sidecar is None:
            return None
        expected = {
            "format": FORMAT_VERSION,
            "namespace": namespace,
            "created_seq": created_seq,
            "dim": dim,
            "metric": METRIC,
            "dtype": DTYPE,
            "connectivity": settings.connectivity,
        }
        if any(sidecar.get(field) != value for field, value in expected.items()):
            return None  # another namespace of that name, or other settings: rebuild
        try:
            return cls._load_checked(files, sidecar, dim, settings)
        except _DamagedIndex as exc:
            logger.warning(
                "the saved index of namespace %r is damaged (%s); rebuilding it", namespace, exc
            )
            return None

    @classmethod
    def _load_checked(
        cls, files: IndexFiles, sidecar: dict[str, Any], dim: int, settings: IndexSettings
    ) -> VectorIndex:
        from usearch.index import Index

        name = sidecar.get("file")
        watermark = sidecar.get("watermark")
        if not isinstance(name, str) or "/" in name or not isinstance(watermark, int):
            raise _DamagedIndex("the sidecar is malformed")
        path = files.folder / name
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise _DamagedIndex(f"cannot read {path.name}: {exc.strerror}") from None
        if size != sidecar.get("bytes"):
            raise _DamagedIndex(f"{path.name} has {size} bytes, not {sidecar.get('bytes')}")
        in_background = size > _VERIFY_IN_BACKGROUND_BYTES
        if not in_background and not checksum_matches(path, sidecar):
            raise _DamagedIndex(f"{path.name} does not match its checksum")
        try:
            index: Any = Index.restore(str(path), view=True)
        except (ValueError, RuntimeError, OSError) as exc:
            raise _DamagedIndex(str(exc)) from None
        if index is None or index.ndim != dim or len(index) != sidecar.get("count"):
            raise _DamagedIndex(f"{path.name} does not hold what its sidecar says")
        loaded = cls(index, settings, watermark)
        loaded.mapped = True
        if in_background:
            loaded.verified = None
            threading.Thread(
                target=loaded._verify, args=(path, sidecar), name="index-checksum", daemon=True
            ).start()
        return loaded

    def _verify(self, path: Path, sidecar: dict[str, Any]) -> None:
        try:
            self.verified = checksum_matches(path, sidecar)
        except OSError:
            self.verified = False
        if not self.verified:
            logger.warning("the saved index %s does not match its checksum", path.name)


class _DamagedIndex(Exception):
    pass


def _remove_quietly(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


__all__ = ["IndexFiles", "VectorIndex", "usearch_available"]
