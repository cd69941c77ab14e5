"""Filter results of indexed namespaces are kept while the store is unchanged, never longer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from same_same.filters import parse_filters
from same_same.records import Record
from same_same.storage.filter_cache import FilterCache, select_rowids
from same_same.storage.sqlite import SQLiteStore
from store_fixtures import CLUSTERED_SPACE as SPACE
from store_fixtures import INDEX_SETTINGS as SETTINGS
from store_fixtures import clustered, make_records


def filled_store(tmp_path: Path, count: int = 800) -> tuple[SQLiteStore, np.ndarray]:
    store = SQLiteStore(tmp_path, SETTINGS)
    store.ensure_namespace("ns", SPACE)
    ids, vectors = clustered(count)
    store.upsert("ns", make_records(ids, vectors))
    return store, vectors


def test_a_repeated_filter_reads_sqlite_once_and_a_write_makes_it_read_again(
    tmp_path: Path,
) -> None:
    store, vectors = filled_store(tmp_path)
    query = vectors[3]
    first = store.search(["ns"], query, limit=5, filters={"p": 3})
    assert len(store._filters) == 1
    (entry,) = store._filters._entries.values()
    again = store.search(["ns"], vectors[10], limit=5, filters={"p": 3})
    assert store._filters._entries[next(iter(store._filters._entries))] is entry  # reused
    assert all(m.metadata["p"] == 3 for m in first + again)

    # a new matching record, right on the query: the next search must see it
    store.upsert("ns", [Record("fresh", query.copy(), metadata={"p": 3})])
    found = store.search(["ns"], query, limit=5, filters={"p": 3})
    assert found[0].id == "fresh"
    # and a record that stops matching is gone from the results
    store.upsert("ns", [Record("fresh", query.copy(), metadata={"p": 4})])
    assert "fresh" not in {m.id for m in store.search(["ns"], query, limit=5, filters={"p": 3})}
    store.close()


def test_filters_that_differ_only_in_json_type_are_kept_apart(tmp_path: Path) -> None:
    store, vectors = filled_store(tmp_path)
    store.upsert(
        "ns",
        [
            Record("flag-true", vectors[0], metadata={"flag": True}),
            Record("flag-one", vectors[1], metadata={"flag": 1}),
        ],
    )
    as_bool = store.search(["ns"], vectors[0], limit=10, filters={"flag": True})
    as_int = store.search(["ns"], vectors[0], limit=10, filters={"flag": 1})
    assert [m.id for m in as_bool] == ["flag-true"]
    assert [m.id for m in as_int] == ["flag-one"]
    store.close()


def make_table(path: Path, rows: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE records (namespace TEXT, metadata TEXT)")
    conn.executemany(
        "INSERT INTO records VALUES (?, ?)", [("ns", f'{{"p": {i % 10}}}') for i in range(rows)]
    )
    return conn


def test_select_rowids_is_sorted_and_empty_when_nothing_matches(tmp_path: Path) -> None:
    conn = make_table(tmp_path / "t.db", 50)
    rowids = select_rowids(conn, "json_extract(metadata, '$.p') = ?", (3,))
    assert rowids.tolist() == [4, 14, 24, 34, 44] and rowids.dtype == np.int64
    assert select_rowids(conn, "json_extract(metadata, '$.p') = ?", (99,)).size == 0


def test_the_cache_is_bounded_by_entries_and_bytes(tmp_path: Path) -> None:
    conn = make_table(tmp_path / "t.db", 1000)
    where = "json_extract(metadata, '$.p') = ?"
    reads: list[int] = []

    def cached(cache: FilterCache, seq: int, p: int) -> np.ndarray:
        def read() -> np.ndarray:
            reads.append(p)
            return select_rowids(conn, where, (p,))

        return cache.rowids(seq, "ns", parse_filters({"p": p}), read)

    cache = FilterCache(max_entries=3, max_bytes=100 * 8)
    for p in range(5):
        assert len(cached(cache, 1, p)) == 100
    assert len(cache) == 1  # each array is 800 bytes: one fits
    cache = FilterCache(max_entries=3, max_bytes=10**6)
    for p in range(5):
        cached(cache, 1, p)
    assert len(cache) == 3
    reads.clear()
    held = cached(cache, 1, 4)
    assert reads == []  # kept
    assert not held.flags.writeable  # shared between searches: nobody may change it
    assert cached(cache, 2, 4) is not held  # another store state
    assert reads == [4]
