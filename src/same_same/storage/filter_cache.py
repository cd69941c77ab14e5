"""The records a metadata filter matches, kept for the store state they were read at.

A filter over an indexed namespace becomes a sorted array of rowids (the index's
keys), from the namespace's metadata index (``metadata_cache``) or, where that
cannot answer, from a scan of its metadata in SQLite (``select_rowids``). A
search page sends the same filter with every query, so the arrays are kept,
keyed by namespace and filter, and valid only while the store's change counter
(``seq``) is the one they were read at: any write elsewhere makes them stale,
and they are read again (from the metadata index, that costs a millisecond or
two at a million records; from SQL, a scan).

Bounded by count and by bytes (a filter matching 1M records holds 8 MB). Not
thread-safe by itself: the store calls it under its cache lock.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import orjson

from ..filters import Condition, FilterSet

MAX_ENTRIES = 32
MAX_BYTES = 128 * 2**20


def select_rowids(conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> np.ndarray:
    """Sorted rowids of the records matching ``where``, gathered in SQLite as one JSON array.

    One row out of SQLite instead of one per record, so a filter matching much of a
    large namespace does not pay for a Python loop over every match.
    """
    (text,) = conn.execute(
        f"SELECT json_group_array(rowid) FROM records WHERE {where}", tuple(params)
    ).fetchone()
    return np.sort(np.asarray(orjson.loads(text), dtype=np.int64))


class FilterCache:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self._entries: OrderedDict[tuple[Any, ...], tuple[int, np.ndarray]] = OrderedDict()
        self._bytes = 0
        self.max_entries = max_entries
        self.max_bytes = max_bytes

    def rowids(
        self, seq: int, namespace: str, filters: FilterSet, read: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """The rowids of ``namespace``'s records matching ``filters`` at store state ``seq``;
        ``read`` gives them when they are not kept (sorted)."""
        key = (namespace, *(_condition_key(condition) for condition in filters.conditions))
        found = self._entries.get(key)
        if found is not None and found[0] == seq:
            self._entries.move_to_end(key)
            return found[1]
        rowids = read()
        rowids.setflags(write=False)  # shared by later searches
        self._put(key, seq, rowids)
        return rowids

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _put(self, key: tuple[Any, ...], seq: int, rowids: np.ndarray) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old[1].nbytes
        if rowids.nbytes > self.max_bytes:
            return
        self._entries[key] = (seq, rowids)
        self._bytes += rowids.nbytes
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped.nbytes


def _condition_key(condition: Condition) -> tuple[Any, ...]:
    return (condition.path, condition.operator, _hashable(condition.value))


def _hashable(value: Any) -> Any:
    # JSON scalars with their type: True and 1 are equal keys in Python, not in JSON
    if isinstance(value, tuple):
        return tuple(_hashable(item) for item in value)
    return (type(value).__name__, value)
