"""Step 1 of the image pipeline: decide, per file and without reading it, what to do.

A file whose size and mtime equal its stored record's (with the same source
metadata, and the EXIF fields of ``imaging.exif``) is *unchanged*; one with new labels
or a new path keeps its vector; any other file becomes a job for a decode worker (one
stored before EXIF was read is hashed again, not decoded, and keeps its vector). The
records of the namespace as they were before the run are loaded once (``load_stored``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..imaging.exif import PHOTO_KEYS
from ..imaging.prepare import PreparedImage
from ..limits import check_metadata_limits
from ..records import NAMESPACE_KEY, stamp_namespace
from ..sources import BadItem, SourceItem
from ..sources.images import describe_os_error
from ..storage import VectorStore

PIPELINE_KEYS = frozenset(
    {NAMESPACE_KEY, "width", "height", "bytes", "mtime", "sha256", *PHOTO_KEYS}
)
"""Metadata the pipeline adds (the file's facts, its EXIF); everything else comes from
the source."""


def add_photo_metadata(metadata: dict[str, Any], photo: dict[str, Any]) -> None:
    """Add a file's EXIF fields (``imaging.exif``) to its record's metadata; a value the
    source gave under the same key (an image list's ``taken_at`` column) wins."""
    for key, value in photo.items():
        metadata.setdefault(key, value)


@dataclass
class StoredFile:
    """A record of this namespace as it was before the run."""

    size_bytes: Any
    mtime: Any
    sha256: str | None
    metadata: dict[str, Any]


@dataclass
class SourceFile:
    """A file of the source, as the pipeline tracks it."""

    location: str
    record_id: str
    path: Path
    metadata: dict[str, Any]


@dataclass
class Job:
    """A file to read and decode in a worker."""

    file: SourceFile
    mtime: float


@dataclass
class Ready:
    """A file ready for a batch: prepared now, or unchanged content with new metadata."""

    file: SourceFile
    sha256: str
    prepared: PreparedImage | None = None


@dataclass
class Unchanged:
    location: str


@dataclass
class Skip:
    location: str
    reason: str


Outcome = Ready | Unchanged | Skip


@dataclass
class Planner:
    """Turns source items into jobs and outcomes, in the source's order."""

    namespace: str
    stored: dict[str, StoredFile]
    needs_model: Callable[[], None]
    """Called when a file will most likely need the model (it starts loading)."""

    def __post_init__(self) -> None:
        self.seen_ids: set[str] = set()
        self.seen = 0

    def plan(self, items: Iterable[SourceItem | BadItem]) -> Iterator[Job | Outcome]:
        for item in items:
            self.seen += 1
            if isinstance(item, BadItem):
                yield Skip(item.location, item.reason)
                continue
            if item.path is None or item.id is None:
                yield Skip(item.location, "the source gave no file path")
                continue
            self.seen_ids.add(item.id)
            metadata = stamp_namespace(item.metadata, self.namespace)
            try:  # labels of an image list are the user's text: bounded like any metadata
                check_metadata_limits(metadata)
            except InvalidInputError as exc:
                yield Skip(item.location, exc.message)
                continue
            file = SourceFile(item.location, item.id, item.path, metadata)
            try:
                info = os.stat(file.path)
            except OSError as exc:
                yield Skip(file.location, describe_os_error(exc))
                continue
            if not stat.S_ISREG(info.st_mode):
                yield Skip(file.location, "not a regular file")
                continue
            before = self.stored.get(file.record_id)
            if before is None or not before.sha256 or not same_file(before, info):
                self.needs_model()
                yield Job(file, info.st_mtime)
            elif "taken_at" not in before.metadata:
                # stored by a version that read no EXIF: hashed again (known content is
                # not decoded, its vector is reused) so its record gets the EXIF fields
                yield Job(file, info.st_mtime)
            elif same_source_metadata(before.metadata, file.metadata):
                yield Unchanged(file.location)
            else:  # the same file with new labels or a new path: keep its vector
                for key in PIPELINE_KEYS - {NAMESPACE_KEY}:
                    if key in before.metadata:
                        file.metadata[key] = before.metadata[key]
                yield Ready(file, before.sha256)


def same_file(before: StoredFile, info: os.stat_result) -> bool:
    return before.size_bytes == info.st_size and before.mtime == info.st_mtime


def same_source_metadata(before: dict[str, Any], now: dict[str, Any]) -> bool:
    kept = {key: value for key, value in before.items() if key not in PIPELINE_KEYS}
    new = {key: value for key, value in now.items() if key not in PIPELINE_KEYS}
    return kept == new and before.get(NAMESPACE_KEY) == now.get(NAMESPACE_KEY)


def is_gone(path: object) -> bool:
    """True only when the file is certainly absent (not merely unreadable)."""
    if not isinstance(path, str) or not path:
        return False
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


def load_stored(store: VectorStore, namespace: str) -> dict[str, StoredFile]:
    """The image records of ``namespace`` by id, as they are before the run."""
    stored: dict[str, StoredFile] = {}
    for record_id, content_hash, metadata in store.scan_metadata(namespace):
        if metadata.get("type") == "image":
            stored[record_id] = StoredFile(
                metadata.get("bytes"), metadata.get("mtime"), content_hash, metadata
            )
    return stored
