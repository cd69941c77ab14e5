"""End to end: `same-same serve` as a real uvicorn server on 127.0.0.1, spoken to over HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from same_same.server import ServerSettings
from same_same.storage import open_store
from same_same.vectors import VectorService
from server_fixtures import fetch_json, running_app_server, running_server

# The repo's copy of the founding guide; tests/test_guide.py pins it byte-equal to ../shared/seed.
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "IMAGE_EMBEDDING_GUIDE.md"

# The request bodies of every curl call in the founding guide, byte for byte.
GUIDE_SEARCH_BODIES = [
    '{"text": "a sunset over the ocean", "limit": 5}',
    '{"text": "nature and wildlife", "limit": 10}',
    '{"text": "red dress with floral pattern", "namespace": "products", "limit": 10}',
    '{"text": "inappropriate content keywords", "namespace": "user_content"}',
    '{"text": "birthday party with cake", "namespace": "my_photos", "limit": 20}',
]
GUIDE_VECTOR_SEARCH_BODY = '{"embedding": [/* vector from image */], "limit": 5}'

# The guide's namespaces, filled with texts through the local embedder (one space, so
# searches without a namespace cover them all).
GUIDE_NAMESPACES = {
    "documents": ["wildlife of the african savanna", "nature walks in the forest"],
    "photos": ["a sunset over the ocean at the beach", "waves on the sea"],
    "products": ["red dress with floral pattern", "blue denim jacket"],
    "user_content": ["a cute kitten", "inappropriate content keywords flagged"],
    "my_photos": ["birthday party with cake and candles", "a mountain peak"],
}
JSON_HEADERS = {"Content-Type": "application/json"}


def extract_guide_curl_bodies(text: str) -> list[tuple[str, str]]:
    """``(path, body)`` of each ``curl -X POST`` in the guide."""
    calls = re.findall(r"curl -X POST http://localhost:8080(\S+) \\\n.*?-d '(.*?)'", text, re.S)
    return [(path, body) for path, body in calls]


def test_the_bodies_tested_here_are_the_guides_own() -> None:
    # ../shared is beside every checkout and CI run (see ../shared/README.md).
    calls = extract_guide_curl_bodies(GUIDE.read_text(encoding="utf-8"))
    expected = [("/api/v1/search", body) for body in GUIDE_SEARCH_BODIES]
    expected.insert(2, ("/api/v1/vectors/search", GUIDE_VECTOR_SEARCH_BODY))
    assert sorted(calls) == sorted(expected)


def fill_guide_namespaces(data_dir: Path) -> None:
    with open_store(data_dir) as store:
        service = VectorService(store)
        for namespace, texts in GUIDE_NAMESPACES.items():
            for text in texts:
                service.add_text(text, namespace=namespace)


def post_raw(base_url: str, path: str, body: str) -> tuple[int, dict]:
    status, payload = fetch_json(
        "POST", base_url + path, raw=body.encode("utf-8"), headers=JSON_HEADERS
    )
    return status, payload


def test_every_curl_call_of_the_guide_answers(tmp_path: Path) -> None:
    fill_guide_namespaces(tmp_path)
    with running_server(tmp_path) as base_url:
        answers = {}
        for body in GUIDE_SEARCH_BODIES:
            status, payload = post_raw(base_url, "/api/v1/search", body)
            assert status == 200, (body, payload)
            assert payload["results"], body
            answers[body] = payload
        everywhere = answers[GUIDE_SEARCH_BODIES[0]]
        assert everywhere["namespaces"] == sorted(GUIDE_NAMESPACES)
        assert everywhere["results"][0]["text"] == "a sunset over the ocean at the beach"
        assert len(everywhere["results"]) == 5
        products = answers[GUIDE_SEARCH_BODIES[2]]
        assert products["namespaces"] == ["products"] and products["total"] == 2
        assert products["results"][0]["text"] == "red dress with floral pattern"

        # "vector from image": the vector of a stored record, fetched from the API.
        record_id = everywhere["results"][0]["id"]
        status, record = fetch_json("GET", f"{base_url}/api/v1/vectors/{record_id}")
        assert status == 200
        vector_text = ", ".join(repr(value) for value in record["embedding"])
        body = GUIDE_VECTOR_SEARCH_BODY.replace("/* vector from image */", vector_text)
        status, payload = post_raw(base_url, "/api/v1/vectors/search", body)
        assert status == 200, payload
        assert payload["results"][0]["id"] == record_id
        assert payload["results"][0]["score"] == pytest.approx(1.0, abs=1e-5)
        assert payload["total"] == 5

        # Pasted as printed, the placeholder is not JSON: a clear 400, not a 500.
        status, payload = post_raw(base_url, "/api/v1/vectors/search", GUIDE_VECTOR_SEARCH_BODY)
        assert status == 400 and payload["error"]["code"] == "invalid_json"


def test_server_sees_records_written_by_another_process(tmp_path: Path) -> None:
    with running_server(tmp_path) as base_url:
        status, payload = fetch_json("POST", base_url + "/api/v1/search", {"text": "lighthouse"})
        assert status == 404 and payload["error"]["code"] == "not_found"
        # This test process writes while the server runs, as `same-same ingest` would.
        with open_store(tmp_path) as store:
            VectorService(store).add_text("a lighthouse in the fog", record_id="l1")
        status, payload = fetch_json("POST", base_url + "/api/v1/search", {"text": "lighthouse"})
        assert status == 200 and [r["id"] for r in payload["results"]] == ["l1"]
        with open_store(tmp_path) as store:
            VectorService(store).add_text("a lighthouse keeper at night", record_id="l2")
        status, payload = fetch_json("POST", base_url + "/api/v1/search", {"text": "lighthouse"})
        assert {r["id"] for r in payload["results"]} == {"l1", "l2"}
        assert fetch_json("GET", base_url + "/health")[1]["vectors"] == 2


@pytest.mark.parametrize("how", ["flag", "env"])
def test_api_key_from_flag_or_environment(tmp_path: Path, how: str) -> None:
    key = "k-" + how
    args = ["--api-key", key] if how == "flag" else []
    env = {"SAME_SAME_API_KEY": key} if how == "env" else {}
    with running_server(tmp_path, extra_args=args, env=env) as base_url:
        assert fetch_json("GET", base_url + "/health")[0] == 200
        status, payload = fetch_json("GET", base_url + "/api/v1/namespaces")
        assert status == 401 and payload["error"]["code"] == "unauthorized"
        bearer = {"Authorization": f"Bearer {key}"}
        assert fetch_json("GET", base_url + "/api/v1/namespaces", headers=bearer) == (
            200,
            {"namespaces": []},
        )
        status, _ = fetch_json(
            "GET", base_url + "/api/v1/vectors/count", headers={"X-API-Key": key}
        )
        assert status == 200


def test_oversized_body_is_refused_by_a_running_server(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, max_body_bytes=1024)
    with running_app_server(settings) as base_url:
        body = json.dumps({"text": "x" * 2048})
        status, payload = post_raw(base_url, "/api/v1/search", body)
        assert status == 413 and payload["error"]["code"] == "body_too_large"
        # The server carries on.
        assert fetch_json("GET", base_url + "/health")[0] == 200
