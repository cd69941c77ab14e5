"""How a watch runs: one frozen options object, checked once."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import InvalidInputError
from ..ingest import IngestOptions

DEFAULT_SETTLE_SECONDS = 1.0


@dataclass(frozen=True)
class WatchOptions:
    """What ``same-same watch`` flags (and Python callers) decide about a watch.

    ``ingest``: how each change is ingested (namespace, batch size, workers...; its
    ``prune`` and ``dry_run`` are not used: a watch always applies deletions).
    ``poll_seconds``: look for changes every so many seconds instead of being told by
    the kernel (inotify), for network shares, whose changes made on another machine
    raise no events here; None: inotify (or the platform's own events). ``settle_seconds``:
    how long a file's size and mtime must stay the same (and, with inotify, the file
    be closed by its writer) before it is read. ``recursive``: also watch subfolders.
    """

    ingest: IngestOptions = field(default_factory=IngestOptions)
    poll_seconds: float | None = None
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    recursive: bool = True

    def __post_init__(self) -> None:
        if self.poll_seconds is not None and not _is_positive(self.poll_seconds):
            raise InvalidInputError(f"--poll takes seconds above 0, not {self.poll_seconds!r}")
        if not _is_positive(self.settle_seconds, allow_zero=True):
            raise InvalidInputError(
                f"--settle takes seconds from 0 up, not {self.settle_seconds!r}"
            )

    @property
    def namespace(self) -> str:
        return self.ingest.namespace


def _is_positive(value: object, allow_zero: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return value >= 0 if allow_zero else value > 0
