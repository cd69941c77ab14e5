"""``GET /metrics`` in-process (FastAPI's TestClient) on a real temp store: what moves after
requests and searches, by which labels, and who may read it. Scrapes are parsed with
prometheus-client's own parser, as Prometheus would read them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from conftest import run_cli
from same_same.errors import InvalidInputError
from same_same.server import ServerSettings, create_app
from same_same.storage.index_settings import MIN_VECTORS_ENV

TEXTS = {
    "q-time": "The distinction between past, present and future is an illusion",
    "q-leap": "A quantum leap in physics",
    "q-sea": "A red sunset over the ocean and the waves",
}


def make_client(tmp_path: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(ServerSettings(data_dir=tmp_path, **settings)))


def scrape(client: TestClient, **headers: str) -> list[Sample]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [
        sample
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The one sample called ``name`` whose labels include ``labels``; 0 when there is none."""
    found = [
        sample.value
        for sample in samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else 0.0


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path) as test_client:
        for record_id, text in TEXTS.items():
            body = {"id": record_id, "text": text, "namespace": "quotes"}
            assert test_client.post("/api/v1/vectors/embed", json=body).status_code == 201
        for index in range(2):
            raw = {"id": f"r/{index}", "embedding": [1.0, float(index), 0.0], "namespace": "raw"}
            assert test_client.post("/api/v1/vectors", json=raw).status_code == 201
        yield test_client


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    for record_id in ("q-time", "q-leap", "q-sea"):
        assert client.get(f"/api/v1/vectors/{record_id}?namespace=quotes").status_code == 200
    assert client.get("/api/v1/vectors/nobody?namespace=quotes").status_code == 404
    assert client.get("/no/such/page/12345").status_code == 404
    samples = scrape(client)
    record_route = "/api/v1/vectors/{record_id:path}"
    requests = "same_same_http_requests_total"
    assert value(samples, requests, method="GET", route=record_route, status="200") == 3
    assert value(samples, requests, method="GET", route=record_route, status="404") == 1
    assert value(samples, requests, method="POST", route="/api/v1/vectors/embed") == 3
    assert value(samples, requests, route="<unmatched>", status="404") == 1
    # raw paths never become labels: no record id, no unknown path
    routes = {sample.labels.get("route") for sample in samples if "route" in sample.labels}
    assert not any("q-time" in route or "12345" in route for route in routes if route)
    histogram = "same_same_http_request_duration_seconds_count"
    assert value(samples, histogram, method="GET", route=record_route, status="200") == 3
    bucket = "same_same_http_request_duration_seconds_bucket"
    assert value(samples, bucket, route=record_route, status="200", le="+Inf") == 3


def test_searches_are_timed_by_mode_and_kind(client: TestClient) -> None:
    for mode in ("vector", "keyword", "hybrid", "keyword"):
        body = {"text": "quantum physics", "namespace": "quotes", "mode": mode}
        assert client.post("/api/v1/search", json=body).status_code == 200
    vector = {"embedding": [1.0, 0.0, 0.0], "namespace": "raw"}
    assert client.post("/api/v1/vectors/search", json=vector).status_code == 200
    by_id = {"id": "r/0", "namespace": "raw"}
    assert client.post("/api/v1/search/image", json=by_id).status_code == 200
    refused = {"text": "x", "namespace": "no-such-namespace"}
    assert client.post("/api/v1/search", json=refused).status_code == 404

    samples = scrape(client)
    searches = "same_same_search_duration_seconds_count"
    assert value(samples, searches, mode="vector", kind="text") == 1
    assert value(samples, searches, mode="keyword", kind="text") == 2
    assert value(samples, searches, mode="hybrid", kind="text") == 1
    assert value(samples, searches, mode="vector", kind="vector") == 1
    assert value(samples, searches, mode="vector", kind="record") == 1
    total = sum(sample.value for sample in samples if sample.name == searches)
    assert total == 6  # the refused search is counted as a request (404), not as a search
    assert value(samples, "same_same_search_duration_seconds_sum", mode="hybrid") >= 0


def test_vectors_per_namespace_equal_the_counts(client: TestClient) -> None:
    assert client.delete("/api/v1/vectors/q-sea?namespace=quotes").status_code in (200, 204)
    samples = scrape(client)
    counts = {
        name: client.get(f"/api/v1/vectors/count?namespace={name}").json()["count"]
        for name in ("quotes", "raw")
    }
    assert counts == {"quotes": 2, "raw": 2}
    for name, count in counts.items():
        assert value(samples, "same_same_vectors", namespace=name) == count
    assert value(samples, "same_same_store_up") == 1


def test_model_load_time_and_process_memory_are_reported(client: TestClient) -> None:
    samples = scrape(client)
    loads = [sample for sample in samples if sample.name == "same_same_model_load_seconds"]
    assert loads, "the embedder that made the quotes' vectors was loaded"
    assert all(sample.value >= 0 for sample in loads)
    assert {sample.labels["use"] for sample in loads} <= {"query", "write-fp32", "write-int8"}
    assert value(samples, "process_resident_memory_bytes") > 0
    info = [sample for sample in samples if sample.name == "same_same_server_info"]
    assert len(info) == 1 and info[0].labels["pid"].isdigit()
    # one process: no worker label anywhere
    assert not any("worker" in sample.labels for sample in samples)


def test_index_size_and_last_save_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MIN_VECTORS_ENV, "8")
    vectors = np.random.default_rng(3).normal(size=(12, 8))
    with make_client(tmp_path) as client:
        for index, vector in enumerate(vectors):
            body = {"id": f"v{index}", "embedding": vector.tolist(), "namespace": "big"}
            assert client.post("/api/v1/vectors", json=body).status_code == 201
        search = {"embedding": vectors[0].tolist(), "namespace": "big"}
        assert client.post("/api/v1/vectors/search", json=search).status_code == 200
        client.app.state.store.save_indexes()
        samples = scrape(client)
    assert value(samples, "same_same_index_vectors", namespace="big") == 12
    assert value(samples, "same_same_index_saved_bytes", namespace="big") > 0
    assert value(samples, "same_same_index_last_save_timestamp_seconds", namespace="big") > 0


def test_two_apps_in_one_process_count_apart(tmp_path: Path) -> None:
    with make_client(tmp_path / "a") as first, make_client(tmp_path / "b") as second:
        for _ in range(3):
            first.get("/health")
        second.get("/health")
        requests = "same_same_http_requests_total"
        assert value(scrape(first), requests, route="/health") == 3
        assert value(scrape(second), requests, route="/health") == 1


def test_metrics_are_open_by_default_even_with_an_api_key(tmp_path: Path) -> None:
    with make_client(tmp_path, api_key="s3cret") as client:
        assert client.get("/api/v1/namespaces").status_code == 401
        assert client.get("/metrics").status_code == 200
        samples = scrape(client)
    # the refusal is counted under the route that would have answered
    refused = value(
        samples, "same_same_http_requests_total", route="/api/v1/namespaces", status="401"
    )
    assert refused == 1


def test_metrics_auth_asks_for_the_key(tmp_path: Path) -> None:
    with make_client(tmp_path, api_key="s3cret", metrics_require_key=True) as client:
        missing = client.get("/metrics")
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "unauthorized"
        assert client.get("/metrics", headers={"X-API-Key": "nope"}).status_code == 401
        assert scrape(client, Authorization="Bearer s3cret")
        assert client.get("/health").status_code == 200  # /health stays open


def test_metrics_auth_without_a_key_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="--metrics-auth"):
        create_app(ServerSettings(data_dir=tmp_path, metrics_require_key=True))
    done = run_cli("serve", "--metrics-auth", "--addr", "127.0.0.1:1", data_dir=tmp_path, env={})
    assert done.returncode != 0
    assert "--metrics-auth" in done.stderr
    assert "Traceback" not in done.stderr


def test_metrics_are_not_part_of_the_json_api(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]
