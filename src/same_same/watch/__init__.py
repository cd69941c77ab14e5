"""Watching folders: a folder kept in sync with a namespace while files come and go.

``FolderWatcher(store, embedder, open_watched_folder("images:DIR"), WatchOptions(...)).run()``
makes a full pass (an incremental ingest with prune: it catches up on what happened
while nothing watched), then applies each settled change through the same image
pipeline: new and changed files are embedded once closed and settled, moved files
keep their vectors, deleted files' records go. ``events`` hears of changes (inotify
through watchdog, or polling), ``debounce`` decides when a file may be read, ``sync``
applies a batch and ``changes`` tells what it changed.
"""

from __future__ import annotations

from ..errors import SourceError
from ..sources import SourceOptions, open_source
from ..sources.images import ImageFolderSource
from .background import BackgroundWatches, WatchRequest
from .changes import Change, ChangeKind
from .options import WatchOptions
from .sync import PassObserver
from .watcher import FolderWatcher


def open_watched_folder(spec: str, recursive: bool = True) -> ImageFolderSource:
    """The folder ``images:DIR`` names; SourceError for any other source."""
    source = open_source(spec, SourceOptions(recursive=recursive))
    if not isinstance(source, ImageFolderSource):
        raise SourceError(
            f"only a folder can be watched, not {source.describe()}",
            hint="same-same watch -e clip images:DIR",
        )
    return source


__all__ = [
    "BackgroundWatches",
    "Change",
    "ChangeKind",
    "FolderWatcher",
    "PassObserver",
    "WatchOptions",
    "WatchRequest",
    "open_watched_folder",
]
