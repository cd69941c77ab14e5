"""A folder kept in sync with a namespace until stopped: events in, passes out.

``FolderWatcher.run`` starts the event source, makes a full pass (catching up on
what happened while nothing watched), then applies each batch the debouncer lets
through, telling each change on ``stream``, until ``stop`` is called (from a signal
handler or another thread). A pass in progress then reads no further file and
commits its batch in flight; the next start goes on from there. Each batch is
committed whole, so even a kill loses nothing committed.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from ..embedders import ImageEmbedder
from ..errors import SameSameError
from ..sources.images import ImageFolderSource, has_image_extension
from ..storage import VectorStore
from .changes import Change
from .debounce import Debouncer
from .events import EventKind, EventSource, FileEvent, WatchdogSource
from .options import WatchOptions
from .sync import FolderSyncer, PassObserver

FOLDER_KINDS = frozenset({EventKind.FOLDER_ARRIVED, EventKind.FOLDER_GONE})

IDLE_TICK_SECONDS = 0.25
"""How often pending files are looked at again while some wait to settle."""


class FolderWatcher:
    """Watches ``folder`` into ``options.namespace`` of ``store``."""

    def __init__(
        self,
        store: VectorStore,
        embedder: ImageEmbedder,
        folder: ImageFolderSource,
        options: WatchOptions,
        stream: TextIO | None = None,
        on_change: Callable[[Change], None] | None = None,
        after_change: Callable[[], None] | None = None,
        event_source: Callable[[Callable[[FileEvent], None]], EventSource] | None = None,
        observer: PassObserver | None = None,
    ) -> None:
        self.folder = folder
        self.options = options
        self.stream = stream if stream is not None else sys.stderr
        self.on_change = on_change or self._print_change
        self.store = store
        self.embedder = embedder
        self._stop = threading.Event()
        self.syncer = FolderSyncer(
            store,
            embedder,
            folder,
            options,
            self.stream,
            after_change or self.refresh_calibration,
            stopping=self._stop.is_set,
            observer=observer,
        )
        self.debouncer = Debouncer(
            settle=options.settle_seconds, tells_closes=False, list_folder=self._list_folder
        )
        if event_source is None:
            self.events: EventSource = WatchdogSource(
                folder.root, options.recursive, options.poll_seconds, self._note
            )
        else:
            self.events = event_source(self._note)
        self.debouncer.tells_closes = self.events.tells_closes
        self.ready = threading.Event()
        """Set once the first full pass is done and changes are being applied."""

    def stop(self) -> None:
        """Ask ``run`` to return (any thread, a signal handler): a pass in progress reads no
        further file and commits the batch in flight first."""
        self._stop.set()
        self.debouncer.wake()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Watch until ``stop``; errors of a pass (a store that fails) end the watch."""
        self.events.start()  # before the full pass: nothing that happens during it is missed
        try:
            self._tell(self.syncer.full_pass())
            if self._stop.is_set():
                return  # cut short: the next start goes on from what was committed
            self._say_caught_up()
            self.ready.set()
            while not self._stop.is_set():
                self.debouncer.wait(IDLE_TICK_SECONDS if self.debouncer.has_pending() else 5.0)
                if self._stop.is_set():
                    break
                batch = self.debouncer.take()
                if not batch:
                    continue
                if batch.full_pass:  # covers the ready files and the deletions too
                    changes = self.syncer.full_pass(left_out=batch.unsettled)
                else:
                    changes = self.syncer.targeted_pass(batch.changed, batch.gone)
                self._tell(changes)
        finally:
            self.events.stop()

    def refresh_calibration(self) -> None:
        """Make the namespace's relevance calibration again when its size made it stale, as
        ``same-same ingest`` does at its end; a failure is told and changes nothing else."""
        from ..embedder_cache import EmbedderCache
        from ..relevance import Calibrations

        info = self.store.find_namespace(self.options.namespace)
        if info is None or info.count == 0:
            return
        calibrations = Calibrations(self.store, EmbedderCache())
        try:
            if not calibrations.stored_is_current(info):
                calibrations.refresh(info, self.embedder)
        except SameSameError as error:
            self.stream.write(f"warning: relevance not calibrated: {error}\n")
            self.stream.flush()

    def _note(self, event: FileEvent) -> None:
        """Events of files the walk passes over (not an image name: a download's temporary
        file, a sidecar) are dropped here, so they never cost a pass."""
        if event.kind in FOLDER_KINDS or has_image_extension(event.path):
            self.debouncer.note(event)

    def _say_caught_up(self) -> None:
        info = self.store.find_namespace(self.options.namespace)
        count = info.count if info is not None else 0
        self.stream.write(
            f"caught up with {self.folder.describe()}: {count} records in namespace "
            f"{self.options.namespace!r}; watching for changes\n"
        )
        self.stream.flush()

    def _tell(self, changes: list[Change]) -> None:
        for change in changes:
            self.on_change(change)

    def _print_change(self, change: Change) -> None:
        self.stream.write(f"{change}\n")
        self.stream.flush()

    def _list_folder(self, folder: str) -> list[str]:
        """The image files under a folder that appeared (subfolders too, when recursive)."""
        found: list[str] = []
        for parent, folders, files in os.walk(folder):
            found.extend(os.path.join(parent, name) for name in files if has_image_extension(name))
            if not self.options.recursive:
                folders.clear()
        return found
