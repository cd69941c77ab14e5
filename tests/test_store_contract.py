"""The contract every store backend keeps. Each test runs once per registered store kind,
on a real store in a temp directory; a new backend passes this file before it ships."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from milvus_fixtures import drop_scope, milvus_spec
from same_same.errors import (
    InvalidInputError,
    NamespaceNotFoundError,
    RecordNotFoundError,
    SpaceMismatchError,
)
from same_same.filters import parse_filters
from same_same.records import EmbeddingSpace, Record
from same_same.storage import VectorStore, list_stores, open_store
from same_same.storage.index_settings import MIN_VECTORS_ENV
from store_fixtures import DIM, OTHER_MODEL, SPACE, ids_of, random_records
from store_fixtures import brute_force as rank_exactly


@pytest.fixture(params=list_stores())
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["exact", "index"], autouse=True)
def index_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with the approximate index off, and on for every namespace that has a
    record (threshold 1), so searches through the index keep the whole contract too.
    Child processes inherit the setting through the environment."""
    monkeypatch.setenv(MIN_VECTORS_ENV, "off" if request.param == "exact" else "1")
    return str(request.param)


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store_spec(
    store_kind: str, store_dir: Path, index_mode: str, request: pytest.FixtureRequest
) -> Iterator[str]:
    """What ``open_store`` is given: the kind, or for Milvus a URL on the test server with
    a scope of this test's own. In index mode the Milvus store searches through Milvus's
    index even for a handful of records (``scan_max=0``), as the embedded store does."""
    if store_kind != "milvus":
        yield store_kind
        return
    address = request.getfixturevalue("milvus_address")
    options = {"scan_max": 0} if index_mode == "index" else {}
    spec = milvus_spec(address, store_dir, **options)
    yield spec
    drop_scope(spec)


@pytest.fixture
def store(store_spec: str, store_dir: Path) -> Iterator[VectorStore]:
    opened = open_store(store_dir, store_spec)
    yield opened
    opened.close()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def brute_force(
    records: list[tuple[str, Record]], query: np.ndarray, limit: int
) -> list[tuple[str, str, float]]:
    """The reference ranking: ``(namespace, id, score)``, ties by id then namespace."""
    keys = [(record.id, namespace) for namespace, record in records]
    vectors = [record.vector for _, record in records]
    ranked = rank_exactly(keys, vectors, query, limit)
    return [(namespace, rid, score) for (rid, namespace), score in ranked]


# -- namespaces -----------------------------------------------------------------


def test_ensure_namespace_creates_once_and_returns_the_same(store: VectorStore) -> None:
    created = store.ensure_namespace("photos", SPACE)
    assert (created.name, created.space, created.count) == ("photos", SPACE, 0)
    again = store.ensure_namespace("photos", SPACE)
    assert again == created
    assert store.get_namespace("photos") == created


def test_list_namespaces_is_sorted_with_counts(
    store: VectorStore, rng: np.random.Generator
) -> None:
    for name in ("zeta", "alpha", "mid"):
        store.ensure_namespace(name, SPACE)
    store.upsert("mid", random_records(rng, 3))
    listed = store.list_namespaces()
    assert [info.name for info in listed] == ["alpha", "mid", "zeta"]
    assert [info.count for info in listed] == [0, 3, 0]
    assert all(info.space == SPACE for info in listed)


@pytest.mark.parametrize(
    "other",
    [
        OTHER_MODEL,
        EmbeddingSpace("test", "random-8", "", 16),
        EmbeddingSpace("test", "random-8", "laion", DIM),
        EmbeddingSpace("other-embedder", "random-8", "", DIM),
    ],
)
def test_a_namespace_refuses_another_space(store: VectorStore, other: EmbeddingSpace) -> None:
    store.ensure_namespace("photos", SPACE)
    with pytest.raises(SpaceMismatchError) as caught:
        store.ensure_namespace("photos", other)
    assert SPACE.describe() in str(caught.value)
    assert other.describe() in str(caught.value)
    assert store.get_namespace("photos").space == SPACE


def test_a_namespace_records_its_writers_and_keeps_one_precision(
    store: VectorStore, rng: np.random.Generator
) -> None:
    store.ensure_namespace("photos", SPACE)
    assert store.get_namespace("photos").writers == ()
    store.upsert("photos", random_records(rng, 2, "a"))  # raw vectors: no writer named
    assert store.get_namespace("photos").writers == ()
    store.upsert("photos", random_records(rng, 2, "b"), writer="onnx")
    store.upsert("photos", random_records(rng, 2, "c"), writer="torch")  # fp32 too: both kept
    assert store.get_namespace("photos").writers == ("onnx", "torch")
    with pytest.raises(SpaceMismatchError) as caught:
        store.upsert("photos", random_records(rng, 2, "d"), writer="onnx-int8")
    message = str(caught.value)
    assert "'photos' holds fp32 vectors (written by onnx, torch)" in message
    assert "backend onnx-int8 writes int8 ones" in message
    assert caught.value.hint and "--backend auto" in caught.value.hint
    info = store.get_namespace("photos")
    assert (info.count, info.writers) == (6, ("onnx", "torch"))  # nothing of it stored
    assert [ns.writers for ns in store.list_namespaces()] == [("onnx", "torch")]
    assert info.to_dict()["writers"] == ["onnx", "torch"]

    store.ensure_namespace("quantized", SPACE)
    store.upsert("quantized", random_records(rng, 1), writer="onnx-int8")
    with pytest.raises(SpaceMismatchError, match="holds int8 vectors"):
        store.upsert("quantized", random_records(rng, 1), writer="torch")
    assert store.get_namespace("quantized").writers == ("onnx-int8",)


def test_unknown_namespaces_raise(store: VectorStore, rng: np.random.Generator) -> None:
    with pytest.raises(NamespaceNotFoundError):
        store.get_namespace("nope")
    with pytest.raises(NamespaceNotFoundError):
        store.delete_namespace("nope")
    with pytest.raises(NamespaceNotFoundError):
        store.upsert("nope", random_records(rng, 1))
    with pytest.raises(NamespaceNotFoundError):
        store.upsert("nope", [])
    with pytest.raises(NamespaceNotFoundError):
        store.delete("nope", ["a"])
    with pytest.raises(NamespaceNotFoundError):
        store.count("nope")
    with pytest.raises(NamespaceNotFoundError):
        store.list_records("nope")
    with pytest.raises(NamespaceNotFoundError):
        list(store.scan_metadata("nope"))
    with pytest.raises(NamespaceNotFoundError):
        store.get_content_hashes("nope", ["a"])
    with pytest.raises(NamespaceNotFoundError):
        store.get_metadata("nope", ["a"])
    with pytest.raises(NamespaceNotFoundError):
        store.find_vectors_by_hash("nope", ["a"])
    with pytest.raises(NamespaceNotFoundError):
        store.get("a", "nope")
    with pytest.raises(NamespaceNotFoundError):
        store.search(["nope"], np.ones(DIM))


@pytest.mark.parametrize("name", ["", "   ", " padded", "tab\there", 42])
def test_bad_namespace_names_are_refused(store: VectorStore, name: Any) -> None:
    with pytest.raises(InvalidInputError):
        store.ensure_namespace(name, SPACE)


def test_delete_namespace_removes_its_records_only(
    store: VectorStore, rng: np.random.Generator
) -> None:
    store.ensure_namespace("a", SPACE)
    store.ensure_namespace("b", SPACE)
    store.upsert("a", random_records(rng, 5))
    store.upsert("b", random_records(rng, 3))
    store.delete_namespace("a")
    assert [info.name for info in store.list_namespaces()] == ["b"]
    assert store.count() == 3
    with pytest.raises(RecordNotFoundError):
        store.get("r0004")
    assert store.get("r0000")[0] == "b"
    # The name is free again, for any space.
    store.ensure_namespace("a", OTHER_MODEL)
    assert store.count("a") == 0


# -- records --------------------------------------------------------------------


def test_upsert_then_get_returns_everything_as_given(store: VectorStore) -> None:
    store.ensure_namespace("ns", SPACE)
    vector = np.arange(DIM, dtype=np.float32) - 3.5
    metadata = {"title": "Blé d'été ☀", "year": 1920, "nested": {"a": [1, 2.5, None, True]}}
    record = Record("id-1", vector, text="some text", metadata=metadata, content_hash="abc")
    assert store.upsert("ns", [record]) == 1
    namespace, got = store.get("id-1", "ns")
    assert namespace == "ns"
    assert got.id == "id-1"
    assert got.vector.dtype == np.float32
    np.testing.assert_array_equal(got.vector, vector)  # stored as given, not normalised
    assert (got.text, got.metadata, got.content_hash) == ("some text", metadata, "abc")
    namespace, found = store.get("id-1")
    assert (namespace, found.id, found.text) == ("ns", "id-1", "some text")


def test_optional_fields_may_be_empty(store: VectorStore) -> None:
    store.ensure_namespace("ns", SPACE)
    store.upsert("ns", [Record("bare", np.ones(DIM))])
    _, got = store.get("bare", "ns")
    assert (got.text, got.metadata, got.content_hash) == (None, {}, None)


def test_vectors_of_other_dtypes_are_stored_as_float32(store: VectorStore) -> None:
    store.ensure_namespace("ns", SPACE)
    store.upsert("ns", [Record("f64", np.linspace(0, 1, DIM)), Record("list", [1] * DIM)])
    np.testing.assert_allclose(store.get("f64", "ns")[1].vector, np.linspace(0, 1, DIM), 1e-7)
    assert store.get("list", "ns")[1].vector.tolist() == [1.0] * DIM


def test_get_unknown_id_raises(store: VectorStore) -> None:
    store.ensure_namespace("ns", SPACE)
    with pytest.raises(RecordNotFoundError):
        store.get("missing", "ns")
    with pytest.raises(RecordNotFoundError):
        store.get("missing")


def test_get_without_namespace_prefers_the_first_namespace_by_name(store: VectorStore) -> None:
    for name in ("b", "a", "c"):
        store.ensure_namespace(name, SPACE)
    store.upsert("c", [Record("same", np.ones(DIM), text="from c")])
    store.upsert("b", [Record("same", np.ones(DIM), text="from b")])
    namespace, record = store.get("same")
    assert (namespace, record.text) == ("b", "from b")


def test_upserting_the_same_id_replaces(store: VectorStore) -> None:
    store.ensure_namespace("ns", SPACE)
    store.upsert(
        "ns", [Record("x", np.ones(DIM), text="old", metadata={"v": 1}, content_hash="h1")]
    )
    store.upsert(
        "ns", [Record("x", -np.ones(DIM), text="new", metadata={"v": 2}, content_hash="h2")]
    )
    assert store.count("ns") == 1
    assert store.get_namespace("ns").count == 1
    _, got = store.get("x", "ns")
    assert (got.text, got.metadata, got.content_hash) == ("new", {"v": 2}, "h2")
    assert got.vector.tolist() == [-1.0] * DIM
    assert store.find_vectors_by_hash("ns", ["h1"]) == {}
    assert [r.id for r in store.list_records("ns")] == ["x"]


def test_the_last_copy_of_an_id_in_one_batch_wins(store: VectorStore) -> None:
    store.ensure_namespace("ns", SPACE)
    store.upsert(
        "ns", [Record("x", np.ones(DIM), text="first"), Record("x", np.ones(DIM), text="second")]
    )
    assert store.count("ns") == 1
    assert store.get("x", "ns")[1].text == "second"


@pytest.mark.parametrize(
    "bad",
    [
        Record("bad", np.ones(DIM + 1)),
        Record("bad", np.ones((1, DIM))),
        Record("bad", np.array([np.nan] * DIM)),
        Record("bad", np.array([1.0] * (DIM - 1) + [np.inf])),
        Record("bad", np.array([1e39] * DIM)),  # overflows float32
        Record("bad", np.array(["x"] * DIM)),
        Record("bad", np.ones(DIM), metadata={"score": float("nan")}),
        Record("bad", np.ones(DIM), metadata={"when": object()}),
        Record("", np.ones(DIM)),
    ],
)
def test_a_bad_record_fails_the_whole_batch(store: VectorStore, bad: Record) -> None:
    store.ensure_namespace("ns", SPACE)
    with pytest.raises(InvalidInputError):
        store.upsert("ns", [Record("good", np.ones(DIM)), bad])
    assert store.count("ns") == 0


def test_dimension_errors_say_what_was_expected(store: VectorStore) -> None:
    store.ensure_namespace("ns", SPACE)
    with pytest.raises(InvalidInputError, match=rf"record 'x'.*\({DIM},\)"):
        store.upsert("ns", [Record("x", np.ones(3))])


def test_delete_returns_how_many_existed(store: VectorStore, rng: np.random.Generator) -> None:
    store.ensure_namespace("ns", SPACE)
    store.upsert("ns", random_records(rng, 5))
    assert store.delete("ns", ["r0001", "r0003", "nope", "r0001"]) == 2
    assert store.delete("ns", ["r0001"]) == 0
    assert store.delete("ns", []) == 0
    assert store.count("ns") == 3
    assert [r.id for r in store.list_records("ns")] == ["r0000", "r0002", "r0004"]


def test_count_all_namespaces(store: VectorStore, rng: np.random.Generator) -> None:
    assert store.count() == 0
    store.ensure_namespace("a", SPACE)
    store.ensure_namespace("b", OTHER_MODEL)
    store.upsert("a", random_records(rng, 4))
    store.upsert("b", random_records(rng, 6))
    assert (store.count(), store.count("a"), store.count("b")) == (10, 4, 6)


def test_list_records_pages_in_id_order(store: VectorStore, rng: np.random.Generator) -> None:
    store.ensure_namespace("ns", SPACE)
    records = random_records(rng, 23)
    random.Random(5).shuffle(records)
    store.upsert("ns", records)
    pages = [store.list_records("ns", offset=o, limit=10) for o in (0, 10, 20, 30)]
    assert [len(page) for page in pages] == [10, 10, 3, 0]
    seen = [r.id for page in pages for r in page]
    assert seen == sorted(r.id for r in records)
    assert store.list_records("ns", limit=0) == []
    first = store.list_records("ns", offset=5, limit=1, with_vectors=True)[0]
    original = next(r for r in records if r.id == first.id)
    np.testing.assert_array_equal(first.vector, original.vector)
    assert (first.text, first.metadata) == (original.text, original.metadata)


def test_a_cursor_pages_after_an_id(store: VectorStore, rng: np.random.Generator) -> None:
    """``after_id`` starts a page after any id (stored or not, of any script), only within
    the namespace; ``iter_records`` walks the whole namespace with it, in id order."""
    store.ensure_namespace("ns", SPACE)
    store.ensure_namespace("other", SPACE)
    records = random_records(rng, 21)
    extra_ids = ["Zebra", "a b", "\u00e9t\u00e9", "\u65e5\u672c"]
    records += [Record(rid, rng.standard_normal(DIM).astype(np.float32)) for rid in extra_ids]
    random.Random(7).shuffle(records)
    store.upsert("ns", records)
    store.upsert("other", [Record("r0005a", np.ones(DIM))])
    ordered = sorted(r.id for r in records)  # code point order = UTF-8 byte order

    def ids(**paging: Any) -> list[str]:
        return [r.id for r in store.list_records("ns", **paging)]

    assert ids(after_id="r0004", limit=3) == ["r0005", "r0006", "r0007"]
    assert ids(after_id="r0004a", limit=2) == ["r0005", "r0006"]  # not a stored id
    assert ids(after_id="r0004", offset=2, limit=2) == ["r0007", "r0008"]
    assert ids(after_id="", limit=100) == ordered
    assert ids(after_id=ordered[-1]) == []
    assert ids(after_id="a", limit=100) == [i for i in ordered if i > "a"]

    pages = list(store.iter_records("ns", page_size=5))
    assert [len(page) for page in pages] == [5, 5, 5, 5, 5]  # 25: no empty page at the end
    assert [r.id for page in pages for r in page] == ordered
    by_id = {r.id: r for r in records}
    for record in (page[0] for page in pages):
        np.testing.assert_array_equal(record.vector, by_id[record.id].vector)
    bare = next(store.iter_records("ns", page_size=30, with_vectors=False))
    assert len(bare) == 25 and all(r.vector.size == 0 for r in bare)


@pytest.mark.parametrize(("offset", "limit"), [(-1, 10), (0, -1), ("0", 10)])
def test_list_records_refuses_bad_paging(store: VectorStore, offset: Any, limit: Any) -> None:
    store.ensure_namespace("ns", SPACE)
    with pytest.raises(InvalidInputError):
        store.list_records("ns", offset=offset, limit=limit)


def test_hash_and_metadata_lookups(store: VectorStore, rng: np.random.Generator) -> None:
    store.ensure_namespace("ns", SPACE)
    store.ensure_namespace("other", SPACE)
    records = random_records(rng, 4)
    records[3].content_hash = None
    store.upsert("ns", records)
    store.upsert("other", [Record("elsewhere", np.ones(DIM), content_hash="hash-elsewhere")])

    assert store.get_content_hashes("ns", ["r0000", "r0003", "nope"]) == {
        "r0000": "hash-r0",
        "r0003": None,
    }
    assert store.get_metadata("ns", ["r0001", "r0002", "nope"]) == {
        "r0001": {"i": 1},
        "r0002": {"i": 2},
    }
    found = store.find_vectors_by_hash("ns", ["hash-r1", "hash-r2", "hash-elsewhere", "nope"])
    assert sorted(found) == ["hash-r1", "hash-r2"]
    np.testing.assert_array_equal(found["hash-r1"], records[1].vector)
    assert found["hash-r1"].dtype == np.float32
    assert store.get_content_hashes("ns", []) == {}


def test_scan_metadata_yields_every_record(store: VectorStore, rng: np.random.Generator) -> None:
    store.ensure_namespace("ns", SPACE)
    records = random_records(rng, 12)
    store.upsert("ns", records)
    scanned = sorted(store.scan_metadata("ns"))
    assert scanned == sorted((r.id, r.content_hash, r.metadata) for r in records)


def test_everything_persists_after_reopening(
    store_spec: str, store_dir: Path, rng: np.random.Generator
) -> None:
    records = random_records(rng, 30)
    with open_store(store_dir, store_spec) as first:
        first.ensure_namespace("ns", SPACE)
        first.upsert("ns", records)
        first.delete("ns", ["r0000"])
        query = rng.normal(size=DIM)
        before = first.search(["ns"], query, limit=5)
    with open_store(store_dir, store_spec) as second:
        assert second.get_namespace("ns").space == SPACE
        assert second.count("ns") == 29
        assert second.search(["ns"], query, limit=5) == before
        np.testing.assert_array_equal(second.get("r0007", "ns")[1].vector, records[7].vector)


# -- search ---------------------------------------------------------------------


def test_search_ranks_like_brute_force(store: VectorStore, rng: np.random.Generator) -> None:
    store.ensure_namespace("ns", SPACE)
    records = random_records(rng, 300)
    for record in records[::3]:
        record.vector = record.vector * 50  # stored vectors need not be unit length
    store.upsert("ns", records)
    for _ in range(5):
        query = rng.normal(size=DIM)
        expected = brute_force([("ns", r) for r in records], query, 10)
        got = store.search(["ns"], query, limit=10)
        assert [(m.namespace, m.id) for m in got] == [(ns, rid) for ns, rid, _ in expected]
        np.testing.assert_allclose([m.score for m in got], [s for *_, s in expected], atol=1e-5)
        assert all(isinstance(m.score, float) and -1.0 <= m.score <= 1.0 for m in got)


def test_search_returns_text_and_metadata(store: VectorStore) -> None:
    store.ensure_namespace("ns", SPACE)
    vector = np.eye(DIM)[0]
    store.upsert("ns", [Record("a", vector, text="hello", metadata={"k": "v"})])
    (match,) = store.search(["ns"], vector * 3)
    assert (match.id, match.namespace, match.text, match.metadata) == (
        "a",
        "ns",
        "hello",
        {"k": "v"},
    )
    assert match.score == pytest.approx(1.0)


def test_scores_span_minus_one_to_one(store: VectorStore) -> None:
    store.ensure_namespace("ns", SPACE)
    base = np.eye(DIM)[0] * 0.3
    across = np.eye(DIM)[1] * 2.0
    store.upsert("ns", [Record("same", base), Record("opposite", -base), Record("across", across)])
    matches = store.search(["ns"], base, limit=3)
    assert [(m.id, round(m.score, 5)) for m in matches] == [
        ("same", 1.0),
        ("across", 0.0),
        ("opposite", -1.0),
    ]


def test_a_zero_vector_is_refused_and_its_batch_stores_nothing(store: VectorStore) -> None:
    store.ensure_namespace("ns", SPACE)
    with pytest.raises(InvalidInputError, match="zero"):
        store.upsert("ns", [Record("fine", np.ones(DIM)), Record("zero", np.zeros(DIM))])
    assert store.count("ns") == 0


def test_ties_are_broken_by_id(store: VectorStore) -> None:
    store.ensure_namespace("ns", SPACE)
    vector = np.ones(DIM)
    ids = ["m", "c", "x", "a", "k"]
    store.upsert("ns", [Record(i, vector) for i in ids] + [Record("far", -vector)])
    assert ids_of(store.search(["ns"], vector, limit=3)) == ["a", "c", "k"]
    assert ids_of(store.search(["ns"], vector, limit=10)) == ["a", "c", "k", "m", "x", "far"]


def test_limit_caps_the_results(store: VectorStore, rng: np.random.Generator) -> None:
    store.ensure_namespace("ns", SPACE)
    store.upsert("ns", random_records(rng, 20))
    assert len(store.search(["ns"], np.ones(DIM), limit=1)) == 1
    assert len(store.search(["ns"], np.ones(DIM), limit=50)) == 20


def test_an_empty_namespace_finds_nothing(store: VectorStore) -> None:
    store.ensure_namespace("ns", SPACE)
    assert store.search(["ns"], np.ones(DIM)) == []


def test_search_across_namespaces_merges_by_score(
    store: VectorStore, rng: np.random.Generator
) -> None:
    store.ensure_namespace("a", SPACE)
    store.ensure_namespace("b", SPACE)
    in_a = random_records(rng, 40, prefix="a")
    in_b = random_records(rng, 40, prefix="b")
    in_b.append(Record("a0000", in_a[0].vector))  # the same id in both namespaces
    store.upsert("a", in_a)
    store.upsert("b", in_b)
    everything = [("a", r) for r in in_a] + [("b", r) for r in in_b]
    for query in [rng.normal(size=DIM) for _ in range(3)] + [in_a[0].vector]:
        expected = brute_force(everything, query, 12)
        got = store.search(["b", "a"], query, limit=12)
        assert [(m.namespace, m.id) for m in got] == [(ns, rid) for ns, rid, _ in expected]
    assert {m.namespace for m in store.search(["a", "a"], np.ones(DIM), limit=100)} == {"a"}


def test_namespaces_of_different_spaces_are_not_searched_together(store: VectorStore) -> None:
    store.ensure_namespace("a", SPACE)
    store.ensure_namespace("b", OTHER_MODEL)
    with pytest.raises(SpaceMismatchError) as caught:
        store.search(["a", "b"], np.ones(DIM))
    assert SPACE.describe() in str(caught.value) and OTHER_MODEL.describe() in str(caught.value)


def test_exclude_ids_removes_records_before_ranking(
    store: VectorStore, rng: np.random.Generator
) -> None:
    store.ensure_namespace("a", SPACE)
    store.ensure_namespace("b", SPACE)
    records = random_records(rng, 50)
    store.upsert("a", records)
    store.upsert("b", records[:5])
    query = records[0].vector
    top = store.search(["a"], query, limit=5)
    assert top[0].id == "r0000"
    excluded = [m.id for m in top[:3]] + ["not-there"]
    got = store.search(["a", "b"], query, limit=5, exclude_ids=excluded)
    assert len(got) == 5
    assert not {m.id for m in got} & set(excluded)
    reference = brute_force(
        [("a", r) for r in records if r.id not in excluded]
        + [("b", r) for r in records[:5] if r.id not in excluded],
        query,
        5,
    )
    assert [(m.namespace, m.id) for m in got] == [(ns, rid) for ns, rid, _ in reference]
    everyone = [r.id for r in records]
    assert store.search(["a"], query, exclude_ids=everyone) == []


@pytest.mark.parametrize(
    ("query", "kwargs", "message"),
    [
        (np.ones(DIM + 2), {}, "shape"),
        (np.ones((2, DIM)), {}, "shape"),
        (np.array([np.nan] * DIM), {}, "NaN"),
        (np.zeros(DIM), {}, "zeros"),
        (np.ones(DIM), {"limit": 0}, "limit"),
        (np.ones(DIM), {"namespaces": []}, "namespace"),
        (np.ones(DIM), {"filters": {"year": {"between": [1]}}}, "between"),
        (np.ones(DIM), {"filters": "year>1"}, "filters"),
    ],
)
def test_bad_search_input_is_refused(
    store: VectorStore, query: np.ndarray, kwargs: dict[str, Any], message: str
) -> None:
    store.ensure_namespace("ns", SPACE)
    store.upsert("ns", [Record("a", np.ones(DIM))])
    args: dict[str, Any] = {"namespaces": ["ns"], **kwargs}
    with pytest.raises(InvalidInputError, match=message):
        store.search(args.pop("namespaces"), query, **args)


# -- filters --------------------------------------------------------------------

FILTER_RECORDS: dict[str, dict[str, Any]] = {
    "mill": {
        "type": "image",
        "year": 1920,
        "title": "The Old Mill",
        "tags": ["mill", "river", 7],
        "exif": {"camera": "X100", "iso": 200},
        "digitised": True,
        "date": "1920-05-01",
    },
    "barn": {
        "type": "image",
        "year": 1955.5,
        "title": "Red barn",
        "tags": ["barn", True, 0],
        "exif": {"camera": "Leica", "iso": 400},
        "digitised": False,
        "date": "1955-07-12",
    },
    "letter": {"type": "text", "year": "1920", "title": "A letter about the mill", "note": None},
    "poem": {"type": "text", "year": 1899, "tags": [], "digitised": 1, "exif": "none"},
    "blank": {},
}


@pytest.fixture
def filter_store(store: VectorStore, rng: np.random.Generator) -> VectorStore:
    store.ensure_namespace("ns", SPACE)
    store.upsert(
        "ns",
        [Record(rid, rng.normal(size=DIM), metadata=meta) for rid, meta in FILTER_RECORDS.items()],
    )
    return store


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"type": "image"}, {"mill", "barn"}),
        ({"type": {"eq": "text"}}, {"letter", "poem"}),
        ({"year": 1920}, {"mill"}),  # the string "1920" is not the number 1920
        ({"year": "1920"}, {"letter"}),
        ({"year": 1955.5}, {"barn"}),
        ({"digitised": True}, {"mill"}),  # 1 is not true
        ({"digitised": False}, {"barn"}),
        ({"digitised": 1}, {"poem"}),
        ({"type": {"neq": "image"}}, {"letter", "poem", "blank"}),  # missing fields match neq
        ({"digitised": {"neq": True}}, {"barn", "letter", "poem", "blank"}),
        ({"year": {"gt": 1900}}, {"mill", "barn"}),
        ({"year": {"gte": 1920}}, {"mill", "barn"}),
        ({"year": {"lt": 1920}}, {"poem"}),
        ({"year": {"lte": 1920}}, {"mill", "poem"}),
        ({"year": {"gte": 1900, "lte": 1950}}, {"mill"}),
        ({"year": {"between": [1899, 1920]}}, {"mill", "poem"}),  # both ends included
        ({"year": {"between": ["1900", "2000"]}}, {"letter"}),
        ({"date": {"gte": "1950-01-01"}}, {"barn"}),
        ({"date": {"lt": "1950"}}, {"mill"}),
        ({"title": {"contains": "mill"}}, {"letter"}),  # case-sensitive substring
        ({"title": {"contains": "Mill"}}, {"mill"}),
        ({"tags": {"contains": "mill"}}, {"mill"}),  # array element
        ({"tags": {"contains": "mil"}}, set()),
        ({"tags": {"contains": 7}}, {"mill"}),
        ({"tags": {"contains": "7"}}, set()),
        ({"tags": {"contains": True}}, {"barn"}),
        ({"tags": {"contains": False}}, set()),  # 0 is not false
        ({"tags": {"contains": 0}}, {"barn"}),
        ({"tags": {"contains": 1}}, set()),  # true is not 1
        ({"type": {"in": ["text", "video"]}}, {"letter", "poem"}),
        ({"year": {"in": [1920, 1899, "1920"]}}, {"mill", "poem", "letter"}),
        ({"digitised": {"in": [True, False]}}, {"mill", "barn"}),
        ({"digitised": {"in": [1, 0]}}, {"poem"}),  # true is not 1
        ({"type": {"in": []}}, set()),
        ({"tags": {"in": ["barn"]}}, set()),
        ({"tags": {"exists": True}}, {"mill", "barn", "poem"}),
        ({"tags": {"exists": False}}, {"letter", "blank"}),
        ({"note": {"exists": True}}, set()),  # null counts as missing
        ({"note": {"exists": False}}, set(FILTER_RECORDS)),
        ({"exif.camera": "X100"}, {"mill"}),
        ({"exif.iso": {"gte": 300}}, {"barn"}),
        ({"exif.camera": {"exists": True}}, {"mill", "barn"}),
        ({"exif.camera": {"neq": "X100"}}, {"barn", "letter", "poem", "blank"}),
        ({"type": "image", "year": {"lt": 1950}}, {"mill"}),
        ({"type": "image", "tags": {"contains": "barn"}, "digitised": False}, {"barn"}),
        ({"missing": 1}, set()),
        ({"a') OR 1=1 --": 1}, set()),  # field names are never SQL
        ({"type": "image' OR '1'='1"}, set()),
    ],
)
def test_filter_operators(
    filter_store: VectorStore, filters: dict[str, Any], expected: set[str]
) -> None:
    got = filter_store.search(["ns"], np.ones(DIM), limit=100, filters=filters)
    assert set(ids_of(got)) == expected


def _random_value(rnd: random.Random, depth: int = 0) -> Any:
    choice = rnd.randrange(8 if depth == 0 else 6)
    if choice == 0:
        return rnd.randint(-3, 3)
    if choice == 1:
        return rnd.choice([-1.5, 0.0, 0.5, 2.0, 2.5])
    if choice == 2:
        return rnd.choice(["a", "b", "ab", "B", "1", "", "ba"])
    if choice == 3:
        return rnd.choice([True, False])
    if choice == 4:
        return None
    if choice == 5:
        return rnd.choice([1, 2, "a"])
    if choice == 6:
        # Small pools, so that true/1, false/0 and "1"/1 meet often.
        pool = [0, 1, True, False, "a", "1", 2.5, None, [1]]
        return [rnd.choice(pool) for _ in range(rnd.randrange(4))]
    return {"x": _random_value(rnd, depth + 1)}


def _random_filter(rnd: random.Random) -> dict[str, Any]:
    def scalar() -> Any:
        return rnd.choice(
            [
                rnd.randint(-3, 3),
                rnd.choice([0, 1, 0.5, 2.0, 2.5]),
                rnd.choice(["a", "b", "1", ""]),
                rnd.choice([True, False]),
            ]
        )

    def orderable() -> Any:
        return rnd.choice([rnd.randint(-3, 3), 0.5, "a", "ab", "b"])

    field = rnd.choice(["p", "q", "p.x", "q.x", "gone"])
    op = rnd.choice(["eq", "neq", "lt", "lte", "gt", "gte", "between", "contains", "in", "exists"])
    if op in ("eq", "neq", "contains"):
        value: Any = scalar()
    elif op == "in":
        value = [scalar() for _ in range(rnd.randrange(4))]
    elif op == "exists":
        value = rnd.choice([True, False])
    elif op == "between":
        low, high = (
            sorted(rnd.sample(range(-3, 4), 2))
            if rnd.random() < 0.6
            else sorted(rnd.sample(["", "a", "ab", "b", "ba"], 2))
        )
        value = [low, high]
    else:
        value = orderable()
    return {field: {op: value}}


def test_filters_agree_with_the_reference_semantics(
    store: VectorStore, rng: np.random.Generator
) -> None:
    """Random mixed-type metadata and random filters: the store returns exactly the records
    ``FilterSet.matches`` accepts (same types, nulls, arrays, nesting)."""
    rnd = random.Random(99)
    store.ensure_namespace("ns", SPACE)
    metadata = {}
    for i in range(150):
        meta = {key: _random_value(rnd) for key in ("p", "q") if rnd.random() < 0.85}
        metadata[f"m{i:03d}"] = meta
    store.upsert(
        "ns", [Record(rid, rng.normal(size=DIM), metadata=m) for rid, m in metadata.items()]
    )
    nonempty = 0
    for _ in range(300):
        raw = _random_filter(rnd)
        if rnd.random() < 0.3:
            raw.update(_random_filter(rnd))
        expected = {rid for rid, meta in metadata.items() if parse_filters(raw).matches(meta)}
        got = set(ids_of(store.search(["ns"], np.ones(DIM), limit=1000, filters=raw)))
        assert got == expected, json.dumps(raw)
        nonempty += bool(expected) and len(expected) < len(metadata)
    assert nonempty > 100  # the random filters actually discriminate


def test_filters_apply_before_the_top_k(store: VectorStore, rng: np.random.Generator) -> None:
    store.ensure_namespace("ns", SPACE)
    records = random_records(rng, 1000)
    lucky = {3, 150, 151, 480, 702, 889, 999}
    for record in records:
        record.metadata = {"i": record.metadata["i"], "lucky": int(record.metadata["i"]) in lucky}
    store.upsert("ns", records)
    query = rng.normal(size=DIM)
    got = store.search(["ns"], query, limit=10, filters={"lucky": True})
    assert len(got) == 7
    expected = brute_force([("ns", r) for r in records if r.metadata["lucky"]], query, 10)
    assert ids_of(got) == [rid for _, rid, _ in expected]
    top5 = store.search(["ns"], query, limit=5, filters={"lucky": True})
    assert ids_of(top5) == ids_of(got)[:5]
    fewer = store.search(
        ["ns"], query, limit=10, filters={"lucky": True}, exclude_ids=[ids_of(got)[0]]
    )
    assert ids_of(fewer) == ids_of(got)[1:]


def test_filters_cover_every_namespace_searched(
    store: VectorStore, rng: np.random.Generator
) -> None:
    store.ensure_namespace("a", SPACE)
    store.ensure_namespace("b", SPACE)
    for name in ("a", "b"):
        records = random_records(rng, 30, prefix=name)
        for record in records:
            record.metadata = {"even": int(record.metadata["i"]) % 2 == 0}
        store.upsert(name, records)
    got = store.search(["a", "b"], np.ones(DIM), limit=100, filters={"even": True})
    assert len(got) == 30
    assert {m.namespace for m in got} == {"a", "b"}
    assert all(m.metadata["even"] is True for m in got)


# -- several store objects and processes on one directory ----------------------------


def _search_ids(store: VectorStore, query: np.ndarray, limit: int = 100) -> list[str]:
    return ids_of(store.search(["ns"], query, limit=limit))


def test_a_second_store_object_sees_writes_without_reopening(
    store_spec: str, store_dir: Path, rng: np.random.Generator
) -> None:
    writer = open_store(store_dir, store_spec)
    reader = open_store(store_dir, store_spec)
    try:
        writer.ensure_namespace("ns", SPACE)
        records = random_records(rng, 20)
        writer.upsert("ns", records)
        query = records[5].vector
        assert _search_ids(reader, query, limit=1) == ["r0005"]  # the reader has loaded

        writer.upsert("ns", [Record("new", query * 2, text="fresh")])
        assert reader.search(["ns"], query, limit=1)[0].text == "fresh"

        writer.upsert("ns", [Record("new", -query, text="moved")])  # an update
        hits = reader.search(["ns"], query, limit=30)
        assert hits[0].id == "r0005" and hits[-1].id == "new" and hits[-1].text == "moved"

        writer.delete("ns", ["r0005", "new"])
        assert not {"r0005", "new"} & set(_search_ids(reader, query))
        assert reader.count("ns") == 19

        writer.upsert("ns", [Record("r0005", query)])  # deleted, then written again
        assert _search_ids(reader, query, limit=1) == ["r0005"]

        writer.delete_namespace("ns")
        with pytest.raises(NamespaceNotFoundError):
            reader.search(["ns"], query)
        writer.ensure_namespace("ns", SPACE)
        writer.upsert("ns", [Record("reborn", query)])
        assert _search_ids(reader, query) == ["reborn"]
    finally:
        writer.close()
        reader.close()


WRITER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from same_same.records import EmbeddingSpace, Record
    from same_same.storage import open_store

    job = json.loads(sys.argv[1])
    with open_store(job["dir"], job["spec"]) as store:
        space = EmbeddingSpace(**job["space"])
        store.ensure_namespace("ns", space)
        store.upsert("ns", [
            Record(rid, np.asarray(vec, dtype=np.float32), metadata={"by": "child"})
            for rid, vec in job["upsert"].items()
        ])
        store.delete("ns", job["delete"])
    print("done")
    """
)


def _run_writer(
    store_spec: str, store_dir: Path, upsert: dict[str, list[float]], delete: list[str]
) -> None:
    job = {
        "dir": str(store_dir),
        "spec": store_spec,
        "space": SPACE.to_dict(),
        "upsert": upsert,
        "delete": delete,
    }
    done = subprocess.run(
        [sys.executable, "-c", WRITER_SCRIPT, json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"


def test_a_running_reader_sees_another_processes_commits(
    store: VectorStore, store_spec: str, store_dir: Path, rng: np.random.Generator
) -> None:
    store.ensure_namespace("ns", SPACE)
    records = random_records(rng, 30)
    store.upsert("ns", records)
    query = records[0].vector
    assert _search_ids(store, query, limit=1) == ["r0000"]

    _run_writer(store_spec, store_dir, {"child": (query * 3).tolist()}, ["r0000"])
    hits = store.search(["ns"], query, limit=40)
    assert hits[0].id == "child" and hits[0].metadata == {"by": "child"}
    assert "r0000" not in ids_of(hits)
    assert len(hits) == 30

    _run_writer(store_spec, store_dir, {"r0001": (-query).tolist()}, ["child"])
    hits = store.search(["ns"], query, limit=40)
    assert "child" not in ids_of(hits)
    assert hits[-1].id == "r0001" and hits[-1].metadata == {"by": "child"}
    assert store.search(["ns"], query, limit=5, filters={"by": "child"})[0].id == "r0001"


# -- find_namespace and empty namespaces ------------------------------------------


def test_find_namespace_gives_none_for_a_missing_namespace(store: VectorStore) -> None:
    assert store.find_namespace("photos") is None
    created = store.ensure_namespace("photos", SPACE)
    assert store.find_namespace("photos") == created
    assert store.find_namespace("photo") is None  # names match exactly
    store.delete_namespace("photos")
    assert store.find_namespace("photos") is None


def test_find_namespace_agrees_with_get_namespace(
    store: VectorStore, rng: np.random.Generator
) -> None:
    store.ensure_namespace("ns", SPACE)
    store.upsert("ns", random_records(rng, 4))
    found = store.find_namespace("ns")
    assert found is not None
    assert (found.name, found.space, found.count) == ("ns", SPACE, 4)
    assert store.get_namespace("ns") == found


def test_get_namespace_names_the_missing_one_and_how_to_list_them(store: VectorStore) -> None:
    store.ensure_namespace("photos", SPACE)
    with pytest.raises(NamespaceNotFoundError) as caught:
        store.get_namespace("nope")
    assert caught.value.message == "no namespace 'nope'"
    assert caught.value.hint == "`same-same namespaces` lists the existing ones"


def test_namespaces_emptied_by_deletes_stay_listed_with_count_zero(
    store: VectorStore, store_spec: str, store_dir: Path, rng: np.random.Generator
) -> None:
    store.ensure_namespace("never-filled", SPACE)
    store.ensure_namespace("emptied", SPACE)
    records = random_records(rng, 5)
    store.upsert("emptied", records)
    store.search(["emptied"], records[0].vector)  # loaded (or indexed) before it empties
    ids = [record.id for record in records]
    assert store.delete("emptied", ids[:2]) == 2
    assert store.get_namespace("emptied").count == 3
    assert store.delete("emptied", ids) == 3
    assert store.delete("emptied", ids) == 0  # deleting again does not go below zero

    expected = [("emptied", 0), ("never-filled", 0)]
    assert [(info.name, info.count) for info in store.list_namespaces()] == expected
    found = store.find_namespace("emptied")
    assert found is not None and found.count == 0
    assert store.get_namespace("emptied").count == 0
    assert store.count("emptied") == 0
    assert store.count() == 0
    assert store.search(["emptied"], records[0].vector) == []
    assert store.list_records("emptied") == []

    store.close()
    with open_store(store_dir, store_spec) as reopened:
        assert [(info.name, info.count) for info in reopened.list_namespaces()] == expected
        reopened.upsert("emptied", records[:2])  # an emptied namespace still takes records
        assert reopened.get_namespace("emptied").count == 2
        assert ids_of(reopened.search(["emptied"], records[0].vector)) == ids[:2]


# -- notes --------------------------------------------------------------------------


def test_notes_round_trip_replace_and_go_with_their_namespace(
    store: VectorStore, rng: np.random.Generator
) -> None:
    store.ensure_namespace("photos", SPACE)
    store.upsert("photos", random_records(rng, 2))
    assert store.read_note("photos", "relevance") is None
    store.write_note("photos", "relevance", {"version": 1, "ranks": [0.5, 0.25]})
    store.write_note("photos", "other", ["kept"])
    store.write_note("photos", "relevance", {"version": 2})
    assert store.read_note("photos", "relevance") == {"version": 2}
    assert store.read_note("photos", "other") == ["kept"]
    assert store.count("photos") == 2  # a note is not a record
    store.delete_namespace("photos")
    store.ensure_namespace("photos", SPACE)
    assert store.read_note("photos", "relevance") is None


def test_bad_notes_are_refused(store: VectorStore) -> None:
    store.ensure_namespace("photos", SPACE)
    with pytest.raises(NamespaceNotFoundError):
        store.write_note("missing", "k", 1)
    with pytest.raises(NamespaceNotFoundError):
        store.read_note("missing", "k")
    for key, value in [("", 1), ("k", float("nan")), ("k", object()), ("k", "x" * 70_000)]:
        with pytest.raises(InvalidInputError):
            store.write_note("photos", key, value)
    assert store.read_note("photos", "k") is None


# -- places: the "near" filter ---------------------------------------------------------

PLACES: dict[str, dict[str, Any]] = {
    "paris": {"lat": 48.8566, "lon": 2.3522, "kind": "city"},
    "versailles": {"lat": 48.8049, "lon": 2.1204},  # 17.9 km from Paris
    "whole_degrees": {"lat": 49, "lon": 2},  # integers: 30.3 km from Paris
    "london": {"lat": 51.5074, "lon": -0.1278, "kind": "city"},  # 343.6 km
    "fiji_east": {"lat": -17.0, "lon": 179.9},
    "fiji_west": {"lat": -17.0, "lon": -179.9},  # 21.3 km across the antimeridian
    "pole": {"lat": 89.99, "lon": 10.0},
    "pole_far_side": {"lat": 89.99, "lon": -170.0},  # 2.2 km over the North Pole
    "text_degrees": {"lat": "48.8566", "lon": 2.3522},  # a string is no place
    "true_degrees": {"lat": True, "lon": 2.3522},  # nor is a boolean
    "lat_only": {"lat": 48.8566},
    "nested": {"gps": {"lat": 48.8566, "lon": 2.3522}},  # near reads top-level keys
    "no_place": {"kind": "city"},
}
PARIS = {"lat": 48.8566, "lon": 2.3522}
PLACED = ("paris", "versailles", "whole_degrees", "london", "fiji_east", "fiji_west", "pole",
          "pole_far_side")  # fmt: skip


@pytest.fixture
def place_store(store: VectorStore, rng: np.random.Generator) -> VectorStore:
    store.ensure_namespace("ns", SPACE)
    store.upsert(
        "ns", [Record(rid, rng.normal(size=DIM), metadata=meta) for rid, meta in PLACES.items()]
    )
    return store


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"near": {**PARIS, "km": 5}}, {"paris"}),
        ({"near": {**PARIS, "km": 18}}, {"paris", "versailles"}),
        ({"near": {**PARIS, "km": 31}}, {"paris", "versailles", "whole_degrees"}),
        ({"near": {**PARIS, "km": 400}}, {"paris", "versailles", "whole_degrees", "london"}),
        ({"near": {**PARIS, "km": 400}, "kind": "city"}, {"paris", "london"}),
        ({"near": {"lat": -17.0, "lon": 179.9, "km": 25}}, {"fiji_east", "fiji_west"}),
        ({"near": {"lat": -17.0, "lon": -180, "km": 25}}, {"fiji_east", "fiji_west"}),
        ({"near": {"lat": 89.99, "lon": 10.0, "km": 5}}, {"pole", "pole_far_side"}),
        ({"near": {"lat": 90, "lon": 0, "km": 2}}, {"pole", "pole_far_side"}),
        ({"near": {"lat": 0, "lon": 0, "km": 100}}, set()),
        ({"near": {**PARIS, "km": 30_000}}, set(PLACED)),  # the whole Earth
        ({"near": {"eq": "x"}}, set()),  # a field called "near", with an operator
    ],
)  # fmt: skip
def test_near_filter(place_store: VectorStore, filters: dict[str, Any], expected: set[str]) -> None:
    got = place_store.search(["ns"], np.ones(DIM), limit=100, filters=filters)
    assert set(ids_of(got)) == expected
    reference = {rid for rid, meta in PLACES.items() if parse_filters(filters).matches(meta)}
    assert reference == expected


def test_near_agrees_with_the_reference_distance(
    store: VectorStore, rng: np.random.Generator
) -> None:
    """Random places (some the wrong type, some off the map) and random circles, near the
    antimeridian and the poles too: the store returns what ``FilterSet.matches`` does."""
    rnd = random.Random(7)
    store.ensure_namespace("ns", SPACE)

    def coordinate(limit: float) -> Any:
        roll = rnd.random()
        if roll < 0.05:
            return rnd.choice(["1.5", True, None, [1.0], {"x": 1}])
        if roll < 0.1:
            return rnd.choice([limit, -limit, limit + 1, rnd.randint(-int(limit), int(limit))])
        return rnd.uniform(-limit, limit)

    centres = [(rnd.uniform(-90, 90), rnd.uniform(-180, 180)) for _ in range(6)]
    centres += [(-17.0, 179.5), (88.0, 0.0), (-89.5, 45.0)]
    metadata: dict[str, dict[str, Any]] = {}
    for i in range(300):
        lat_c, lon_c = rnd.choice(centres)
        if rnd.random() < 0.7:  # clustered near a centre, so circles catch some
            lat = max(-90.0, min(90.0, lat_c + rnd.gauss(0, 2)))
            lon = (lon_c + rnd.gauss(0, 3) + 180.0) % 360.0 - 180.0
            meta: dict[str, Any] = {"lat": lat, "lon": lon}
        else:
            meta = {"lat": coordinate(90), "lon": coordinate(180)}
        metadata[f"p{i:03d}"] = meta
    store.upsert(
        "ns", [Record(rid, rng.normal(size=DIM), metadata=m) for rid, m in metadata.items()]
    )
    nonempty = 0
    for _ in range(60):
        lat_c, lon_c = rnd.choice(centres)
        raw = {"near": {"lat": lat_c, "lon": lon_c, "km": rnd.choice([10, 100, 300, 1000, 5000])}}
        expected = {rid for rid, meta in metadata.items() if parse_filters(raw).matches(meta)}
        got = set(ids_of(store.search(["ns"], np.ones(DIM), limit=1000, filters=raw)))
        assert got == expected, json.dumps(raw)
        nonempty += bool(expected)
    assert nonempty > 30


@pytest.mark.parametrize(
    "near",
    [
        {"lat": 48.8},
        {"lat": 48.8, "lon": 2.3, "km": 5, "radius": 1},
        {"lat": "48.8", "lon": 2.3, "km": 5},
        {"lat": True, "lon": 2.3, "km": 5},
        {"lat": 91, "lon": 2.3, "km": 5},
        {"lat": 48.8, "lon": -181, "km": 5},
        {"lat": 48.8, "lon": 2.3, "km": 0},
        {"lat": 48.8, "lon": 2.3, "km": -1},
        {"lat": 48.8, "lon": 2.3, "km": None},
        {},
    ],
)
def test_bad_near_filters_are_refused(place_store: VectorStore, near: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match="near"):
        place_store.search(["ns"], np.ones(DIM), limit=10, filters={"near": near})
