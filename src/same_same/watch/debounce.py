"""When a changed file may be read: after it settled, and (with inotify) once closed.

Each event puts its path in a pending set. A file is *ready* when no event came for
it for ``settle`` seconds, its size and mtime stayed the same over ``settle`` seconds
of checks, and, where the event source tells of closes (inotify), nobody has it open
for writing any more: a file still being copied is never read half-written, however
long its writer pauses. A file moved into place is complete as it arrives.

Deletions wait while some changed file is not ready yet (up to ``MAX_HOLD_SECONDS``),
so the two halves of a move usually land in one batch: the new path's record then
takes the old one's vector instead of being embedded again.

The clock and ``stat`` are parameters, so the rules are tested without waiting.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .events import EventKind, FileEvent

MAX_HOLD_SECONDS = 30.0
"""The longest a deletion waits for a changed file to settle before it goes alone."""

Signature = tuple[int, int]
"""(size, mtime in ns) of a file."""


def stat_signature(path: str) -> Signature | None:
    """(size, mtime) of the regular file at ``path``; None when there is none."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return info.st_size, info.st_mtime_ns


@dataclass(frozen=True)
class Batch:
    """What to apply at once: files to ingest, paths whose records go, and whether the
    whole folder must be gone over (a folder disappeared)."""

    changed: frozenset[str] = frozenset()
    gone: frozenset[str] = frozenset()
    full_pass: bool = False
    unsettled: frozenset[str] = frozenset()
    """Files still pending: a full pass leaves them for later."""

    def __bool__(self) -> bool:
        return bool(self.changed or self.gone or self.full_pass)


@dataclass
class Pending:
    last_event: float
    opened: int = 0
    """Opens not yet closed, as events told."""
    written: bool = False
    """Written since the last close-after-write (inotify only)."""
    signature: Signature | None = None
    stable_since: float = 0.0


@dataclass
class Debouncer:
    """Thread-safe: ``note`` runs on the event source's thread, ``take`` on the watcher's."""

    settle: float
    tells_closes: bool
    list_folder: Callable[[str], list[str]]
    """The files (paths) under a folder that appeared, recursively where the watch is."""
    clock: Callable[[], float] = time.monotonic
    read_signature: Callable[[str], Signature | None] = stat_signature

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._changed: dict[str, Pending] = {}
        self._gone: dict[str, float] = {}
        self._full_pass = False
        self._wake = threading.Event()

    def note(self, event: FileEvent) -> None:
        now = self.clock()
        if event.kind is EventKind.FOLDER_ARRIVED:
            files = self.list_folder(event.path)  # outside the lock: a walk can be slow
            with self._lock:
                for path in files:
                    self._note_change(path, now, written=False, arrived=True)
        else:
            with self._lock:
                self._note(event, now)
        self._wake.set()

    def _note(self, event: FileEvent, now: float) -> None:
        kind, path = event.kind, event.path
        if kind is EventKind.FOLDER_GONE:
            self._full_pass = True
        elif kind is EventKind.GONE:
            self._changed.pop(path, None)
            self._gone[path] = now
        elif kind is EventKind.ARRIVED:
            self._note_change(path, now, written=False, arrived=True)
        elif kind is EventKind.CHANGED:
            self._note_change(path, now, written=True, arrived=False)
        else:  # opens and closes only tell about files already pending
            pending = self._changed.get(path)
            if pending is None:
                return
            pending.last_event = now
            if kind is EventKind.OPENED:
                pending.opened += 1
            else:
                pending.opened = max(0, pending.opened - 1)
                if kind is EventKind.CLOSED:
                    pending.written = False

    def _note_change(self, path: str, now: float, written: bool, arrived: bool) -> None:
        self._gone.pop(path, None)
        pending = self._changed.get(path)
        if pending is None:
            pending = self._changed[path] = Pending(now)
        pending.last_event = now
        if arrived:
            pending.written = False
            pending.opened = 0
        elif written:
            pending.written = True

    def wait(self, timeout: float) -> None:
        """Sleep until an event comes or ``timeout`` s pass."""
        self._wake.wait(timeout)
        self._wake.clear()

    def wake(self) -> None:
        """End a ``wait`` now (the watch is stopping)."""
        self._wake.set()

    def has_pending(self) -> bool:
        with self._lock:
            return bool(self._changed or self._gone or self._full_pass)

    def take(self) -> Batch:
        """What is ready now (an empty batch when nothing is)."""
        now = self.clock()
        ready: set[str] = set()
        vanished: set[str] = set()
        with self._lock:
            for path, pending in self._changed.items():
                verdict = self._check(path, pending, now)
                if verdict == "ready":
                    ready.add(path)
                elif verdict == "vanished":
                    vanished.add(path)
            for path in ready | vanished:
                self._changed.pop(path, None)
            for path in vanished:
                self._gone.setdefault(path, now)
            unsettled = frozenset(self._changed)
            oldest = min((p.last_event for p in self._changed.values()), default=now)
            gone: set[str] = set()
            if not unsettled or now - oldest >= MAX_HOLD_SECONDS:
                gone = {p for p, at in self._gone.items() if now - at >= self.settle}
                for path in gone:
                    del self._gone[path]
            full_pass, self._full_pass = self._full_pass, False
        return Batch(frozenset(ready), frozenset(gone), full_pass, unsettled)

    def _check(self, path: str, pending: Pending, now: float) -> str:
        if self.tells_closes and (pending.written or pending.opened):
            return "waiting"
        if now - pending.last_event < self.settle:
            return "waiting"
        signature = self.read_signature(path)
        if signature is None:
            return "vanished"
        if signature != pending.signature:
            pending.signature = signature
            pending.stable_since = now
            return "ready" if self.settle == 0 else "waiting"
        return "ready" if now - pending.stable_since >= self.settle else "waiting"
