"""The in-memory metadata index answers every filter exactly as the SQL translation does.

A generated corpus covers every JSON type at the same paths (numbers that equal
booleans in SQLite, strings that look like numbers, nulls, arrays of mixed
elements, nested objects, missing keys); generated filters cover every operator
with every kind of value. The index is built in several segments, with records
written again and deleted between them, and must give the rowids
``sql_filters`` selects in a real SQLite table, which ``FilterSet.matches`` also
gives (the reference meaning).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from same_same.filters import FilterSet, parse_filters
from same_same.storage.filter_cache import select_rowids
from same_same.storage.metadata_index import MetadataIndex
from same_same.storage.metadata_postings import build_segment
from same_same.storage.sql_filters import build_filter_sql

SCALARS: list[Any] = [0, 1, 2, 7, -3, 1.0, 2.5, 1e20, True, False, "", "a", "b", "ab", "1", "7"]
LABELS = ["x", "y", "xy", 1, 2, True, "1"]


def make_metadata(rng: np.random.Generator) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for key in ("c", "p", "s"):
        roll = rng.random()
        if roll < 0.7:
            metadata[key] = SCALARS[rng.integers(len(SCALARS))]
        elif roll < 0.8:
            metadata[key] = None
        elif roll < 0.9:
            metadata[key] = [LABELS[i] for i in rng.integers(0, len(LABELS), rng.integers(0, 3))]
    if rng.random() < 0.8:
        labels: list[Any] = [LABELS[i] for i in rng.integers(0, len(LABELS), rng.integers(0, 4))]
        if rng.random() < 0.1:
            labels.append(["x"])  # a nested array is no element a filter can match
        metadata["labels"] = labels if rng.random() < 0.9 else "x y"
    if rng.random() < 0.6:
        inner: dict[str, Any] = {"camera": SCALARS[rng.integers(len(SCALARS))]}
        if rng.random() < 0.3:
            inner["deep"] = {"k": SCALARS[rng.integers(len(SCALARS))]}
        metadata["exif"] = inner if rng.random() < 0.9 else "exif"
    return metadata


def make_filters() -> list[dict[str, Any]]:
    fields = ["c", "p", "s", "labels", "exif", "exif.camera", "exif.deep.k", "missing"]
    filters: list[dict[str, Any]] = []
    for field in fields:
        for value in SCALARS:
            filters.append({field: value})
            filters.append({field: {"neq": value}})
            filters.append({field: {"contains": value}})
            if not isinstance(value, bool):
                for op in ("lt", "lte", "gt", "gte"):
                    filters.append({field: {op: value}})
        filters.append({field: {"between": [0, 2]}})
        filters.append({field: {"between": ["a", "b"]}})
        filters.append({field: {"between": [1, 1]}})
        filters.append({field: {"in": [1, "a", True]}})
        filters.append({field: {"in": [1, 1.0, 2, 7, -3]}})
        filters.append({field: {"in": []}})
        filters.append({field: {"in": ["x", "xy", "7"]}})
        filters.append({field: {"exists": True}})
        filters.append({field: {"exists": False}})
        filters.append({field: {"contains": "x"}})
    filters.append({"c": {"gte": 0}, "p": {"lt": 3}, "labels": {"contains": "x"}})
    filters.append({"c": {"neq": 1}, "s": {"exists": False}})
    filters.append({"c": {"in": [0, 1, 2, 7]}, "exif.camera": {"neq": "a"}})
    filters.append({"c": 1, "p": 1})
    return filters


class Corpus:
    """Rows in a real SQLite table and in a MetadataIndex, changed the same way."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.execute("CREATE TABLE records (namespace TEXT, metadata TEXT)")
        self.index = MetadataIndex(created_seq=1)
        self.metadata: dict[int, dict[str, Any]] = {}

    def write(self, rows: dict[int, dict[str, Any]]) -> None:
        for rowid, metadata in rows.items():
            self.conn.execute(
                "INSERT OR REPLACE INTO records (rowid, namespace, metadata) VALUES (?, 'ns', ?)",
                (rowid, json.dumps(metadata)),
            )
        self.metadata.update(rows)
        self.index.add(build_segment(sorted(rows.items())))

    def delete(self, rowids: list[int]) -> None:
        self.conn.executemany("DELETE FROM records WHERE rowid = ?", [(r,) for r in rowids])
        for rowid in rowids:
            self.metadata.pop(rowid, None)
        self.index.delete(np.asarray(rowids, dtype=np.int64))

    def check(self, raw: dict[str, Any]) -> None:
        filters = parse_filters(raw)
        where, params = build_filter_sql(filters)
        expected = select_rowids(self.conn, f"namespace = 'ns' AND {where}", ("ns", *params)[1:])
        reference = sorted(r for r, metadata in self.metadata.items() if filters.matches(metadata))
        assert expected.tolist() == reference, raw  # the SQL agrees with filters.py
        found = self.index.rows(filters)
        assert found is not None, raw
        assert found.dtype == np.int64
        assert found.tolist() == reference, raw


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    rng = np.random.default_rng(13)
    corpus = Corpus(tmp_path / "t.db")
    next_rowid = 1
    for batch in range(12):
        size = int(rng.integers(1, 120))
        corpus.write({next_rowid + i: make_metadata(rng) for i in range(size)})
        next_rowid += size
        known = sorted(corpus.metadata)
        if batch % 3 == 1:  # some records written again, with other metadata
            again = rng.choice(known, size=min(15, len(known)), replace=False)
            corpus.write({int(r): make_metadata(rng) for r in again})
        if batch % 4 == 2:
            corpus.delete([int(r) for r in rng.choice(known, size=10, replace=False)])
    # the highest rowids deleted and used again, as SQLite does after deleting the last row
    top = max(corpus.metadata)
    corpus.delete([top, top - 1])
    corpus.write({top - 1: {"c": 1, "labels": ["x"]}})
    return corpus


def test_every_operator_and_type_matches_the_sql_translation(corpus: Corpus) -> None:
    assert len(corpus.index.segments) > 1  # the merges left several segments to combine
    for raw in make_filters():
        corpus.check(raw)


def test_merged_into_one_segment_it_still_matches(corpus: Corpus, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    # one big write makes the tail merge everything into one segment
    start = max(corpus.metadata) + 1
    corpus.write({start + i: make_metadata(rng) for i in range(2000)})
    assert len(corpus.index.segments) == 1
    for raw in make_filters()[::7]:
        corpus.check(raw)


def test_integers_float64_cannot_hold_are_left_to_sql(tmp_path: Path) -> None:
    index = MetadataIndex(created_seq=1)
    index.add(build_segment([(1, {"big": 2**60 + 1, "c": 1}), (2, {"big": 2**60, "c": 2})]))
    assert index.rows(parse_filters({"big": 2**60})) is None
    assert index.rows(parse_filters({"c": 2**60})) is None  # the filter's value
    found = index.rows(parse_filters({"c": {"lt": 2}}))
    assert found is not None and found.tolist() == [1]


def test_an_empty_index_matches_nothing_and_negations_nothing_either() -> None:
    index = MetadataIndex(created_seq=1)
    for raw in ({"c": 1}, {"c": {"neq": 1}}, {"c": {"exists": False}}):
        found = index.rows(parse_filters(raw))
        assert found is not None and found.tolist() == []


def test_a_filter_on_a_path_no_record_has() -> None:
    index = MetadataIndex(created_seq=1)
    index.add(build_segment([(5, {"c": 1}), (9, {"c": 2})]))
    filters: FilterSet = parse_filters({"nowhere": {"exists": False}})
    found = index.rows(filters)
    assert found is not None and found.tolist() == [5, 9]
    found = index.rows(parse_filters({"nowhere": 1}))
    assert found is not None and found.tolist() == []
