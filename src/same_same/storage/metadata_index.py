"""One namespace's metadata held in memory as posting lists, answering filters with rowids.

Segments (``metadata_postings``) arrive one per catch-up from SQLite, oldest
first; ``owner`` says, for each rowid of the namespace, which segment holds its
current metadata (-1: none, the record was deleted). A record written again
moves to the newer segment, and the older one's postings of it go stale: they
are dropped when read (``owner`` must name the segment) and for good when
segments merge. Segments merge like a binary counter (a segment at least half
the size of the one before it joins it), so there are a few dozen at most and
each record is merged a logarithmic number of times.

``rows`` turns a FilterSet into the sorted rowids it matches, with the meaning of
``same_same.filters`` (the tests compare it with ``sql_filters`` on generated
records): AND intersects, ``in`` unites, ``neq`` and ``exists: false`` are the
complement within the live records, ranges are slices of sorted values. It
answers None when it cannot be exact (an integer past 2**53 on a path the filter
reads, or a filter value past it), and the caller asks SQL. ``near`` joins the
numbers at ``lat`` and ``lon`` by rowid, keeps those in the circle's bounding box and
tests each of them with ``places`` (the SQL function's own code).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..filters import NEAR, Condition, FilterSet
from ..places import Circle
from .metadata_postings import PathPostings, Segment, ValuePostings, merge_segments

_EXACT_INTEGERS = 2**53
_SORT_SHARE = 16
"""A match set below 1/this of the namespace's rowid span is sorted; above, marked in a
mask (scattering and scanning a mask is linear, sorting half a million is not)."""
_ORDERED = ("eq", "in", "contains", "exists")
"""Operators whose pieces are each the sorted rowids of one value (ranges span many)."""


class MetadataIndex:
    def __init__(self, created_seq: int) -> None:
        self.created_seq = created_seq
        self.loaded_seq = 0
        self.segments: list[Segment] = []
        self._stale: list[int] = []
        self._base = 0
        self._owner = np.full(0, -1, dtype=np.int32)

    # -- changes ------------------------------------------------------------

    def delete(self, rowids: np.ndarray) -> None:
        """The records with these rowids are gone (rowids never held are ignored)."""
        rowids = rowids[(rowids >= self._base) & (rowids < self._base + len(self._owner))]
        self._release(rowids)
        self._owner[rowids - self._base] = -1

    def add(self, segment: Segment) -> None:
        """The current metadata of ``segment.rowids``, replacing what they held."""
        if len(segment.rowids) == 0:
            return
        self._cover(int(segment.rowids[0]), int(segment.rowids[-1]))
        self._release(segment.rowids)
        self.segments.append(segment)
        self._stale.append(0)
        self._owner[segment.rowids - self._base] = len(self.segments) - 1
        self._merge_tail()

    @property
    def live_count(self) -> int:
        return int(np.count_nonzero(self._owner >= 0))

    @property
    def postings(self) -> int:
        """Postings held (each about 8 bytes, numbers 16), stale ones included."""
        return sum(segment.postings for segment in self.segments)

    # -- filters ------------------------------------------------------------

    def rows(self, filters: FilterSet) -> np.ndarray | None:
        """Sorted rowids of the live records matching every condition; None: ask SQL."""
        if not self._exact_for(filters):
            return None
        results = [self._condition(condition) for condition in filters.conditions]
        sorted_sets = sorted((result for result in results if result.dtype != bool), key=len)
        masks = [result for result in results if result.dtype == bool]
        if sorted_sets:
            found = sorted_sets[0]
            for other in sorted_sets[1:]:
                if len(other) * _SORT_SHARE < len(self._owner):
                    found = np.intersect1d(found, other, assume_unique=True)
                else:
                    found = found[self._mask([other])[found - self._base]]
            for mask in masks:
                found = found[mask[found - self._base]]
            return found
        combined = masks[0]
        for mask in masks[1:]:
            combined = combined & mask
        return np.flatnonzero(combined).astype(np.int64) + self._base

    def _exact_for(self, filters: FilterSet) -> bool:
        for condition in filters.conditions:
            values = condition.value if isinstance(condition.value, tuple) else (condition.value,)
            if any(_inexact_number(value) for value in values):
                return False
            paths = [("lat",), ("lon",)] if condition.operator == NEAR else [condition.path]
            for path in paths:
                if any(postings.inexact for _, postings in self._postings(path)):
                    return False
        return True

    def _condition(self, condition: Condition) -> np.ndarray:
        """Sorted rowids, or a bool mask over the rowid span, of the condition's matches."""
        op, expected = condition.operator, condition.value
        if op == NEAR:
            return self._near(expected)
        if op in ("neq", "exists") and not (op == "exists" and expected):
            inner = "eq" if op == "neq" else "exists"
            matched = self._matching(condition.path, inner, True if op == "exists" else expected)
            return (self._owner >= 0) & ~self._mask(matched)
        return self._collect(self._matching(condition.path, op, expected), op in _ORDERED)

    def _near(self, circle: Circle) -> np.ndarray:
        lat_rowids, lats = self._numbers_at(("lat",))
        lon_rowids, lons = self._numbers_at(("lon",))
        rowids, at_lat, at_lon = np.intersect1d(
            lat_rowids, lon_rowids, assume_unique=True, return_indices=True
        )
        lats, lons = lats[at_lat], lons[at_lon]
        (lat_low, lat_high), lon_box = circle.bounding_box()
        inside = (lats >= lat_low) & (lats <= lat_high)
        if lon_box is not None:
            inside &= (lons >= lon_box[0]) & (lons <= lon_box[1])
        found = [
            rowid
            for rowid, lat, lon in zip(
                rowids[inside].tolist(), lats[inside].tolist(), lons[inside].tolist(), strict=True
            )
            if circle.contains(lat, lon)
        ]
        return np.asarray(found, dtype=np.int64)  # intersect1d sorted them

    def _numbers_at(self, path: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """``(rowids, values)`` of the live records holding a number at ``path``."""
        rowids: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for at, postings in self._postings(path):
            numbers, owners = postings.scalars.numbers, postings.scalars.number_rowids
            if self._stale[at]:
                live = self._owner[owners - self._base] == at
                numbers, owners = numbers[live], owners[live]
            rowids.append(owners)
            values.append(numbers)
        if not rowids:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        return np.concatenate(rowids), np.concatenate(values)

    def _matching(self, path: tuple[str, ...], op: str, expected: Any) -> list[np.ndarray]:
        """The valid rowids of each segment matching ``op``, as pieces (some sorted)."""
        pieces: list[np.ndarray] = []
        for at, postings in self._postings(path):
            found = _segment_matches(postings, op, expected)
            if self._stale[at]:
                found = [piece[self._owner[piece - self._base] == at] for piece in found]
            pieces.extend(piece for piece in found if len(piece))
        return pieces

    def _postings(self, path: tuple[str, ...]) -> Iterable[tuple[int, PathPostings]]:
        for at, segment in enumerate(self.segments):
            postings = segment.paths.get(path)
            if postings is not None:
                yield at, postings

    def _collect(self, pieces: list[np.ndarray], ordered: bool) -> np.ndarray:
        """``ordered``: each piece is sorted (the rowids of one value)."""
        if not pieces:
            return np.empty(0, dtype=np.int64)
        if ordered:
            if _ascending(pieces):  # one value, or segments written one after another
                return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
            # sorted runs, pairwise disjoint: a stable (merging) sort is about linear
            return np.sort(np.concatenate(pieces), kind="stable")
        total = sum(len(piece) for piece in pieces)
        if total * _SORT_SHARE < len(self._owner):
            # pieces are disjoint (a record lives in one segment, a value once in it)
            return np.sort(np.concatenate(pieces), kind="stable")
        return self._mask(pieces)

    def _mask(self, pieces: list[np.ndarray]) -> np.ndarray:
        mask = np.zeros(len(self._owner), dtype=bool)
        for piece in pieces:
            mask[piece - self._base] = True
        return mask

    # -- internals ----------------------------------------------------------

    def _release(self, rowids: np.ndarray) -> None:
        """Count the postings of ``rowids`` that their old segments now hold in vain."""
        owners = self._owner[rowids - self._base]
        owners = owners[owners >= 0]
        if len(owners):
            for at, count in zip(*np.unique(owners, return_counts=True), strict=True):
                self._stale[int(at)] += int(count)

    def _cover(self, low: int, high: int) -> None:
        """Grow ``owner`` to hold rowids ``low..high`` (with room to grow upwards)."""
        end = self._base + len(self._owner)
        if len(self._owner) and low >= self._base and high < end:
            return
        base = low if not len(self._owner) else min(low, self._base)
        wanted = max(high + 1, end) - base
        owner = np.full(wanted + wanted // 4 + 1024, -1, dtype=np.int32)
        if len(self._owner):
            owner[self._base - base : self._base - base + len(self._owner)] = self._owner
        self._base, self._owner = base, owner

    def _live_in(self, at: int) -> int:
        return len(self.segments[at].rowids) - self._stale[at]

    def _merge_tail(self) -> None:
        first = len(self.segments) - 1
        while first > 0 and self._live_in(first - 1) <= sum(
            self._live_in(at) for at in range(first, len(self.segments))
        ):
            first -= 1
        if first == len(self.segments) - 1 and not self._mostly_stale(first):
            return
        parts = []
        for at in range(first, len(self.segments)):
            segment = self.segments[at]
            parts.append((segment, segment.rowids[self._owner[segment.rowids - self._base] == at]))
        merged = merge_segments(parts)
        del self.segments[first:], self._stale[first:]
        self.segments.append(merged)
        self._stale.append(0)
        tail = self._owner >= first
        self._owner[tail] = first

    def _mostly_stale(self, at: int) -> bool:
        return self._stale[at] * 2 > len(self.segments[at].rowids)


def _segment_matches(postings: PathPostings, op: str, expected: Any) -> list[np.ndarray]:
    scalars, elements = postings.scalars, postings.elements
    if op == "exists":
        return postings.present()
    if op == "eq":
        return [scalars.equal(expected)]
    if op == "in":
        return _equal_any(scalars, expected)
    if op == "contains":
        found = [elements.equal(expected)]
        if isinstance(expected, str):
            found.extend(scalars.substring(expected))
        return found
    if op == "between":
        low, high = expected
        return [scalars.between(low, high, True, True)]
    if op in ("lt", "lte"):
        return [scalars.between(None, expected, True, op == "lte")]
    return [scalars.between(expected, None, op == "gte", True)]  # gt, gte


def _equal_any(postings: ValuePostings, expected: tuple[Any, ...]) -> list[np.ndarray]:
    seen: set[tuple[str, Any]] = set()
    pieces = []
    for value in expected:
        kind = "b" if isinstance(value, bool) else "s" if isinstance(value, str) else "n"
        if (kind, value) not in seen:  # 1 and 1.0 are one value, and True another
            seen.add((kind, value))
            pieces.append(postings.equal(value))
    return pieces


def _ascending(pieces: list[np.ndarray]) -> bool:
    """Whether sorted pieces follow each other: their concatenation is sorted."""
    return all(before[-1] < after[0] for before, after in zip(pieces, pieces[1:], strict=False))


def _inexact_number(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not -_EXACT_INTEGERS <= value <= _EXACT_INTEGERS
    )


__all__ = ["MetadataIndex"]
