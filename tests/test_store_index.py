"""The approximate index of large namespaces: recall, exactness on request, filters, files
that persist and are extended (never rebuilt) across processes, damaged files, no usearch.

The threshold is lowered so small data goes through the index; the contract suite
(tests/test_store_contract.py) also runs whole with the index on."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from same_same.filters import parse_filters
from same_same.records import Record
from same_same.server import ServerSettings
from same_same.storage import ann_index
from same_same.storage.ann_index import IndexFiles, VectorIndex
from same_same.storage.index_files import checksum_matches
from same_same.storage.index_lease import BULK_WRITE_RECORDS
from same_same.storage.index_search import FLOAT16_MARGIN
from same_same.storage.index_settings import (
    MIN_VECTORS_ENV,
    IndexSettings,
    auto_expansion_search,
)
from same_same.storage.sqlite import SQLiteStore
from same_same.storage.sqlite_schema import SCHEMA, SCHEMA_VERSION
from server_fixtures import fetch_json, running_app_server
from store_fixtures import CLUSTERED_DIM as DIM
from store_fixtures import CLUSTERED_SPACE as SPACE
from store_fixtures import INDEX_MIN_VECTORS as MIN_VECTORS
from store_fixtures import INDEX_SETTINGS as SETTINGS
from store_fixtures import brute_force, clustered, make_records
from store_fixtures import ids_of as store_ids


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[tuple[SQLiteStore, list[str], np.ndarray]]:
    ids, vectors = clustered(3000)
    store = SQLiteStore(tmp_path, SETTINGS)
    store.ensure_namespace("ns", SPACE)
    for start in range(0, len(ids), 1000):
        store.upsert(
            "ns", make_records(ids[start : start + 1000], vectors[start : start + 1000], start)
        )
    yield store, ids, vectors
    store.close()


def queries(count: int, seed: int = 5) -> np.ndarray:
    return clustered(count, seed=seed)[1]


def test_writes_build_the_index_and_searches_never_load_the_matrix(
    filled: tuple[SQLiteStore, list[str], np.ndarray],
) -> None:
    store, _, _ = filled
    # Built by the write that crossed the threshold, extended by the next ones, before any search.
    assert store.index_stats.builds == 1
    assert store.index_stats.vectors_added == 3000
    store.search(["ns"], queries(1)[0])
    assert store.cache_stats.full_loads == 0  # no float32 matrix of the indexed namespace


def test_search_ef_grows_with_the_namespace_unless_set() -> None:
    sizes = [1_000, 10_000, 100_000, 1_000_000, 10_000_000, 10**9]
    auto = [auto_expansion_search(size) for size in sizes]
    assert auto == sorted(auto) and auto[0] == 16 and auto[-1] == 512
    assert auto[2:4] == [51, 160]
    assert IndexSettings().search_expansion(1_000_000) == 160
    fixed = IndexSettings.from_env({"SAME_SAME_INDEX_EXPANSION_SEARCH": "40"})
    assert fixed.search_expansion(1_000_000) == 40


def test_a_graph_walk_uses_the_ef_of_its_size_or_the_count_asked(tmp_path: Path) -> None:
    ids, vectors = clustered(300)
    index = VectorIndex.create(vectors.shape[1], SETTINGS)
    index.upsert(np.arange(1, 301), vectors)
    keys, _ = index.search(vectors[0], 10)
    assert index._index.expansion_search == auto_expansion_search(300) and keys[0] == 1
    keys, _ = index.search(vectors[0], 100)
    assert index._index.expansion_search == 100 and len(keys) == 100


def test_a_small_index_answers_exactly_every_time(tmp_path: Path) -> None:
    """usearch inserts on several threads, so each build of the same records is another graph,
    and walks over a few hundred vectors missed a true neighbour in some of these queries
    (different ones each build). Indexes of at most ``scan_max`` vectors are scanned."""
    rng = np.random.default_rng(21)
    ids = [f"r{i:04d}" for i in range(300)]
    vectors = rng.standard_normal((300, DIM)).astype(np.float32)
    assert len(ids) <= SETTINGS.scan_max
    with SQLiteStore(tmp_path, replace(SETTINGS, min_vectors=1)) as store:
        assert isinstance(store, SQLiteStore)
        store.ensure_namespace("ns", SPACE)
        store.upsert("ns", make_records(ids, vectors))
        for query in rng.standard_normal((200, DIM)):
            got = store.search(["ns"], query, limit=10)
            assert [m.id for m in got] == [rid for rid, _ in brute_force(ids, vectors, query, 10)]
        assert store.index_stats.builds == 1 and store.cache_stats.full_loads == 0


def test_a_small_namespace_is_searched_exactly_without_an_index(tmp_path: Path) -> None:
    ids, vectors = clustered(MIN_VECTORS - 1)
    with SQLiteStore(tmp_path, SETTINGS) as store:
        assert isinstance(store, SQLiteStore)
        store.ensure_namespace("ns", SPACE)
        store.upsert("ns", make_records(ids, vectors))
        query = queries(1)[0]
        got = store.search(["ns"], query, limit=10)
        assert [m.id for m in got] == [rid for rid, _ in brute_force(ids, vectors, query, 10)]
        assert store.index_stats.builds == 0 and store.cache_stats.full_loads == 1
    assert not list((tmp_path / "index").glob("*.usearch"))


def test_recall_against_exact_search(filled: tuple[SQLiteStore, list[str], np.ndarray]) -> None:
    store, _, _ = filled
    found = 0
    for query in queries(50):
        approximate = {m.id for m in store.search(["ns"], query, limit=10)}
        exact = {m.id for m in store.search(["ns"], query, limit=10, exact=True)}
        found += len(approximate & exact)
    assert found / 500 >= 0.95


@pytest.mark.parametrize("limit", [1, 10, 60])
def test_exact_true_equals_brute_force(
    filled: tuple[SQLiteStore, list[str], np.ndarray], limit: int
) -> None:
    store, ids, vectors = filled
    for query in queries(10, seed=11):
        expected = brute_force(ids, vectors, query, limit)
        got = store.search(["ns"], query, limit=limit, exact=True)
        assert [m.id for m in got] == [rid for rid, _ in expected]
        np.testing.assert_allclose([m.score for m in got], [s for _, s in expected], atol=1e-5)


def test_approximate_results_carry_exact_scores(
    filled: tuple[SQLiteStore, list[str], np.ndarray],
) -> None:
    store, ids, vectors = filled
    query = queries(1, seed=3)[0]
    reference = dict(brute_force(ids, vectors, query, len(ids)))
    got = store.search(["ns"], query, limit=10)
    assert len(got) == 10
    for match in got:
        assert match.score == pytest.approx(reference[match.id], abs=1e-5)
        assert match.text == f"t{match.id}" and "p" in match.metadata
    assert [m.score for m in got] == sorted((m.score for m in got), reverse=True)


def test_float16_scores_stay_well_inside_the_margin() -> None:
    """The exact path proves its answer with FLOAT16_MARGIN; the real error must be far smaller."""
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((2000, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex.create(512, IndexSettings())
    index.upsert(np.arange(2000), vectors)
    worst = 0.0
    for query in rng.standard_normal((20, 512)).astype(np.float32):
        query /= np.linalg.norm(query)
        keys, scanned = index.search(query, 2000, exact=True)
        worst = max(worst, float(np.abs(scanned - vectors[keys] @ query).max()))
        fetched = index.score(query, np.arange(2000))
        worst = max(worst, float(np.abs(fetched - vectors @ query).max()))
    assert worst < FLOAT16_MARGIN / 2


FILTERS: list[tuple[dict[str, Any], int]] = [
    ({"p": 7}, 30),  # few matches: scored exactly
    ({"p": {"lt": 50}}, 1500),  # many: the graph, oversampled and post-filtered
    ({"p": {"in": [1, 2, 3, 4, 5, 6]}}, 180),  # past exact_candidates but selective
    ({"p": {"gte": 1000}}, 0),
]


@pytest.mark.parametrize(("filters", "matching"), FILTERS)
def test_filters_apply_before_the_top_k_with_the_index(
    filled: tuple[SQLiteStore, list[str], np.ndarray], filters: dict[str, Any], matching: int
) -> None:
    store, ids, vectors = filled
    keep = [i for i in range(len(ids)) if _matches(i % 100, filters)]
    assert len(keep) == matching
    found, wanted = 0, 0
    for query in queries(10, seed=8):
        got = store.search(["ns"], query, limit=20, filters=filters)
        assert len(got) == min(20, matching)
        assert all(_matches(m.metadata["p"], filters) for m in got)
        expected = brute_force([ids[i] for i in keep], vectors[keep], query, 20) if keep else []
        found += len({m.id for m in got} & {rid for rid, _ in expected})
        wanted += len(expected)
        exact = store.search(["ns"], query, limit=20, filters=filters, exact=True)
        assert [m.id for m in exact] == [rid for rid, _ in expected]
    assert found >= 0.95 * wanted


def _matches(p: int, filters: dict[str, Any]) -> bool:
    return parse_filters(filters).matches({"p": p})


def test_exclude_ids_with_the_index(filled: tuple[SQLiteStore, list[str], np.ndarray]) -> None:
    store, ids, vectors = filled
    query = vectors[17]
    top = [m.id for m in store.search(["ns"], query, limit=10, exact=True)]
    got = store.search(["ns"], query, limit=10, exclude_ids=top[:5])
    assert len(got) == 10 and not set(top[:5]) & {m.id for m in got}
    exact = store.search(["ns"], query, limit=10, exclude_ids=top[:5], exact=True)
    assert [m.id for m in exact][:5] == top[5:]


# -- files, reopening, other processes -------------------------------------------------


def test_the_index_persists_and_reopening_rebuilds_nothing(
    filled: tuple[SQLiteStore, list[str], np.ndarray], tmp_path: Path
) -> None:
    store, _, _ = filled
    query = queries(1)[0]
    before = store.search(["ns"], query, limit=10)
    store.close()
    with SQLiteStore(tmp_path, SETTINGS) as reopened:
        assert isinstance(reopened, SQLiteStore)
        assert reopened.search(["ns"], query, limit=10) == before
        stats = reopened.index_stats
        assert (stats.loads, stats.builds, stats.vectors_added) == (1, 0, 0)


CHILD = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    from same_same.records import EmbeddingSpace, Record
    from same_same.storage.sqlite import SQLiteStore

    job = json.loads(sys.argv[1])
    store = SQLiteStore(job["dir"])
    space = EmbeddingSpace(**job["space"])
    store.upsert("ns", [
        Record(rid, np.asarray(vec, dtype=np.float32), metadata={"by": "child"})
        for rid, vec in job["upsert"].items()
    ])
    store.delete("ns", job["delete"])
    stats = store.index_stats
    print(json.dumps({"loads": stats.loads, "builds": stats.builds,
                      "added": stats.vectors_added}), flush=True)
    if job["crash"]:
        os._exit(0)  # no close: the index is not saved
    store.close()
    """
)


def run_child(
    store_dir: Path, upsert: dict[str, np.ndarray], delete: list[str], crash: bool = False
) -> dict[str, int]:
    job = {
        "dir": str(store_dir),
        "space": SPACE.to_dict(),
        "upsert": {rid: vec.tolist() for rid, vec in upsert.items()},
        "delete": delete,
        "crash": crash,
    }
    env = {**os.environ, MIN_VECTORS_ENV: str(MIN_VECTORS)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, int] = json.loads(done.stdout)
    return result


def test_another_process_extends_the_saved_index_and_a_reader_catches_up(
    filled: tuple[SQLiteStore, list[str], np.ndarray], tmp_path: Path
) -> None:
    writer, ids, vectors = filled
    writer.close()  # saves what it inserted since the build
    reader = SQLiteStore(tmp_path, SETTINGS)
    try:
        _extend_and_catch_up(reader, tmp_path, ids, vectors)
    finally:
        reader.close()


def _extend_and_catch_up(
    reader: SQLiteStore, tmp_path: Path, ids: list[str], vectors: np.ndarray
) -> None:
    query = queries(1, seed=21)[0]
    reader.search(["ns"], query)  # loaded
    new_ids, new_vectors = clustered(50, seed=4, start=10_000)
    moved = {rid: -vectors[i] for i, rid in enumerate(ids[:10])}
    deleted = ids[100:120]
    child = run_child(tmp_path, {**dict(zip(new_ids, new_vectors, strict=True)), **moved}, deleted)
    # The child loaded the saved index and inserted only its own rows, then saved on close.
    assert (child["loads"], child["builds"], child["added"]) == (1, 0, 60)
    sidecar = IndexFiles.of(tmp_path, "ns").read_sidecar()
    assert sidecar is not None and sidecar["count"] == 3000 + 50 - 20

    added_before = reader.index_stats.vectors_added
    everything = {
        **dict(zip(ids, vectors, strict=True)),
        **dict(zip(new_ids, new_vectors, strict=True)),
        **moved,
    }
    for rid in deleted:
        del everything[rid]
    all_ids, all_vectors = list(everything), np.array(list(everything.values()))
    for probe in [query, new_vectors[3], moved[ids[2]]]:
        exact = store_ids(reader.search(["ns"], probe, limit=10, exact=True))
        assert exact == [rid for rid, _ in brute_force(all_ids, all_vectors, probe, 10)]
    assert reader.search(["ns"], new_vectors[3], limit=1)[0].id == new_ids[3]
    assert reader.search(["ns"], moved[ids[2]], limit=1)[0].id == ids[2]
    hits = store_ids(reader.search(["ns"], vectors[105], limit=100))
    assert not set(deleted) & set(hits)
    # The reader applied the 60 changed rows and 20 deletions; it rebuilt nothing.
    assert reader.index_stats.vectors_added - added_before == 60
    assert reader.index_stats.vectors_removed == 20
    assert (reader.index_stats.loads, reader.index_stats.builds) == (1, 0)


def test_a_writer_that_dies_before_saving_costs_only_its_rows(
    filled: tuple[SQLiteStore, list[str], np.ndarray], tmp_path: Path
) -> None:
    store, _, _ = filled
    store.close()  # saves
    new_ids, new_vectors = clustered(40, seed=6, start=20_000)
    child = run_child(tmp_path, dict(zip(new_ids, new_vectors, strict=True)), [], crash=True)
    assert child["builds"] == 0
    with SQLiteStore(tmp_path, SETTINGS) as reader:
        assert isinstance(reader, SQLiteStore)
        assert reader.search(["ns"], new_vectors[0], limit=1)[0].id == new_ids[0]
        stats = reader.index_stats
        assert (stats.loads, stats.builds, stats.vectors_added) == (1, 0, 40)


@pytest.mark.parametrize("damage", ["flip", "truncate", "sidecar", "missing", "settings"])
def test_a_damaged_index_is_rebuilt(
    filled: tuple[SQLiteStore, list[str], np.ndarray],
    tmp_path: Path,
    damage: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, ids, vectors = filled
    store.close()
    files = IndexFiles.of(tmp_path, "ns")
    sidecar = files.read_sidecar()
    assert sidecar is not None
    path = files.folder / sidecar["file"]
    data = bytearray(path.read_bytes())
    settings = SETTINGS
    if damage == "flip":
        data[len(data) // 2 : len(data) // 2 + 64] = os.urandom(64)
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 3]))
    elif damage == "sidecar":
        files.sidecar.write_text("{not json")
    elif damage == "missing":
        path.unlink()
    else:
        settings = replace(SETTINGS, connectivity=24)  # built with other settings
    query = queries(1, seed=2)[0]
    with caplog.at_level(logging.WARNING), SQLiteStore(tmp_path, settings) as reopened:
        assert isinstance(reopened, SQLiteStore)
        got = reopened.search(["ns"], query, limit=10, exact=True)
        assert store_ids(got) == [rid for rid, _ in brute_force(ids, vectors, query, 10)]
        assert (reopened.index_stats.builds, reopened.index_stats.loads) == (1, 0)
    if damage in ("flip", "truncate", "missing"):
        assert "damaged" in caplog.text
    repaired = files.read_sidecar()
    assert (
        repaired is not None
        and repaired["file"] != ""
        and (files.folder / repaired["file"]).is_file()
    )
    assert len(list(files.folder.glob(f"{files.key}-*"))) == 1  # the old file is gone


def test_a_save_that_crashed_halfway_is_ignored_and_cleaned(
    filled: tuple[SQLiteStore, list[str], np.ndarray], tmp_path: Path
) -> None:
    store, _, _ = filled
    store.close()
    files = IndexFiles.of(tmp_path, "ns")
    leftover = files.folder / f"{files.key}-1-999.usearch.4242.tmp"
    leftover.write_bytes(b"half an index")
    with SQLiteStore(tmp_path, SETTINGS) as reopened:
        assert isinstance(reopened, SQLiteStore)
        reopened.search(["ns"], queries(1)[0])
        assert reopened.index_stats.builds == 0
        new_ids, new_vectors = clustered(5, seed=9, start=30_000)
        reopened.upsert("ns", make_records(new_ids, new_vectors))
    assert not leftover.exists()  # the next save removed it


def test_deleting_a_namespace_removes_its_index(
    filled: tuple[SQLiteStore, list[str], np.ndarray], tmp_path: Path
) -> None:
    store, ids, vectors = filled
    store.search(["ns"], vectors[0])
    store.delete_namespace("ns")
    assert not list((tmp_path / "index").glob("*.usearch"))
    store.ensure_namespace("ns", SPACE)
    small_ids, small_vectors = clustered(600, seed=12)
    store.upsert("ns", make_records(small_ids, small_vectors))
    got = store.search(["ns"], small_vectors[0], limit=600)
    assert set(store_ids(got)) == set(small_ids)


def test_without_usearch_searches_are_exact_and_warn_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(ann_index, "_usearch_checked", False)
    monkeypatch.setattr(ann_index, "_usearch_available", False)
    monkeypatch.setitem(sys.modules, "usearch", None)  # makes `import usearch...` fail
    monkeypatch.setitem(sys.modules, "usearch.index", None)
    ids, vectors = clustered(800)
    with caplog.at_level(logging.WARNING), SQLiteStore(tmp_path, SETTINGS) as store:
        assert isinstance(store, SQLiteStore)
        store.ensure_namespace("ns", SPACE)
        store.upsert("ns", make_records(ids, vectors))
        for query in queries(3):
            got = store.search(["ns"], query, limit=5)
            assert store_ids(got) == [rid for rid, _ in brute_force(ids, vectors, query, 5)]
        assert store.index_stats.builds == 0
    assert caplog.text.count("usearch is not installed") == 1


# -- schema -----------------------------------------------------------------------------


def test_a_version_1_file_is_upgraded_and_its_old_log_forces_a_rebuild(
    filled: tuple[SQLiteStore, list[str], np.ndarray], tmp_path: Path
) -> None:
    store, ids, vectors = filled
    store.close()  # index saved at the current seq
    # What a version-1 process does on delete: a log row without the rowid.
    conn = sqlite3.connect(tmp_path / "same-same.db")
    with conn:
        seq = conn.execute(
            "UPDATE store_state SET value = value + 1 WHERE key = 'seq' RETURNING value"
        ).fetchone()[0]
        conn.execute("DELETE FROM records WHERE id = ?", (ids[0],))
        conn.execute(
            "INSERT INTO deletions (seq, namespace, id) VALUES (?, 'ns', ?)", (seq, ids[0])
        )
        conn.execute("UPDATE namespaces SET changed_seq = ? WHERE name = 'ns'", (seq,))
    conn.close()
    with SQLiteStore(tmp_path, SETTINGS) as reopened:
        assert isinstance(reopened, SQLiteStore)
        got = reopened.search(["ns"], vectors[0], limit=3)
        assert ids[0] not in store_ids(got)
        assert reopened.index_stats.builds == 1


def test_schema_version_1_gains_the_rowid_column(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "same-same.db")
    version_1 = (
        SCHEMA.replace(",\n    record_rowid INTEGER", "")
        .replace("CREATE INDEX records_by_metadata ON records (namespace, metadata);", "")
        .replace("    from_image_ingest INTEGER NOT NULL DEFAULT 0,\n", "")
        .replace(",\n    writers TEXT NOT NULL DEFAULT '[]'", "")
    )
    assert "from_image_ingest" not in version_1 and "writers" not in version_1
    conn.executescript(version_1 + "PRAGMA user_version = 1;")
    conn.close()
    with SQLiteStore(tmp_path, SETTINGS) as store:
        assert isinstance(store, SQLiteStore)
        store.ensure_namespace("ns", SPACE)
        store.upsert("ns", [Record("a", np.ones(DIM))])
        assert store.delete("ns", ["a"]) == 1
    conn = sqlite3.connect(tmp_path / "same-same.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT id, record_rowid FROM deletions").fetchall() == [("a", 1)]
    indexes = {row[1] for row in conn.execute("PRAGMA index_list(records)")}
    assert "records_by_metadata" in indexes
    conn.close()


# -- over HTTP ----------------------------------------------------------------------------


def test_the_api_passes_exact_to_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MIN_VECTORS_ENV, str(MIN_VECTORS))
    ids, vectors = clustered(800)
    with SQLiteStore(tmp_path) as store:
        store.ensure_namespace("ns", SPACE)
        store.upsert("ns", make_records(ids, vectors))
    query = queries(1, seed=30)[0]
    expected = [rid for rid, _ in brute_force(ids, vectors, query, 10)]
    url_body = {"embedding": query.tolist(), "limit": 10, "namespace": "ns"}
    with running_app_server(ServerSettings(data_dir=tmp_path)) as base_url:
        status, exact = fetch_json(
            "POST", base_url + "/api/v1/vectors/search", {**url_body, "exact": True}
        )
        assert status == 200 and [hit["id"] for hit in exact["results"]] == expected
        status, approximate = fetch_json(
            "POST", base_url + "/api/v1/vectors/search", {**url_body, "exact": False}
        )
        assert status == 200 and len(approximate["results"]) == 10
        status, error = fetch_json(
            "POST", base_url + "/api/v1/vectors/search", {**url_body, "exact": "yes"}
        )
        assert 400 <= status < 500 and "exact" in json.dumps(error)
        status, error = fetch_json(
            "POST", base_url + "/api/v1/search", {"text": "x", "namespace": "ns", "exact": True}
        )
        # The text route accepts the field; this raw-vector namespace has no text model.
        assert status == 400 and "exact" not in error["error"]["message"]


def test_a_large_file_is_checked_in_the_background_and_rebuilt_when_damaged(
    filled: tuple[SQLiteStore, list[str], np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, ids, vectors = filled
    store.close()
    monkeypatch.setattr(ann_index, "_VERIFY_IN_BACKGROUND_BYTES", 0)  # every file is "large"
    files = IndexFiles.of(tmp_path, "ns")
    sidecar = files.read_sidecar()
    assert sidecar is not None
    path = files.folder / sidecar["file"]
    data = bytearray(path.read_bytes())
    data[-8:] = bytes(b ^ 0xFF for b in data[-8:])  # the tail: it still maps and searches
    path.write_bytes(bytes(data))
    query = queries(1, seed=4)[0]
    with caplog.at_level(logging.WARNING), SQLiteStore(tmp_path, SETTINGS) as reopened:
        assert isinstance(reopened, SQLiteStore)
        reopened.search(["ns"], query)  # answered from the mapped file while it is checked
        assert reopened.index_stats.loads == 1
        deadline = time.monotonic() + 30
        while "does not match its checksum" not in caplog.text:
            assert time.monotonic() < deadline, "the background check never finished"
            time.sleep(0.05)
        got = reopened.search(["ns"], query, limit=10, exact=True)
        assert store_ids(got) == [rid for rid, _ in brute_force(ids, vectors, query, 10)]
        assert reopened.index_stats.builds == 1
    # The rebuild was saved: the sidecar was rewritten and names a file that is intact
    # (the damaged one failed its checksum; a file of the same name may replace it).
    repaired = files.read_sidecar()
    assert repaired is not None and repaired["saved_at"] > sidecar["saved_at"]
    assert checksum_matches(files.folder / repaired["file"], repaired)


def test_one_writer_maintains_the_index_while_several_write(tmp_path: Path) -> None:
    """Stores open on one directory stand for processes (an flock taken through another
    open file conflicts within one process as across processes)."""
    ids, vectors = clustered(3 * MIN_VECTORS + BULK_WRITE_RECORDS + 1)
    batches = [
        make_records(ids[i : i + MIN_VECTORS], vectors[i : i + MIN_VECTORS])
        for i in range(0, 3 * MIN_VECTORS, MIN_VECTORS)
    ]
    late = make_records(ids[3 * MIN_VECTORS : -1], vectors[3 * MIN_VECTORS : -1])
    single = make_records(ids[-1:], vectors[-1:])
    first, second = SQLiteStore(tmp_path, SETTINGS), SQLiteStore(tmp_path, SETTINGS)
    server = SQLiteStore(tmp_path, SETTINGS)
    try:
        first.ensure_namespace("ns", SPACE)
        first.upsert("ns", batches[0])  # a bulk write: takes the lease, builds the index
        assert first.index_stats.builds == 1
        second.upsert("ns", batches[1])  # only commits
        assert (second.index_stats.builds, second.index_stats.vectors_added) == (0, 0)
        server.upsert("ns", single)  # one record through the API: only commits too
        assert (server.index_stats.builds, server.index_stats.vectors_added) == (0, 0)
        first.upsert("ns", batches[2])  # its catch-up inserts the others' rows too
        assert first.index_stats.vectors_added == 3 * MIN_VECTORS + 1
    finally:
        first.close()  # saves the index, then gives the lease up
    try:
        server.upsert("ns", single)  # a small write, the lease free: its own index, no lease
        assert (server.index_stats.loads, server.index_stats.vectors_added) == (1, 1)
        second.upsert("ns", late)  # a bulk write takes the lease over from the saved file
        stats = second.index_stats
        assert (stats.builds, stats.loads, stats.vectors_added) == (0, 1, len(late) + 1)
        query = queries(1)[0]
        expected = [rid for rid, _ in brute_force(ids, vectors, query, 10)]
        assert store_ids(second.search(["ns"], query, limit=10, exact=True)) == expected
    finally:
        second.close()
        server.close()
