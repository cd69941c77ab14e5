"""Applying changes to the store through the image ingest pipeline.

A *full pass* is ``same-same ingest --prune`` of the folder: unchanged files are only
stat'ed, moved files keep their vectors (found by content hash), records of files
that are gone are deleted. A watch starts with one, which is what makes it safe to
kill: whatever happened while it was down is caught up on. After that, each batch of
settled changes is a *targeted pass*: only the changed files go through the
pipeline, and the records of deleted files are deleted.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol, TextIO

from ..embedders import ImageEmbedder
from ..ingest import IngestReport, Progress, run_ingest
from ..ingest.image_plan import is_gone, load_stored
from ..sources import BadItem, SourceItem
from ..sources.images import ImageFolderSource, ImageSource, derive_image_id
from ..storage import VectorStore
from .changes import Change, RecordState, describe_changes, state_of
from .options import WatchOptions


def never() -> bool:
    return False


class PassObserver(Protocol):
    """Told of each pass a watch makes (the server's ``/metrics`` counts them)."""

    def observe_pass(
        self, namespace: str, report: IngestReport | None, changes: Sequence[Change]
    ) -> None:
        """``report``: the ingest of the pass; None for a pass that only deleted records."""


class SelectedFiles(ImageSource):
    """Some files of a watched folder, as the folder's walk would give them."""

    def __init__(
        self, folder: ImageFolderSource, paths: Iterable[str], stopping: Callable[[], bool] = never
    ) -> None:
        self.folder = folder
        self.paths = sorted(paths)
        self.stopping = stopping

    def describe(self) -> str:
        return self.folder.describe()

    def owns(self, metadata: dict[str, Any]) -> bool:
        return self.folder.owns(metadata)

    def count_hint(self) -> int | None:
        return len(self.paths)

    def items(self) -> Iterator[SourceItem | BadItem]:
        for path in self.paths:
            if self.stopping():
                return
            item = self.folder.item_for(path)
            if item is not None:
                yield item


class FolderExcept(ImageSource):
    """The folder's walk without some files (still being written: read later)."""

    def __init__(
        self,
        folder: ImageFolderSource,
        left_out: Iterable[str],
        stopping: Callable[[], bool] = never,
    ) -> None:
        self.folder = folder
        self.left_out = {os.path.abspath(path) for path in left_out}
        self.stopping = stopping

    def describe(self) -> str:
        return self.folder.describe()

    def owns(self, metadata: dict[str, Any]) -> bool:
        return self.folder.owns(metadata)

    def count_hint(self) -> int | None:
        return None

    def items(self) -> Iterator[SourceItem | BadItem]:
        for item in self.folder.items():
            if self.stopping():
                return
            if isinstance(item, SourceItem) and item.path is not None:
                if os.path.abspath(item.path) in self.left_out:
                    continue
            yield item


class FolderSyncer:
    """Keeps one namespace in step with one folder, one pass at a time (not thread-safe)."""

    def __init__(
        self,
        store: VectorStore,
        embedder: ImageEmbedder,
        folder: ImageFolderSource,
        options: WatchOptions,
        stream: TextIO,
        after_change: Callable[[], None] | None = None,
        stopping: Callable[[], bool] = never,
        observer: PassObserver | None = None,
    ) -> None:
        self.store = store
        self.observer = observer
        self.embedder = embedder
        self.folder = folder
        self.options = options
        self.stream = stream
        self.after_change = after_change
        """Called after a pass that changed something (to refresh the calibration)."""
        self.stopping = stopping
        """True once the watch stops: a pass then reads no further file and ends with the
        batch in flight committed (prune deletes only records of files that are gone, so a
        full pass cut short removes nothing it should keep)."""
        self.shown = folder.shown

    @property
    def namespace(self) -> str:
        return self.options.namespace

    def full_pass(self, left_out: Iterable[str] = ()) -> list[Change]:
        """Ingest the whole folder with prune; ``left_out``: files not to read yet."""
        before = self._states_all()
        source = FolderExcept(self.folder, left_out, self.stopping)
        report = self._ingest(source, prune=True)
        return self._finish(before, self._states_all(), report)

    def targeted_pass(self, changed: Iterable[str], gone: Iterable[str]) -> list[Change]:
        """Ingest the files in ``changed``; delete the records of ``gone`` files."""
        present = sorted({path for path in changed if os.path.lexists(path)})
        missing = sorted({*gone, *(path for path in changed if not os.path.lexists(path))})
        ids = self._ids_of([*present, *missing])
        before = self._states_of(ids)
        report = None
        if present:
            report = self._ingest(SelectedFiles(self.folder, present, self.stopping), prune=False)
        self._delete_gone(missing)
        return self._finish(before, self._states_of(ids), report)

    def _ingest(self, source: ImageSource, prune: bool) -> IngestReport:
        options = replace(self.options.ingest, prune=prune, dry_run=False, sample=None)
        progress = Progress(unit="images", stream=self.stream, enabled=False)
        return run_ingest(self.store, self.embedder, source, options, progress)

    def _finish(
        self,
        before: dict[str, RecordState],
        after: dict[str, RecordState],
        report: IngestReport | None,
    ) -> list[Change]:
        changes = describe_changes(before, after)
        if self.observer is not None:
            self.observer.observe_pass(self.namespace, report, changes)
        if changes and self.after_change is not None:
            self.after_change()
        return changes

    def _delete_gone(self, paths: list[str]) -> None:
        if not paths or self.store.find_namespace(self.namespace) is None:
            return
        ids = self._ids_of(paths)
        found = self.store.get_metadata(self.namespace, ids)
        doomed = [
            record_id
            for record_id, metadata in found.items()
            if self.folder.owns(metadata) and is_gone(metadata.get("abs_path"))
        ]
        if doomed:
            self.store.delete(self.namespace, doomed)

    def _ids_of(self, paths: Iterable[str]) -> list[str]:
        """The ids a file at each path has or had (by its real path, and by the folder's
        real path joined with its path in the folder, for a file now gone)."""
        ids: list[str] = []
        root = os.path.abspath(self.folder.root)
        for path in paths:
            absolute = os.path.abspath(path)
            ids.append(derive_image_id(os.path.realpath(absolute)))
            ids.append(
                derive_image_id(
                    os.path.join(self.folder.real_root, os.path.relpath(absolute, root))
                )
            )
        return list(dict.fromkeys(ids))

    def _states_of(self, ids: list[str]) -> dict[str, RecordState]:
        if not ids or self.store.find_namespace(self.namespace) is None:
            return {}
        found = self.store.get_metadata(self.namespace, ids)
        return {
            record_id: state_of(metadata, None, self.shown)
            for record_id, metadata in found.items()
            if self.folder.owns(metadata)
        }

    def _states_all(self) -> dict[str, RecordState]:
        if self.store.find_namespace(self.namespace) is None:
            return {}
        return {
            record_id: state_of(stored.metadata, stored.sha256, self.shown)
            for record_id, stored in load_stored(self.store, self.namespace).items()
            if self.folder.owns(stored.metadata)
        }
