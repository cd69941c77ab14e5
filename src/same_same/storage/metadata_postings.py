"""Posting lists of a batch of records' metadata: typed value -> the rowids holding it.

A ``Segment`` is built once from ``(rowid, metadata)`` pairs and never changes;
``metadata_index`` stacks segments as writes arrive and merges them. For every
addressable path (dotted keys through nested objects, never into arrays) it keeps
the values the way ``same_same.filters`` compares them, each type apart:

* numbers: values sorted with their rowids, so ``eq`` and every range are two
  ``searchsorted`` calls and a slice (float64: integers beyond 2**53 would round,
  so a path holding one is marked ``inexact`` and left to SQL);
* strings: the distinct strings sorted, each with its rowids (ranges bisect the
  strings; substring ``contains`` tests each distinct string once);
* booleans: the rowids holding true, and those holding false;
* arrays: the same three kinds for their scalar elements (``contains``);
* ``others``: rowids where the value is an array or an object, so ``exists`` is
  the union of all kinds. JSON null counts as missing and is not kept.

Rowids within one value are sorted, so an equality answers with a sorted slice.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from ..limits import MAX_FILTER_PATH_KEYS

Path = tuple[str, ...]
_EXACT_INTEGERS = 2**53
_EMPTY = np.empty(0, dtype=np.int64)
_EMPTY.setflags(write=False)


@dataclass
class ValuePostings:
    """One path's values of one role (scalar values, or array elements), by type."""

    numbers: np.ndarray
    """Sorted float64 values, and beside them (``number_rowids``) the rowid of each."""
    number_rowids: np.ndarray
    strings: list[str]
    """Distinct strings, sorted by code point (as Python and SQLite order them); the
    rowids of ``strings[k]`` are ``string_rowids[string_starts[k]:string_starts[k + 1]]``."""
    string_starts: np.ndarray
    string_rowids: np.ndarray
    true_rowids: np.ndarray
    false_rowids: np.ndarray

    def equal(self, expected: Any) -> np.ndarray:
        """Rowids whose value equals ``expected`` with the same JSON type (sorted)."""
        if isinstance(expected, bool):
            return self.true_rowids if expected else self.false_rowids
        if isinstance(expected, str):
            at = bisect.bisect_left(self.strings, expected)
            if at == len(self.strings) or self.strings[at] != expected:
                return _EMPTY
            return self.string_rowids[self.string_starts[at] : self.string_starts[at + 1]]
        low = np.searchsorted(self.numbers, expected, side="left")
        high = np.searchsorted(self.numbers, expected, side="right")
        return self.number_rowids[low:high]

    def between(self, low: Any, high: Any, low_included: bool, high_included: bool) -> np.ndarray:
        """Rowids of values of ``low``'s type within the bounds (None: unbounded); unsorted."""
        kind = low if low is not None else high
        if isinstance(kind, str):
            first = 0 if low is None else _bisect(self.strings, low, not low_included)
            last = len(self.strings) if high is None else _bisect(self.strings, high, high_included)
            if first >= last:
                return _EMPTY
            return self.string_rowids[self.string_starts[first] : self.string_starts[last]]
        start = 0 if low is None else _search(self.numbers, low, not low_included)
        stop = len(self.numbers) if high is None else _search(self.numbers, high, high_included)
        return self.number_rowids[start:stop] if start < stop else _EMPTY

    def substring(self, expected: str) -> list[np.ndarray]:
        """Rowids of the strings containing ``expected``, one sorted piece per string."""
        starts, rowids = self.string_starts, self.string_rowids
        return [
            rowids[starts[at] : starts[at + 1]]
            for at, text in enumerate(self.strings)
            if expected in text
        ]

    def every(self) -> list[np.ndarray]:
        return [self.number_rowids, self.string_rowids, self.true_rowids, self.false_rowids]

    @property
    def size(self) -> int:
        return sum(len(part) for part in self.every())


@dataclass
class PathPostings:
    scalars: ValuePostings
    elements: ValuePostings
    others: np.ndarray
    """Rowids whose value at the path is an array or an object."""
    inexact: bool
    """Some number here is an integer float64 cannot hold exactly."""

    def present(self) -> list[np.ndarray]:
        """Rowids where the path holds a value that is not null (``exists``)."""
        return [*self.scalars.every(), self.others]


@dataclass
class Segment:
    rowids: np.ndarray
    """Every record the segment was built from, sorted."""
    paths: dict[Path, PathPostings]

    @property
    def postings(self) -> int:
        return sum(
            postings.scalars.size + postings.elements.size + len(postings.others)
            for postings in self.paths.values()
        )


def parse_metadata(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # integers past 64 bits, which orjson refuses
        return json.loads(text)


def build_segment(rows: Iterable[tuple[int, Mapping[str, Any]]]) -> Segment:
    """Postings of ``(rowid, metadata)`` pairs, each rowid at most once."""
    collector = _Collector()
    rowids = []
    for rowid, metadata in rows:
        rowids.append(rowid)
        collector.walk(rowid, metadata)
    return Segment(np.sort(np.asarray(rowids, dtype=np.int64)), collector.finish())


def merge_segments(parts: list[tuple[Segment, np.ndarray]]) -> Segment:
    """One segment of the rowids each part keeps (``(segment, kept rowids)``, sorted)."""
    kept_rowids = np.sort(np.concatenate([kept for _, kept in parts]))
    paths: dict[Path, PathPostings] = {}
    for path in {path for segment, _ in parts for path in segment.paths}:
        found = [(segment.paths[path], kept) for segment, kept in parts if path in segment.paths]
        paths[path] = PathPostings(
            _merge_values([(postings.scalars, kept) for postings, kept in found]),
            _merge_values([(postings.elements, kept) for postings, kept in found]),
            _merge_rowids([(postings.others, kept) for postings, kept in found]),
            any(postings.inexact for postings, _ in found),
        )
    return Segment(kept_rowids, paths)


# -- building -----------------------------------------------------------------


class _Values:
    """Typed values of one path and role as they are collected, before sorting."""

    __slots__ = (
        "false_rowids",
        "inexact",
        "number_rowids",
        "numbers",
        "string_rowids",
        "strings",
        "true_rowids",
    )

    def __init__(self) -> None:
        self.number_rowids: list[int] = []
        self.numbers: list[float] = []
        self.string_rowids: list[int] = []
        self.strings: list[str] = []
        self.true_rowids: list[int] = []
        self.false_rowids: list[int] = []
        self.inexact = False

    def add(self, rowid: int, value: Any) -> None:
        kind = type(value)
        if kind is str:
            self.string_rowids.append(rowid)
            self.strings.append(value)
        elif kind is int or kind is float:
            if kind is int and not -_EXACT_INTEGERS <= value <= _EXACT_INTEGERS:
                self.inexact = True
            self.number_rowids.append(rowid)
            self.numbers.append(value)
        elif kind is bool:
            (self.true_rowids if value else self.false_rowids).append(rowid)

    def finish(self) -> ValuePostings:
        numbers = np.asarray(self.numbers, dtype=np.float64)
        number_rowids = np.asarray(self.number_rowids, dtype=np.int64)
        order = np.lexsort((number_rowids, numbers))
        strings = sorted(set(self.strings))
        rank = {text: at for at, text in enumerate(strings)}
        ranks = np.fromiter((rank[text] for text in self.strings), np.int64, len(self.strings))
        string_rowids = np.asarray(self.string_rowids, dtype=np.int64)
        by_string = np.lexsort((string_rowids, ranks))
        return ValuePostings(
            numbers[order],
            number_rowids[order],
            strings,
            np.searchsorted(ranks[by_string], np.arange(len(strings) + 1)).astype(np.int64),
            string_rowids[by_string],
            np.sort(np.asarray(self.true_rowids, dtype=np.int64)),
            np.sort(np.asarray(self.false_rowids, dtype=np.int64)),
        )


class _Node:
    """One path's collected values, and the paths one key deeper (objects)."""

    __slots__ = ("addressable", "children", "elements", "others", "path", "scalars")

    def __init__(self, path: Path, addressable: bool) -> None:
        self.path = path
        self.addressable = addressable
        self.scalars = _Values()
        self.elements = _Values()
        self.others: list[int] = []
        self.children: dict[str, _Node] = {}


class _Collector:
    """Walks each record's metadata once; the hot loop of building an index (a million
    records take seconds), so types are told apart with ``type() is``, not isinstance."""

    def __init__(self) -> None:
        self.root = _Node((), True)

    def walk(self, rowid: int, metadata: Mapping[str, Any], node: _Node | None = None) -> None:
        parent = self.root if node is None else node
        children = parent.children
        for key, value in metadata.items():
            child = children.get(key)
            if child is None:
                path = (*parent.path, key)
                child = children[key] = _Node(path, _addressable(key))
            if value is None or not child.addressable:
                continue
            kind = type(value)
            if kind is dict:
                child.others.append(rowid)
                if len(child.path) < MAX_FILTER_PATH_KEYS:
                    self.walk(rowid, value, child)
            elif kind is list:
                child.others.append(rowid)
                if len(value) == 1:
                    child.elements.add(rowid, value[0])
                else:
                    for element in _distinct_scalars(value):
                        child.elements.add(rowid, element)
            else:
                child.scalars.add(rowid, value)

    def finish(self) -> dict[Path, PathPostings]:
        found: dict[Path, PathPostings] = {}
        pending = list(self.root.children.values())
        while pending:
            node = pending.pop()
            pending.extend(node.children.values())
            if not node.addressable:
                continue
            found[node.path] = PathPostings(
                node.scalars.finish(),
                node.elements.finish(),
                np.sort(np.asarray(node.others, dtype=np.int64)),
                node.scalars.inexact or node.elements.inexact,
            )
        return found


def _addressable(key: str) -> bool:
    # Filters cannot name these keys (filters.parse_field_path), so nothing asks for them.
    return bool(key) and "." not in key and '"' not in key


def _distinct_scalars(items: list[Any]) -> Iterator[Any]:
    """An array's scalar elements, each (type, value) once: ``[1, 1.0, true]`` gives 1, true."""
    seen: set[tuple[str, Any]] = set()
    for item in items:
        if item is None or isinstance(item, (dict, list)):
            continue
        kind = "b" if isinstance(item, bool) else "s" if isinstance(item, str) else "n"
        if (kind, item) not in seen:
            seen.add((kind, item))
            yield item


# -- merging ------------------------------------------------------------------


def _merge_values(parts: list[tuple[ValuePostings, np.ndarray]]) -> ValuePostings:
    numbers, number_rowids = [], []
    ranks, string_rowids = [], []
    strings = sorted({text for postings, _ in parts for text in postings.strings})
    rank = {text: at for at, text in enumerate(strings)}
    for postings, kept in parts:
        keep = _members(postings.number_rowids, kept)
        numbers.append(postings.numbers[keep])
        number_rowids.append(postings.number_rowids[keep])
        # each posting's string rank in the merged list of strings
        local = np.asarray([rank[text] for text in postings.strings], dtype=np.int64)
        counts = np.diff(postings.string_starts)
        keep = _members(postings.string_rowids, kept)
        ranks.append(np.repeat(local, counts)[keep])
        string_rowids.append(postings.string_rowids[keep])
    all_numbers, all_number_rowids = np.concatenate(numbers), np.concatenate(number_rowids)
    order = np.lexsort((all_number_rowids, all_numbers))
    all_ranks, all_string_rowids = np.concatenate(ranks), np.concatenate(string_rowids)
    by_string = np.lexsort((all_string_rowids, all_ranks))
    return ValuePostings(
        all_numbers[order],
        all_number_rowids[order],
        strings,
        np.searchsorted(all_ranks[by_string], np.arange(len(strings) + 1)).astype(np.int64),
        all_string_rowids[by_string],
        _merge_rowids([(postings.true_rowids, kept) for postings, kept in parts]),
        _merge_rowids([(postings.false_rowids, kept) for postings, kept in parts]),
    )


def _merge_rowids(parts: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    pieces = [rowids[_members(rowids, kept)] for rowids, kept in parts]
    return np.sort(np.concatenate(pieces), kind="stable") if pieces else _EMPTY


def _members(rowids: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Whether each of ``rowids`` is in the sorted array ``kept``."""
    if len(kept) == 0 or len(rowids) == 0:
        return np.zeros(len(rowids), dtype=bool)
    at = np.minimum(np.searchsorted(kept, rowids), len(kept) - 1)
    return kept[at] == rowids


def _bisect(strings: list[str], value: str, after: bool) -> int:
    return (bisect.bisect_right if after else bisect.bisect_left)(strings, value)


def _search(numbers: np.ndarray, value: Any, after: bool) -> int:
    return int(np.searchsorted(numbers, value, side="right" if after else "left"))


__all__ = [
    "PathPostings",
    "Segment",
    "ValuePostings",
    "build_segment",
    "merge_segments",
    "parse_metadata",
]
