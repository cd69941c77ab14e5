"""Input limits (same_same.limits) and exact vectors: each reproduction of issue 9 items
1, 2, 4 and 5, at the library level and over a real server, on both stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from same_same import limits
from same_same.embedder_cache import EmbedderCache
from same_same.embedders import create_embedder
from same_same.embedders.base import cut_for_tokenizer
from same_same.errors import InvalidInputError
from same_same.filters import parse_filters
from same_same.normalization import normalized_rows
from same_same.records import EmbeddingSpace, Record, stamp_namespace
from same_same.server import ServerSettings
from same_same.storage import VectorStore, open_store
from same_same.storage.checks import check_query
from same_same.validation import coerce_vector
from same_same.vectors import VectorService
from server_fixtures import fetch_json, running_app_server

SPACE8 = EmbeddingSpace("external", "custom", "", 8)


def nested(depth: int, leaf: Any = 1) -> Any:
    """``{"a": {"a": ... leaf}}``, ``depth`` objects deep."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.fixture
def store(every_store: str, tmp_path: Path) -> Iterator[VectorStore]:
    with open_store(tmp_path / "store") as opened:
        yield opened


@pytest.fixture(scope="module")
def server(every_store_for_module: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server on 127.0.0.1 with texts in ``quotes`` (local embedder) and 8-d raw
    vectors in ``raw``."""
    data_dir = tmp_path_factory.mktemp("limits-server")
    with open_store(data_dir) as opened:
        service = VectorService(opened)
        for text in ("a red sunset over the sea", "a cat on a sofa", "time is relative"):
            service.add_text(text, namespace="quotes", metadata={"year": 1900})
        service.add_vector(np.eye(8)[0], record_id="x", namespace="raw")
        service.add_vector(np.eye(8)[1], record_id="y", namespace="raw")
    with running_app_server(ServerSettings(data_dir=data_dir)) as base_url:
        yield base_url


def error_of(status: int, body: Any, expected_status: int = 400) -> str:
    assert status == expected_status, body
    message: str = body["error"]["message"]
    return message


# -- 1. metadata ---------------------------------------------------------------------


def test_deep_metadata_is_a_400_and_nothing_is_stored(server: str) -> None:
    deep = {"id": "deep", "embedding": [1, 2, 3], "namespace": "t", "metadata": {"m": nested(300)}}
    message = error_of(*fetch_json("POST", server + "/api/v1/vectors", deep))
    assert "nested deeper than 32 levels" in message
    assert message.startswith("metadata.m.a.a")
    embed = {"text": "deep", "id": "deep", "namespace": "t", "extra": nested(40)}
    assert "nested deeper" in error_of(*fetch_json("POST", server + "/api/v1/vectors/embed", embed))
    put = fetch_json("PUT", server + "/api/v1/vectors/x?namespace=raw", {"metadata": nested(40)})
    assert "nested deeper" in error_of(*put)
    # nothing was written: no record, no namespace, and the listing still answers
    status, page = fetch_json("GET", server + "/api/v1/vectors")
    assert status == 200
    assert "deep" not in [item["id"] for item in page["vectors"]]
    status, namespaces = fetch_json("GET", server + "/api/v1/namespaces")
    assert "t" not in [info["name"] for info in namespaces["namespaces"]]
    assert fetch_json("GET", server + "/api/v1/vectors/x?namespace=raw")[1]["metadata"] == {
        "namespace": "raw"
    }


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        ({"m": nested(32)}, "MAX_METADATA_DEPTH"),
        ({"tags": [[[1]]] * 10, "deep": [nested(31)]}, "MAX_METADATA_DEPTH"),
        ({"k" * 1025: 1}, "MAX_METADATA_KEY_BYTES"),
        ({"s": "é" * 16_385}, "MAX_METADATA_STRING_BYTES"),
        ({"tags": list(range(1001))}, "MAX_METADATA_ARRAY_ITEMS"),
        ({f"k{i}": "x" * 30_000 for i in range(3)}, "MAX_METADATA_BYTES"),
        ({"n": float("nan")}, "not JSON"),
    ],
)
def test_metadata_over_a_limit_is_refused_by_the_service_and_the_store(
    store: VectorStore, metadata: dict[str, Any], fragment: str
) -> None:
    service = VectorService(store)
    with pytest.raises(InvalidInputError, match=fragment):
        service.add_vector([1.0] * 8, record_id="r", namespace="ns", metadata=metadata)
    assert store.list_namespaces() == []  # refused before the namespace was made
    store.ensure_namespace("ns", SPACE8)
    with pytest.raises(InvalidInputError, match=fragment):  # a library user's upsert too
        store.upsert("ns", [Record("r", np.ones(8, np.float32), metadata=metadata)])
    assert store.count("ns") == 0


def test_metadata_at_every_limit_is_stored_and_read_back(store: VectorStore) -> None:
    metadata = {
        "deep": nested(31, "leaf"),  # the metadata object is level 1: 32 levels in all
        "k" * 1024: "key of 1,024 bytes",
        "s": "é" * 16_384,  # 32,768 bytes
        "tags": list(range(1000)),
    }
    service = VectorService(store)
    stored = service.add_vector([1.0] * 8, record_id="r", namespace="ns", metadata=metadata)
    assert store.get("r", "ns")[1].metadata == stored.record.metadata
    # the whole object, namespace stamp included, exactly at MAX_METADATA_BYTES, then over
    fields = {"a": "a" * 32_000, "b": "b" * 32_000, "c": ""}
    size = len(json.dumps(stamp_namespace(fields, "ns"), separators=(",", ":")))
    fields["c"] = "c" * (limits.MAX_METADATA_BYTES - size)
    service.add_vector([1.0] * 8, record_id="whole", namespace="ns", metadata=fields)
    assert store.get("whole", "ns")[1].metadata["c"] == fields["c"]
    with pytest.raises(InvalidInputError, match="MAX_METADATA_BYTES"):
        service.add_vector([1.0] * 8, namespace="ns", metadata={**fields, "c": fields["c"] + "c"})


def test_metadata_an_older_version_stored_deep_still_reads_over_http(
    every_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as older_version, open_store(tmp_path) as store:
        older_version.setattr(limits, "MAX_METADATA_DEPTH", 10_000)
        store.ensure_namespace("t", EmbeddingSpace("external", "custom", "", 3))
        store.upsert(
            "t", [Record("deep", np.array([1, 2, 3], np.float32), metadata={"m": nested(300)})]
        )
    with running_app_server(ServerSettings(data_dir=tmp_path)) as base_url:
        status, page = fetch_json("GET", base_url + "/api/v1/vectors")
        assert (status, page["total"]) == (200, 1)
        assert page["vectors"][0]["metadata"]["m"] == nested(300)
        status, record = fetch_json("GET", base_url + "/api/v1/vectors/deep")
        assert (status, record["metadata"]["m"]) == (200, nested(300))
        status, found = fetch_json(
            "POST", base_url + "/api/v1/vectors/search", {"embedding": [1, 2, 3]}
        )
        assert (status, found["results"][0]["id"]) == (200, "deep")


def test_ingest_skips_rows_over_the_limits_and_stores_the_rest(
    every_store: str, data_dir: Path, tmp_path: Path, cli: Any
) -> None:
    rows = [
        {"id": "ok", "text": "a fine row"},
        {"id": "deep", "text": "too deep", "m": nested(300)},
        {"id": "tags", "text": "too many tags", "tags": list(range(2000))},
        {"id": "long", "text": "x " * (limits.MAX_RECORD_TEXT_BYTES // 2 + 1)},
        {"id": "ok2", "text": "another fine row", "m": nested(5)},
    ]
    lines = [json.dumps(row) for row in rows] + ["[" * 100_000 + "]" * 100_000]
    source = tmp_path / "rows.jsonl"
    source.write_text("\n".join(lines) + "\n")
    result = cli("ingest", f"jsonl:{source}", "-n", "rows")
    assert result.returncode == 3, result.stderr  # some skipped, the rest stored
    assert "skipping rows.jsonl line 2: metadata.m.a.a" in result.stderr
    assert "nested deeper than 32 levels" in result.stderr
    assert "skipping rows.jsonl line 3: metadata.tags is an array of 2,000 items" in result.stderr
    assert "skipping rows.jsonl line 4: text is longer than 1,048,576 bytes" in result.stderr
    assert "skipping rows.jsonl line 6: JSON nested too deeply to read" in result.stderr
    with open_store(data_dir) as store:
        assert sorted(r.id for r in store.list_records("rows")) == ["ok", "ok2"]


def test_a_row_one_store_cannot_hold_is_skipped_and_its_batch_stored(
    every_store: str, data_dir: Path, tmp_path: Path, cli: Any
) -> None:
    # 70 KB of text: within MAX_RECORD_TEXT_BYTES, past the Milvus store's 64 KB VARCHAR
    rows = [{"id": f"r{i}", "text": f"row number {i}"} for i in range(5)]
    rows.insert(2, {"id": "long", "text": "long words " * 7_000})
    source = tmp_path / "rows.jsonl"
    source.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    result = cli("ingest", f"jsonl:{source}", "-n", "rows")
    with open_store(data_dir) as store:
        stored = sorted(r.id for r in store.list_records("rows"))
    if every_store.startswith("milvus"):
        assert result.returncode == 3, result.stderr
        assert "skipping rows.jsonl line 3: record 'long': text is 77,000 bytes" in result.stderr
        assert stored == ["r0", "r1", "r2", "r3", "r4"]
    else:
        assert result.returncode == 0, result.stderr
        assert stored == ["long", "r0", "r1", "r2", "r3", "r4"]


# -- 2. query text -------------------------------------------------------------------


def test_query_text_over_the_cap_is_a_400_in_both_forms(server: str) -> None:
    too_long = "sunset " * 600  # 4,200 bytes
    for body in ({"text": too_long}, {"query": too_long, "top_k": 3}):
        message = error_of(*fetch_json("POST", server + "/api/v1/search", body))
        assert "longer than 4,096 bytes" in message
    at_cap = ("sunset " * 600)[: limits.MAX_QUERY_TEXT_BYTES]
    status, found = fetch_json("POST", server + "/api/v1/search", {"text": at_cap})
    assert (status, found["results"][0]["text"]) == (200, "a red sunset over the sea")


def test_query_text_over_the_cap_is_one_line_in_the_cli(data_dir: Path, cli: Any) -> None:
    assert cli("ingest", "demo").returncode == 0
    result = cli("search", "é" * 2049)  # 4,098 bytes in UTF-8
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "longer than 4,096 bytes" in result.stderr


def test_the_query_cache_keeps_digests_not_texts() -> None:
    cache = EmbedderCache()
    embedder = cache.remember(create_embedder("local"))
    text = "a red sunset " * 300
    first = cache.embed_query(embedder.space, text)
    assert cache.embed_query(embedder.space, text) is first  # from the cache
    ((_, key),) = cache._queries  # white-box: what the cache holds
    assert isinstance(key, bytes) and len(key) == 32


def test_record_text_over_the_limit_is_a_400(server: str) -> None:
    huge = "word " * (limits.MAX_RECORD_TEXT_BYTES // 5 + 1)
    body = {"text": huge, "id": "huge", "namespace": "quotes"}
    status, error = fetch_json("POST", server + "/api/v1/vectors/embed", body)
    assert "longer than 1,048,576 bytes" in error_of(status, error)
    put = fetch_json("PUT", server + "/api/v1/vectors/x?namespace=raw", {"text": huge})
    assert "MAX_RECORD_TEXT_BYTES" in error_of(*put)
    assert fetch_json("GET", server + "/api/v1/vectors/huge")[0] == 404


def test_the_clip_tokenizer_sees_the_same_tokens_of_a_normal_text() -> None:
    open_clip = pytest.importorskip("open_clip")
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    texts = [readme, "a photo of a cat", ("word" + " " * 10) * 400, "東京の夜景" * 1000]
    for text in texts:
        assert len(cut_for_tokenizer(text)) <= limits.TOKENIZER_PREFIX_CHARS
        assert tokenizer([cut_for_tokenizer(text)]).tolist() == tokenizer([text]).tolist()


# -- 3. vectors ------------------------------------------------------------------------


def test_huge_and_tiny_vectors_keep_their_direction_over_http(server: str) -> None:
    for vector, record_id in (([2e19, 1e19, 0], "big"), ([1e-30, 2e-30, 0], "tiny")):
        body = {"id": record_id, "embedding": vector, "namespace": "three"}
        status, created = fetch_json("POST", server + "/api/v1/vectors", body)
        assert status == 201, created
        expected = np.array(vector) / np.linalg.norm(vector)
        np.testing.assert_allclose(created["embedding"], expected, rtol=1e-6)
        status, got = fetch_json("GET", server + f"/api/v1/vectors/{record_id}?namespace=three")
        np.testing.assert_allclose(got["embedding"], expected, rtol=1e-6)
    status, found = fetch_json(
        "POST", server + "/api/v1/vectors/search", {"embedding": [3e38] * 8, "namespace": "raw"}
    )
    assert status == 200, found
    scores = [match["score"] for match in found["results"]]
    assert scores and all(score == pytest.approx(8**-0.5, rel=1e-5) for score in scores)
    for zero in ([0, 0, 0], [0.0] * 8):
        message = error_of(*fetch_json("POST", server + "/api/v1/vectors", {"embedding": zero}))
        assert "all zeros" in message


def test_a_text_the_model_gives_no_vector_for_is_a_400(server: str) -> None:
    # the local embedder reads words; punctuation alone hashes to nothing
    body = {"text": "!!! ???", "id": "noise", "namespace": "quotes"}
    status, error = fetch_json("POST", server + "/api/v1/vectors/embed", body)
    assert "gave no usable vector" in error_of(status, error)
    assert fetch_json("GET", server + "/api/v1/vectors/noise")[0] == 404
    search = fetch_json("POST", server + "/api/v1/search", {"text": "!!!", "namespace": "quotes"})
    assert "gave no usable vector" in error_of(*search)


def test_normalisation_is_float64() -> None:
    rows = normalized_rows(np.array([[2e19, 1e19, 0], [1e-30, 2e-30, 0], [0, 0, 0], [3, 4, 0]]))
    np.testing.assert_allclose(rows[0], [0.8944272, 0.4472136, 0], rtol=1e-6)
    np.testing.assert_allclose(rows[1], [0.4472136, 0.8944272, 0], rtol=1e-6)
    assert rows[2].tolist() == [0, 0, 0]
    np.testing.assert_allclose(
        check_query(np.full(8, 3e38, np.float32), SPACE8), [8**-0.5] * 8, 1e-6
    )
    # past float32's range is fine too: the direction is what is kept
    np.testing.assert_allclose(coerce_vector([1.0, 1e39, 0.0]), [0.0, 1.0, 0.0], atol=1e-7)


@pytest.mark.parametrize(
    ("vector", "fragment"),
    [
        (np.zeros(8), "all zeros"),
        (np.full(8, 1e18), "vector length"),
        (np.full(8, 1e-20), "vector length"),
        (np.full(8, np.inf), "infinity"),
    ],
)
def test_store_upsert_refuses_vectors_it_cannot_compare(
    store: VectorStore, vector: np.ndarray, fragment: str
) -> None:
    store.ensure_namespace("ns", SPACE8)
    with pytest.raises(InvalidInputError, match=fragment):
        store.upsert("ns", [Record("ok", np.ones(8)), Record("bad", vector)])
    assert store.count("ns") == 0  # the whole batch is refused
    store.upsert("ns", [Record("ok", np.full(8, 1e14))])  # long, but within the limits
    assert store.search(["ns"], np.ones(8))[0].score == pytest.approx(1.0, rel=1e-5)


# -- 4. filters ------------------------------------------------------------------------


def test_a_filter_with_a_thousand_keys_is_a_400_without_paths(server: str) -> None:
    filters = {f"k{i}": i for i in range(1000)}
    for path, body in (
        ("/api/v1/search", {"text": "sunset", "filters": filters}),
        ("/api/v1/vectors/search", {"embedding": [1.0] * 8, "filters": filters}),
    ):
        message = error_of(*fetch_json("POST", server + path, body))
        assert "more than 64 conditions" in message
        assert "/" not in message  # no server path, no SQL


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        ({f"k{i}": 1 for i in range(65)}, "MAX_FILTER_CONDITIONS"),
        ({f"k{i}": {"gte": 1, "lte": 9} for i in range(33)}, "MAX_FILTER_CONDITIONS"),
        ({"k": {"in": list(range(1001))}}, "MAX_FILTER_LIST_ITEMS"),
        ({"k": "é" * 2049}, "MAX_FILTER_STRING_BYTES"),
        ({"k": {"in": ["x" * 5000]}}, "MAX_FILTER_STRING_BYTES"),
        ({"k": {"contains": "x" * 5000}}, "MAX_FILTER_STRING_BYTES"),
        ({".".join(["a"] * 33): 1}, "MAX_FILTER_PATH_KEYS"),
        ({f"k{i}": {"in": ["x" * 4000] * 9} for i in range(2)}, "MAX_FILTER_BYTES"),
    ],
)
def test_filters_over_a_limit_are_refused(filters: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment):
        parse_filters(filters)


def test_the_largest_filter_allowed_works_on_every_store(store: VectorStore) -> None:
    store.ensure_namespace("ns", SPACE8)
    rng = np.random.default_rng(7)
    records = [
        Record(f"r{i}", rng.normal(size=8), metadata={"i": i, "s": f"v{i}", "even": i % 2 == 0})
        for i in range(40)
    ]
    store.upsert("ns", records)
    conditions: dict[str, Any] = {f"missing{n}": {"exists": False} for n in range(61)}
    conditions["i"] = {"in": list(range(0, 2000, 2))}  # 1,000 values
    wanted = [f"v{n}" for n in range(0, 40, 4)]
    padding = [f"pad{n:046d}" for n in range(989)]
    conditions["s"] = {"in": [*wanted, "w" * limits.MAX_FILTER_STRING_BYTES, *padding]}
    conditions["even"] = True
    parsed = parse_filters(conditions)
    assert len(parsed) == limits.MAX_FILTER_CONDITIONS
    found = store.search(["ns"], np.ones(8), limit=40, filters=conditions)
    expected = sorted(r.id for r in records if parsed.matches(r.metadata))
    assert sorted(m.id for m in found) == expected == sorted(f"r{n}" for n in range(0, 40, 4))
