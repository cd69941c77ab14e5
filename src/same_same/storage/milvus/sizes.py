"""Whether a search is small enough to scan exactly: namespace sizes, counted at most every
few seconds (only the choice of search path rides on a stale count, never a result)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from .catalog import Entry

SIZE_TTL_S = 5.0


class NamespaceSizes:
    """``small(entries)``: the namespaces hold at most ``budget`` records in all (0: never)."""

    def __init__(self, budget: int, count: Callable[[Entry], int]) -> None:
        self.budget = budget
        self._count = count
        self._sizes: dict[str, tuple[float, int]] = {}

    def small(self, entries: Iterable[Entry]) -> bool:
        if self.budget == 0:
            return False
        total = 0
        now = time.monotonic()
        for entry in entries:
            when, size = self._sizes.get(entry.uid, (0.0, 0))
            if now - when > SIZE_TTL_S:
                size = self._count(entry)
                self._sizes[entry.uid] = (now, size)
            total += size
            if total > self.budget:
                return False
        return True


__all__ = ["NamespaceSizes", "SIZE_TTL_S"]
