"""What only the Milvus store has: its URL, an outage and the recovery after it, its
limits, and its index path on more vectors than the contract suite uses. The shared
contract (tests/test_store_contract.py) runs against it too."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from milvus_fixtures import drop_scope, milvus_spec
from same_same.errors import InvalidInputError, StoreUnavailableError
from same_same.records import Record
from same_same.server import ServerSettings, create_app
from same_same.storage import open_store
from same_same.storage.milvus import MilvusStore, parse_milvus_url
from store_fixtures import CLUSTERED_SPACE, brute_force, clustered, make_records
from tcp_relay import Relay

pytest.importorskip("pymilvus", reason="needs the [milvus] extra")


@pytest.fixture
def spec(milvus_address: str, tmp_path: Path) -> Iterator[str]:
    made = milvus_spec(milvus_address, tmp_path)
    yield made
    drop_scope(made)


# -- the URL ------------------------------------------------------------------------


def test_urls_name_server_credentials_database_and_index() -> None:
    location = parse_milvus_url(
        "milvus+tls://alice:s%40cret@db.example.com:19540/prod"
        "?index=ivf_flat&nlist=256&nprobe=8&consistency=bounded&prefix=shop&timeout=3",
        environ={},
    )
    assert (location.uri, location.display) == (
        "https://db.example.com:19540",
        "db.example.com:19540",
    )
    assert (location.token, location.database, location.prefix) == ("alice:s@cret", "prod", "shop")
    assert (location.index_type, location.build_params()) == ("IVF_FLAT", {"nlist": 256})
    assert location.search_params == {"nprobe": 8}
    assert (location.consistency, location.timeout) == ("Bounded", 3)
    plain = parse_milvus_url("milvus://10.0.0.5", environ={"SAME_SAME_MILVUS_TOKEN": "key"})
    assert (plain.uri, plain.token, plain.index_type) == ("http://10.0.0.5:19530", "key", "HNSW")
    assert plain.build_params() == {"M": 32, "efConstruction": 160}


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("milvus://h:99999", "port"),
        ("milvus://:19530", "host"),
        ("http://h:19530", "scheme"),
        ("milvus://h:1/?index=ANNOY", "unknown index"),
        ("milvus://h:1/?consistency=sometimes", "consistency"),
        ("milvus://h:1/?ef=-3", "ef must be"),
        ("milvus://h:1/?colour=blue", "unknown option"),
        ("milvus://h:1/?prefix=9lives", "prefix"),
        ("milvus://h:1/a/b", "database"),
    ],
)
def test_bad_urls_are_one_clear_error(url: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment) as caught:
        parse_milvus_url(url, environ={})
    assert "\n" not in str(caught.value)


def test_credentials_never_appear_in_errors() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_milvus_url("milvus://bob:hunter2@h:1/?colour=blue", environ={})
    assert "hunter2" not in str(caught.value) and "bob" not in str(caught.value)


# -- an outage ----------------------------------------------------------------------


def test_an_unreachable_server_is_one_line_naming_it() -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        MilvusStore("milvus://127.0.0.1:9/?timeout=2")
    message = str(caught.value)
    assert message.startswith("cannot reach Milvus at 127.0.0.1:9: ") and "\n" not in message


def _wait_for(check: Any, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result is not None or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_the_api_answers_503_while_milvus_is_away_and_recovers(
    milvus_address: str, tmp_path: Path
) -> None:
    host, port = milvus_address.rsplit(":", 1)
    relay = Relay(host, int(port))
    spec = milvus_spec(f"127.0.0.1:{relay.port}", tmp_path, timeout=3)
    try:
        app = create_app(ServerSettings(data_dir=tmp_path, store=spec))
        with TestClient(app, raise_server_exceptions=False) as client:
            record = {"id": "a", "embedding": [1.0, 0.0, 0.0], "namespace": "raw"}
            assert client.post("/api/v1/vectors", json=record).status_code == 201
            query = {"embedding": [1.0, 0.1, 0.0], "namespace": "raw", "limit": 1}
            before = client.post("/api/v1/vectors/search", json=query)
            assert before.status_code == 200, before.text

            relay.cut()
            for method, path, body in [
                ("post", "/api/v1/vectors/search", query),
                ("get", "/api/v1/vectors/a", None),
                ("get", "/api/v1/namespaces", None),
            ]:
                response = client.request(method.upper(), path, json=body)
                assert response.status_code == 503, response.text
                error = response.json()["error"]
                assert error["code"] == "store_unavailable"
                assert error["message"].startswith(f"cannot reach Milvus at 127.0.0.1:{relay.port}")

            relay.restore()

            def answered() -> Any:
                response = client.post("/api/v1/vectors/search", json=query)
                return response if response.status_code == 200 else None

            after = _wait_for(answered)
            assert after is not None, "the server did not recover after Milvus came back"
            assert after.json()["results"] == before.json()["results"]
    finally:
        relay.cut()
        drop_scope(milvus_spec(milvus_address, tmp_path))


# -- limits -------------------------------------------------------------------------


def test_what_milvus_cannot_hold_is_refused_before_anything_is_written(spec: str) -> None:
    with open_store(Path("."), spec) as store:
        store.ensure_namespace("ns", CLUSTERED_SPACE)
        vector = np.ones(CLUSTERED_SPACE.dim)
        fine = Record("fine", vector, text="x" * 1000)
        for bad, fragment in [
            (Record("long", vector, text="é" * 40_000), "text is 80,000 bytes"),
            (Record("meta", vector, metadata={"blob": "x" * 70_000}), "metadata"),
            (Record("i" * 70_000, vector), "id is"),
        ]:
            with pytest.raises(InvalidInputError, match=fragment):
                store.upsert("ns", [fine, bad])
        assert store.count("ns") == 0  # the good record of each batch was not written either
        store.upsert("ns", [fine])
        assert store.get("fine", "ns")[1].text == fine.text


def test_text_and_hashes_keep_empty_apart_from_absent(spec: str) -> None:
    with open_store(Path("."), spec) as store:
        store.ensure_namespace("ns", CLUSTERED_SPACE)
        vector = np.ones(CLUSTERED_SPACE.dim)
        store.upsert("ns", [Record("e", vector, text="", content_hash=""), Record("n", vector)])
        assert (store.get("e", "ns")[1].text, store.get("e", "ns")[1].content_hash) == ("", "")
        assert (store.get("n", "ns")[1].text, store.get("n", "ns")[1].content_hash) == (None, None)
        assert set(store.find_vectors_by_hash("ns", ["", "x"])) == {""}


# -- the index path on more vectors -------------------------------------------------


def test_index_search_on_thousands_of_vectors_keeps_recall_filters_and_exact_mode(
    spec: str,
) -> None:
    ids, vectors = clustered(6000, seed=3)
    records = make_records(ids, vectors)
    with open_store(Path("."), spec) as store:
        store.ensure_namespace("ns", CLUSTERED_SPACE)
        for start in range(0, len(records), 1000):
            store.upsert("ns", records[start : start + 1000])
        rng = np.random.default_rng(5)
        recalls, filtered_recalls = [], []
        for _ in range(10):
            query = vectors[rng.integers(len(vectors))] + 0.3 * rng.standard_normal(
                vectors.shape[1]
            )
            truth = [key for key, _ in brute_force(ids, vectors, query, 10)]
            got = [m.id for m in store.search(["ns"], query, limit=10)]
            recalls.append(len(set(got) & set(truth)) / 10)
            exact = store.search(["ns"], query, limit=10, exact=True)
            assert [m.id for m in exact] == truth
            # a selective filter (1 record in 100) is applied before the top k: a full page
            # of matching records, best first, close to the exact answer
            keep = [i for i, rid in enumerate(ids) if records[i].metadata["p"] == 7]
            wanted = [
                key for key, _ in brute_force([ids[i] for i in keep], vectors[keep], query, 10)
            ]
            filtered = store.search(["ns"], query, limit=10, filters={"p": 7})
            assert len(filtered) == 10 and all(m.metadata["p"] == 7 for m in filtered)
            assert [m.score for m in filtered] == sorted((m.score for m in filtered), reverse=True)
            filtered_recalls.append(len({m.id for m in filtered} & set(wanted)) / 10)
        assert np.mean(recalls) >= 0.9 and np.mean(filtered_recalls) >= 0.8


def test_closing_one_store_leaves_another_on_the_same_server_working(spec: str) -> None:
    with open_store(Path("."), spec) as first:
        first.ensure_namespace("ns", CLUSTERED_SPACE)
        first.upsert("ns", [Record("a", np.ones(CLUSTERED_SPACE.dim))])
        open_store(Path("."), spec).close()
        assert first.count("ns") == 1


def test_keyword_search_is_refused_as_unsupported(spec: str, tmp_path: Path) -> None:
    from same_same.errors import UnsupportedOperationError

    with open_store(tmp_path, spec) as store:
        store.ensure_namespace("texts", CLUSTERED_SPACE)
        with pytest.raises(UnsupportedOperationError) as caught:
            store.keyword_search(["texts"], "sunset")
    assert caught.value.status == 501 and "Milvus" in caught.value.message
