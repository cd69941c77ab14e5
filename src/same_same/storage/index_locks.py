"""Each namespace's index file lock, for the processes that build and save indexes.

A folder that cannot take a lock file (a read-only data directory, another user's
files) means indexes stay in memory: said once per process, never an error, since an
index is a cache of records the store keeps either way.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from .index_files import IndexFiles, IndexSaveFailed

logger = logging.getLogger(__name__)


class IndexLocks:
    def __init__(self, data_dir: Path, read_only: bool) -> None:
        self.data_dir = data_dir
        self.read_only = read_only
        self._said_unsaved = False

    @contextlib.contextmanager
    def locked(self, name: str, wait: float | None) -> Iterator[bool]:
        """The namespace's file lock, as ``IndexFiles.locked``; also False when the folder
        cannot take a lock file (read-only), which is said once per process."""
        if self.read_only:
            self._say_unsaved(name, "the data directory is read-only")
            yield False
            return
        with contextlib.ExitStack() as stack:
            try:
                held = stack.enter_context(IndexFiles.of(self.data_dir, name).locked(wait))
            except OSError as exc:
                self._say_unsaved(name, IndexSaveFailed.of(exc, self.data_dir).detail)
                held = False
            yield held

    def _say_unsaved(self, name: str, why: str) -> None:
        if not self._said_unsaved:
            self._said_unsaved = True
            logger.warning(
                "%s: the index of namespace %r is kept in memory, not saved "
                "(searches work; a large namespace is indexed again by each process)",
                why,
                name,
            )


__all__ = ["IndexLocks"]
