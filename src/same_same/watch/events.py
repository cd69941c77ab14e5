"""Where a watch hears of changes: watchdog's inotify observer, or its polling one.

watchdog's events are turned into ``FileEvent``s (what the debouncer needs to know,
nothing more) and handed to a callback on watchdog's own thread. Folders that
appear are walked by the debouncer; folders that disappear or move away make the
next pass a full one, since the records under them are only known to the store.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from ..errors import MissingDependencyError, SourceError
from ..sources.images import format_path

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent


class EventKind(Enum):
    CHANGED = "changed"
    """Created or written: may still be open for writing."""
    OPENED = "opened"
    CLOSED = "closed"
    """Closed by a process that had it open for writing (inotify's IN_CLOSE_WRITE)."""
    CLOSED_UNCHANGED = "closed unchanged"
    """Closed by a process that only read it."""
    ARRIVED = "arrived"
    """Moved into place: complete as it is."""
    GONE = "gone"
    """Deleted, or moved away."""
    FOLDER_ARRIVED = "folder arrived"
    FOLDER_GONE = "folder gone"


@dataclass(frozen=True)
class FileEvent:
    kind: EventKind
    path: str


class EventSource(Protocol):
    """Something that tells of changes under a folder until stopped."""

    @property
    def tells_closes(self) -> bool:
        """Whether CLOSED events come (inotify), so an open file can be waited for."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def translate_event(event: FileSystemEvent) -> list[FileEvent]:
    """The ``FileEvent``s one watchdog event means (none for a folder's own mtime)."""
    from watchdog.events import (
        EVENT_TYPE_CLOSED,
        EVENT_TYPE_CLOSED_NO_WRITE,
        EVENT_TYPE_CREATED,
        EVENT_TYPE_DELETED,
        EVENT_TYPE_MODIFIED,
        EVENT_TYPE_MOVED,
        EVENT_TYPE_OPENED,
    )

    src = os.fsdecode(event.src_path)
    kind = event.event_type
    if event.is_directory:
        if kind == EVENT_TYPE_CREATED:
            return [FileEvent(EventKind.FOLDER_ARRIVED, src)]
        if kind == EVENT_TYPE_DELETED:
            return [FileEvent(EventKind.FOLDER_GONE, src)]
        if kind == EVENT_TYPE_MOVED:
            dest = os.fsdecode(event.dest_path)
            return [
                FileEvent(EventKind.FOLDER_GONE, src),
                FileEvent(EventKind.FOLDER_ARRIVED, dest),
            ]
        return []
    if kind in (EVENT_TYPE_CREATED, EVENT_TYPE_MODIFIED):
        return [FileEvent(EventKind.CHANGED, src)]
    if kind == EVENT_TYPE_MOVED:
        return [
            FileEvent(EventKind.GONE, src),
            FileEvent(EventKind.ARRIVED, os.fsdecode(event.dest_path)),
        ]
    if kind == EVENT_TYPE_DELETED:
        return [FileEvent(EventKind.GONE, src)]
    if kind == EVENT_TYPE_CLOSED:
        return [FileEvent(EventKind.CLOSED, src)]
    if kind == EVENT_TYPE_CLOSED_NO_WRITE:
        return [FileEvent(EventKind.CLOSED_UNCHANGED, src)]
    if kind == EVENT_TYPE_OPENED:
        return [FileEvent(EventKind.OPENED, src)]
    return []  # attribute changes: the content is what is embedded


def require_watchdog(feature: str = "same-same watch") -> None:
    """MissingDependencyError (with the pip command) unless watchdog is installed."""
    try:
        import watchdog  # noqa: F401
    except ImportError:
        raise MissingDependencyError(feature, "watch") from None


class WatchdogSource:
    """watchdog's native observer (inotify on Linux), or its polling one every ``poll`` s."""

    def __init__(
        self,
        folder: str,
        recursive: bool,
        poll_seconds: float | None,
        notify: Callable[[FileEvent], None],
    ) -> None:
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
            from watchdog.observers.polling import PollingObserver
        except ImportError:
            raise MissingDependencyError("same-same watch", "watch") from None

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                for translated in translate_event(event):
                    notify(translated)

        if poll_seconds is None:
            self.observer = Observer()
        else:
            self.observer = PollingObserver(timeout=poll_seconds)
        self.polling = poll_seconds is not None
        self.folder = folder
        self.observer.schedule(Handler(), folder, recursive=recursive)

    @property
    def tells_closes(self) -> bool:
        try:
            from watchdog.observers.inotify import InotifyObserver
        except ImportError:  # not Linux: no close events to wait for
            return False
        return not self.polling and isinstance(self.observer, InotifyObserver)

    def start(self) -> None:
        try:
            self.observer.start()
        except OSError as exc:  # inotify's limits (ENOSPC: max_user_watches), a folder gone
            raise SourceError(
                f"cannot watch {format_path(self.folder)}: {exc.strerror or exc}",
                hint="raise fs.inotify.max_user_watches (sysctl), or watch with --poll SECONDS",
            ) from None

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=10)
