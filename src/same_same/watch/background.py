"""Watches that run in threads of a longer-lived process (``same-same serve --watch``).

``WatchRequest`` says what to watch and with which model; ``BackgroundWatches``
opens each folder and model up front (a missing folder fails before anything is
served), then runs each ``FolderWatcher`` in a thread of its own over a store the
caller opened, and stops them all (each after its pass in progress) before the
caller closes that store. Writes go through the caller's store, so its searches see
them at once.
"""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass, field
from typing import TextIO

from ..embedders import EmbedderOptions, ImageEmbedder, create_embedder, is_image_embedder
from ..errors import InvalidInputError, SameSameError
from ..sources.images import ImageFolderSource
from ..storage import VectorStore
from .options import WatchOptions
from .sync import PassObserver
from .watcher import FolderWatcher

logger = logging.getLogger("same_same.watch")

STOP_WAIT_SECONDS = 60.0
"""How long stopping waits for a watch's pass in progress (its batch is committed whole)."""


@dataclass(frozen=True)
class WatchRequest:
    """One folder to keep in sync: ``images:DIR``, the embedder by name and its options."""

    folder: str
    embedder: str
    embedder_options: EmbedderOptions = field(default_factory=EmbedderOptions)
    options: WatchOptions = field(default_factory=WatchOptions)


@dataclass
class _Prepared:
    request: WatchRequest
    folder: ImageFolderSource
    embedder: ImageEmbedder


class BackgroundWatches:
    """The watches of a process: ``start(store)`` once, ``stop()`` once."""

    def __init__(
        self,
        requests: tuple[WatchRequest, ...],
        stream: TextIO | None = None,
        observer: PassObserver | None = None,
    ) -> None:
        from . import open_watched_folder
        from .events import require_watchdog

        if requests:
            require_watchdog("same-same serve --watch")  # before serving, not in a thread
        self.stream = stream if stream is not None else sys.stderr
        self.observer = observer
        """Told of every pass of every watch (the server's ``/metrics``)."""
        self._prepared: list[_Prepared] = []
        for request in requests:
            folder = open_watched_folder(request.folder, recursive=request.options.recursive)
            embedder = create_embedder(request.embedder, request.embedder_options)
            if not is_image_embedder(embedder):
                raise InvalidInputError(
                    f"--watch {folder.describe()} holds images; embed them with -e clip"
                )
            self._prepared.append(_Prepared(request, folder, embedder))
        self.watchers: list[FolderWatcher] = []
        self._threads: list[threading.Thread] = []

    def start(self, store: VectorStore) -> None:
        for prepared in self._prepared:
            watcher = FolderWatcher(
                store,
                prepared.embedder,
                prepared.folder,
                prepared.request.options,
                self.stream,
                observer=self.observer,
            )
            thread = threading.Thread(
                target=self._run,
                args=(watcher,),
                name=f"same-same-watch {prepared.folder.describe()}",
                daemon=True,  # a watch never keeps a stopping process alive
            )
            self.watchers.append(watcher)
            self._threads.append(thread)
            namespace = prepared.request.options.namespace
            self.stream.write(
                f"same-same: watching {prepared.folder.describe()} into namespace {namespace!r}\n"
            )
            thread.start()

    def stop(self) -> None:
        for watcher in self.watchers:
            watcher.stop()
        for thread in self._threads:
            thread.join(STOP_WAIT_SECONDS)
            if thread.is_alive():
                logger.warning("%s did not stop within %.0f s", thread.name, STOP_WAIT_SECONDS)

    def _run(self, watcher: FolderWatcher) -> None:
        shown = watcher.folder.describe()
        try:
            watcher.run()
        except SameSameError as error:
            hint = f" ({error.hint})" if error.hint else ""
            logger.error("the watch of %s stopped: %s%s", shown, error.message, hint)
        except Exception:  # noqa: BLE001 - told, and the server goes on serving
            logger.exception("the watch of %s stopped", shown)
