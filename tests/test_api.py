"""The HTTP API in-process (FastAPI's TestClient): every route, and every error in one shape."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from same_same import __version__
from same_same.errors import InvalidInputError
from same_same.records import EmbeddingSpace, Record
from same_same.server import ServerSettings, create_app, parse_addr

MAX_BODY = 64 * 1024

QUOTES = [
    ("q-time", "The distinction between past, present and future is an illusion", "Einstein"),
    ("q-leap", "A quantum leap in physics", "Bohr"),
    ("q-sea", "A red sunset over the ocean and the waves", "Monet"),
    ("q-cat", "A cat sleeping on a warm sofa", "Nobody"),
]


# every test runs on the embedded store and on Milvus (milvus_fixtures.every_store)
pytestmark = pytest.mark.usefixtures("every_store")


def make_client(tmp_path: Path, **settings: Any) -> TestClient:
    app = create_app(ServerSettings(data_dir=tmp_path, max_body_bytes=MAX_BODY, **settings))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path) as test_client:
        for record_id, text, author in QUOTES:
            response = test_client.post(
                "/api/v1/vectors/embed",
                json={"id": record_id, "text": text, "author": author, "namespace": "quotes"},
            )
            assert response.status_code == 201, response.text
        raw = {"id": "r/1", "embedding": [1.0, 0.0, 0.0], "namespace": "raw"}
        assert test_client.post("/api/v1/vectors", json=raw).status_code == 201
        yield test_client


def png_bytes() -> bytes:
    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (16, 16), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def assert_error(response: Any, status: int, code: str, fragment: str = "") -> dict[str, Any]:
    """The one error shape: exactly these keys, no traceback, JSON content type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "hint"}
    assert error["status"] == status
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert error["hint"] is None or isinstance(error["hint"], str)
    assert fragment in error["message"], error["message"]
    assert "Traceback" not in response.text
    return error


# -- health, namespaces, docs ------------------------------------------------


def test_health_counts_every_vector(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "version": __version__, "vectors": 5}


def test_namespaces_list_their_space_and_can_be_deleted(client: TestClient) -> None:
    listed = client.get("/api/v1/namespaces").json()["namespaces"]
    assert listed == [
        {
            "name": "quotes",
            "count": 4,
            "space": {"embedder": "local", "model": "hashing-v1", "pretrained": "", "dim": 512},
            "writers": [],  # only embedders with several backends name theirs
        },
        {
            "name": "raw",
            "count": 1,
            "space": {"embedder": "external", "model": "custom", "pretrained": "", "dim": 3},
            "writers": [],
        },
    ]
    assert client.delete("/api/v1/namespaces/raw").json() == {"deleted": "raw"}
    assert [ns["name"] for ns in client.get("/api/v1/namespaces").json()["namespaces"]] == [
        "quotes"
    ]


def test_openapi_documents_every_route_with_its_request_model(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, methods in {
        "/health": {"get"},
        "/api/v1/search": {"post"},
        "/api/v1/search/image": {"post"},
        "/api/v1/vectors": {"get", "post"},
        "/api/v1/vectors/count": {"get"},
        "/api/v1/vectors/search": {"post"},
        "/api/v1/vectors/embed": {"post"},
        "/api/v1/vectors/{record_id}": {"get", "put", "delete"},
        "/api/v1/namespaces": {"get"},
        "/api/v1/namespaces/{name}": {"delete"},
    }.items():
        assert methods <= set(paths[path]), path
    schemas = spec["components"]["schemas"]
    assert {"SearchRequest", "VectorSearchRequest", "EmbedRequest"} <= set(schemas)
    image_body = paths["/api/v1/search/image"]["post"]["requestBody"]["content"]
    assert set(image_body["application/json"]["schema"]["properties"]) >= {"image", "id"}
    assert "file" in image_body["multipart/form-data"]["schema"]["properties"]
    assert client.get("/docs").status_code == 200


# -- text search -------------------------------------------------------------


def test_seed_form_and_advanced_form_give_the_same_results(client: TestClient) -> None:
    seed = client.post("/api/v1/search", json={"text": "sunset ocean", "limit": 2}).json()
    advanced = client.post("/api/v1/search", json={"query": "sunset ocean", "top_k": 2}).json()
    assert set(seed) == {
        *("results", "total", "namespaces", "took_ms"),
        *("mode", "no_good_match", "best_score", "best_relevance"),
    }
    assert seed["mode"] == "vector" and seed["no_good_match"] is False
    assert seed["best_score"] == seed["results"][0]["score"]
    assert seed["results"] == advanced["results"]
    assert seed["total"] == 2 and seed["namespaces"] == ["quotes"]
    top = seed["results"][0]
    assert set(top) == {"id", "score", "namespace", "metadata", "text", "relevance"}
    assert 0.0 <= top["relevance"] <= 1.0
    assert top["id"] == "q-sea" and top["namespace"] == "quotes"
    assert top["metadata"]["author"] == "Monet"
    assert isinstance(top["score"], float) and isinstance(seed["took_ms"], float)


def test_advanced_form_with_filters_and_hybrid_weights(client: TestClient) -> None:
    body = {
        "query": "time and space",
        "top_k": 5,
        "filters": {"author": {"in": ["Einstein", "Bohr"]}},
        "options": {"hybrid_weight": {"vector": 0.8, "metadata": 0.2}},
    }
    results = client.post("/api/v1/search", json=body).json()["results"]
    assert {r["id"] for r in results} == {"q-time", "q-leap"}
    seed_with_filters = {"text": "cat", "namespace": "quotes", "filters": {"author": "Nobody"}}
    results = client.post("/api/v1/search", json=seed_with_filters).json()["results"]
    assert [r["id"] for r in results] == ["q-cat"]


def test_text_search_leaves_raw_vector_results_without_text(client: TestClient) -> None:
    result = client.post("/api/v1/vectors/search", json={"embedding": [0.9, 0.1, 0.0]}).json()
    assert result["results"][0]["id"] == "r/1"
    assert "text" not in result["results"][0]


# -- vectors -----------------------------------------------------------------


def test_vector_crud_round_trip(client: TestClient) -> None:
    created = client.post(
        "/api/v1/vectors",
        json={"id": "v1", "embedding": [0.0, 3.0, 4.0], "metadata": {"k": "a"}, "namespace": "raw"},
    )
    assert created.status_code == 201
    assert created.json() == {
        "id": "v1",
        "namespace": "raw",
        "metadata": {"k": "a", "namespace": "raw"},  # stamped, as ingested records are
        "embedding": pytest.approx([0.0, 0.6, 0.8]),
    }
    fetched = client.get("/api/v1/vectors/v1").json()
    assert fetched["embedding"] == pytest.approx([0.0, 0.6, 0.8])
    assert "embedding" not in client.get("/api/v1/vectors/v1?include_embedding=false").json()
    updated = client.put(
        "/api/v1/vectors/v1?namespace=raw", json={"metadata": {"k": "b"}, "text": "note"}
    ).json()
    assert updated["metadata"] == {"k": "b", "namespace": "raw"} and updated["text"] == "note"
    assert updated["embedding"] == pytest.approx([0.0, 0.6, 0.8])  # raw space: no re-embedding
    assert client.get("/api/v1/vectors/count?namespace=raw").json() == {"count": 2}
    assert client.delete("/api/v1/vectors/v1").json() == {"deleted": "v1", "namespace": "raw"}
    assert_error(client.get("/api/v1/vectors/v1"), 404, "record_not_found", "v1")
    assert client.get("/api/v1/vectors/count").json() == {"count": 5}


def test_created_vector_without_id_or_namespace(tmp_path: Path) -> None:
    with make_client(tmp_path) as fresh:
        created = fresh.post("/api/v1/vectors", json={"embedding": [1.0, 2.0]}).json()
        assert created["namespace"] == "default" and len(created["id"]) == 32
        space = fresh.get("/api/v1/namespaces").json()["namespaces"][0]["space"]
        assert space == {"embedder": "external", "model": "custom", "pretrained": "", "dim": 2}


def test_embed_stores_extra_fields_as_metadata(tmp_path: Path) -> None:
    with make_client(tmp_path) as fresh:
        response = fresh.post(
            "/api/v1/vectors/embed", json={"text": "Time is relative", "author": "Einstein"}
        )
        assert response.status_code == 201
        record = response.json()
        assert record["namespace"] == "default" and record["text"] == "Time is relative"
        assert record["metadata"] == {"author": "Einstein", "type": "text", "namespace": "default"}
        assert len(record["embedding"]) == 512
        hits = fresh.post("/api/v1/search", json={"text": "relative time"}).json()["results"]
        assert hits[0]["id"] == record["id"]


def test_list_pages_through_every_namespace(client: TestClient) -> None:
    first = client.get("/api/v1/vectors?limit=3").json()
    assert [v["id"] for v in first["vectors"]] == ["q-cat", "q-leap", "q-sea"]
    assert (first["total"], first["offset"], first["limit"], first["next_offset"]) == (5, 0, 3, 3)
    assert "embedding" not in first["vectors"][0]
    second = client.get("/api/v1/vectors?limit=3&offset=3&include_embedding=true").json()
    assert [(v["namespace"], v["id"]) for v in second["vectors"]] == [
        ("quotes", "q-time"),
        ("raw", "r/1"),
    ]
    assert second["next_offset"] is None and len(second["vectors"][1]["embedding"]) == 3
    only_raw = client.get("/api/v1/vectors?namespace=raw").json()
    assert [v["id"] for v in only_raw["vectors"]] == ["r/1"] and only_raw["total"] == 1


def test_ids_with_slashes_are_addressable(client: TestClient) -> None:
    assert client.get("/api/v1/vectors/r/1").json()["id"] == "r/1"
    assert client.get("/api/v1/vectors/r%2F1").json()["id"] == "r/1"


def test_vector_search_with_a_vector_taken_from_a_stored_record(client: TestClient) -> None:
    vector = client.get("/api/v1/vectors/q-cat").json()["embedding"]
    result = client.post("/api/v1/vectors/search", json={"embedding": vector, "limit": 2}).json()
    assert result["results"][0]["id"] == "q-cat"
    assert result["results"][0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert result["namespaces"] == ["quotes"] and result["total"] == 2
    excluded = client.post(
        "/api/v1/vectors/search", json={"embedding": vector, "exclude_ids": ["q-cat"]}
    ).json()
    assert "q-cat" not in [r["id"] for r in excluded["results"]]


# -- image search ------------------------------------------------------------


def test_image_search_by_id_leaves_the_record_out(client: TestClient) -> None:
    result = client.post("/api/v1/search/image", json={"id": "q-sea", "limit": 3}).json()
    assert len(result["results"]) == 3
    assert "q-sea" not in [r["id"] for r in result["results"]]
    assert result["namespaces"] == ["quotes"]


def test_image_upload_reaches_the_namespace_model(client: TestClient) -> None:
    # The local model embeds text only: a valid image gets as far as the embedder.
    files = {"file": ("blue.png", png_bytes(), "image/png")}
    response = client.post("/api/v1/search/image", files=files, data={"namespace": "quotes"})
    assert_error(response, 400, "unsupported_modality")
    encoded = base64.b64encode(png_bytes()).decode()
    for image in (encoded, "data:image/png;base64," + encoded):
        response = client.post("/api/v1/search/image", json={"image": image, "namespace": "quotes"})
        assert_error(response, 400, "unsupported_modality")


# -- errors: one shape for all -----------------------------------------------

JSON = {"content-type": "application/json"}

ERROR_CASES: list[tuple[str, str, str, dict[str, Any], int, str, str]] = [
    # (case, method, path, request kwargs, status, code, message fragment)
    (
        "malformed json",
        "POST",
        "/api/v1/search",
        {"content": b'{"text": ', "headers": JSON},
        400,
        "invalid_json",
        "malformed JSON",
    ),
    (
        "NaN literal",
        "POST",
        "/api/v1/search",
        {"content": b'{"text": "x", "limit": NaN}', "headers": JSON},
        400,
        "invalid_json",
        "NaN",
    ),
    (
        "Infinity in vector",
        "POST",
        "/api/v1/vectors/search",
        {"content": b'{"embedding": [1, Infinity, 0]}', "headers": JSON},
        400,
        "invalid_json",
        "Infinity",
    ),
    (
        "overflowing number",
        "POST",
        "/api/v1/vectors",
        {"content": b'{"embedding": [1e999, 0, 0]}', "headers": JSON},
        400,
        "invalid_json",
        "1e999",
    ),
    (
        "NaN in metadata",
        "POST",
        "/api/v1/vectors",
        {"content": b'{"embedding": [1, 0, 0], "metadata": {"x": -Infinity}}', "headers": JSON},
        400,
        "invalid_json",
        "-Infinity",
    ),
    (
        "not utf-8",
        "POST",
        "/api/v1/search",
        {"content": b'{"text": "\xff"}', "headers": JSON},
        400,
        "invalid_json",
        "UTF-8",
    ),
    (
        "lone surrogate escape",
        "POST",
        "/api/v1/search",
        {"content": b'{"text": "\\ud800"}', "headers": JSON},
        400,
        "invalid_json",
        "surrogate",
    ),
    (
        "nested too deeply",
        "POST",
        "/api/v1/vectors",
        {
            "content": b'{"embedding": [1], "metadata": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
            "headers": JSON,
        },
        400,
        "invalid_json",
        "nested too deeply",
    ),
    (
        "overflow beside a long integer",
        "POST",
        "/api/v1/vectors",
        {
            "content": b'{"embedding": [1e999, 0], "metadata": {"n": 12345678901234567890123}}',
            "headers": JSON,
        },
        400,
        "invalid_json",
        "1e999",
    ),
    (
        "body is an array",
        "POST",
        "/api/v1/search",
        {"json": ["text"]},
        400,
        "invalid_input",
        "request body",
    ),
    ("empty body", "POST", "/api/v1/search", {"headers": JSON}, 400, "invalid_input", "missing"),
    (
        "no content type",
        "POST",
        "/api/v1/search",
        {"content": b'{"text": "x"}'},
        400,
        "invalid_input",
        "request body",
    ),
    (
        "limit is a string",
        "POST",
        "/api/v1/search",
        {"json": {"text": "x", "limit": "5"}},
        400,
        "invalid_input",
        "limit",
    ),
    (
        "text is a number",
        "POST",
        "/api/v1/search",
        {"json": {"text": 5}},
        400,
        "invalid_input",
        "text",
    ),
    (
        "limit too small",
        "POST",
        "/api/v1/search",
        {"json": {"text": "x", "limit": 0}},
        400,
        "invalid_input",
        "limit",
    ),
    (
        "top_k too large",
        "POST",
        "/api/v1/search",
        {"json": {"query": "x", "top_k": 1001}},
        400,
        "invalid_input",
        "top_k",
    ),
    (
        "limit and top_k",
        "POST",
        "/api/v1/search",
        {"json": {"text": "x", "limit": 2, "top_k": 3}},
        400,
        "invalid_input",
        "not both",
    ),
    (
        "text and query",
        "POST",
        "/api/v1/search",
        {"json": {"text": "x", "query": "y"}},
        400,
        "invalid_input",
        "not both",
    ),
    ("no text", "POST", "/api/v1/search", {"json": {"limit": 3}}, 400, "invalid_input", "text"),
    (
        "blank text",
        "POST",
        "/api/v1/search",
        {"json": {"text": "  "}},
        400,
        "invalid_input",
        "empty",
    ),
    (
        "misspelt field",
        "POST",
        "/api/v1/search",
        {"json": {"text": "x", "lmit": 3}},
        400,
        "invalid_input",
        "lmit",
    ),
    (
        "bad filter operator",
        "POST",
        "/api/v1/search",
        {"json": {"text": "x", "filters": {"year": {"greater": 1}}}},
        400,
        "invalid_input",
        "unknown operator",
    ),
    (
        "filters not an object",
        "POST",
        "/api/v1/search",
        {"json": {"text": "x", "filters": [1]}},
        400,
        "invalid_input",
        "filters",
    ),
    (
        "negative hybrid weight",
        "POST",
        "/api/v1/search",
        {"json": {"text": "x", "options": {"hybrid_weight": {"vector": -1}}}},
        400,
        "invalid_input",
        "hybrid_weight",
    ),
    (
        "unknown hybrid key",
        "POST",
        "/api/v1/search",
        {"json": {"text": "x", "options": {"hybrid_weight": {"vectr": 1}}}},
        400,
        "invalid_input",
        "vectr",
    ),
    (
        "unknown namespace",
        "POST",
        "/api/v1/search",
        {"json": {"text": "x", "namespace": "nope"}},
        404,
        "namespace_not_found",
        "existing: quotes, raw",
    ),
    (
        "text query on raw vectors",
        "POST",
        "/api/v1/search",
        {"json": {"text": "x", "namespace": "raw"}},
        400,
        "invalid_input",
        "raw embeddings",
    ),
    (
        "wrong dimension",
        "POST",
        "/api/v1/vectors/search",
        {"json": {"embedding": [1.0, 2.0]}},
        400,
        "invalid_input",
        "dim 2",
    ),
    (
        "wrong dimension for namespace",
        "POST",
        "/api/v1/vectors/search",
        {"json": {"embedding": [1.0, 2.0], "namespace": "raw"}},
        400,
        "invalid_input",
        "dim 3",
    ),
    (
        "vector of strings",
        "POST",
        "/api/v1/vectors/search",
        {"json": {"embedding": ["a"]}},
        400,
        "invalid_input",
        "embedding",
    ),
    (
        "empty vector",
        "POST",
        "/api/v1/vectors",
        {"json": {"embedding": []}},
        400,
        "invalid_input",
        "empty",
    ),
    (
        "zero vector",
        "POST",
        "/api/v1/vectors/search",
        {"json": {"embedding": [0, 0, 0]}},
        400,
        "invalid_input",
        "zeros",
    ),
    (
        "vector into a namespace of another dim",
        "POST",
        "/api/v1/vectors",
        {"json": {"embedding": [1.0, 2.0], "namespace": "raw"}},
        400,
        "invalid_input",
        "dim 3",
    ),
    (
        "namespace name with a newline",
        "POST",
        "/api/v1/vectors",
        {"json": {"embedding": [1.0], "namespace": "a\nb"}},
        400,
        "invalid_input",
        "namespace",
    ),
    (
        "embed without text",
        "POST",
        "/api/v1/vectors/embed",
        {"json": {"author": "x"}},
        400,
        "invalid_input",
        "text",
    ),
    (
        "embed into raw vectors",
        "POST",
        "/api/v1/vectors/embed",
        {"json": {"text": "x", "namespace": "raw"}},
        400,
        "invalid_input",
        "raw embeddings",
    ),
    ("unknown record", "GET", "/api/v1/vectors/nope", {}, 404, "record_not_found", "nope"),
    (
        "unknown record update",
        "PUT",
        "/api/v1/vectors/nope",
        {"json": {"metadata": {}}},
        404,
        "record_not_found",
        "nope",
    ),
    (
        "unknown record delete",
        "DELETE",
        "/api/v1/vectors/nope",
        {},
        404,
        "record_not_found",
        "nope",
    ),
    (
        "record in unknown namespace",
        "GET",
        "/api/v1/vectors/q-cat?namespace=zz",
        {},
        404,
        "namespace_not_found",
        "zz",
    ),
    (
        "count of unknown namespace",
        "GET",
        "/api/v1/vectors/count?namespace=zz",
        {},
        404,
        "namespace_not_found",
        "zz",
    ),
    (
        "delete unknown namespace",
        "DELETE",
        "/api/v1/namespaces/zz",
        {},
        404,
        "namespace_not_found",
        "zz",
    ),
    ("page limit 0", "GET", "/api/v1/vectors?limit=0", {}, 400, "invalid_input", "limit"),
    ("negative offset", "GET", "/api/v1/vectors?offset=-1", {}, 400, "invalid_input", "offset"),
    (
        "offset not a number",
        "GET",
        "/api/v1/vectors?offset=abc",
        {},
        400,
        "invalid_input",
        "offset",
    ),
    (
        "bad base64",
        "POST",
        "/api/v1/search/image",
        {"json": {"image": "@@@"}},
        400,
        "invalid_input",
        "base64",
    ),
    (
        "not an image",
        "POST",
        "/api/v1/search/image",
        {"json": {"image": base64.b64encode(b"hello").decode()}},
        400,
        "image_decode_error",
        "",
    ),
    (
        "upload not an image",
        "POST",
        "/api/v1/search/image",
        {"files": {"file": ("x.png", b"hello", "image/png")}},
        400,
        "image_decode_error",
        "",
    ),
    (
        "upload without file field",
        "POST",
        "/api/v1/search/image",
        {"files": {"image": ("x.png", b"hello", "image/png")}},
        400,
        "invalid_input",
        "'file'",
    ),
    (
        "upload with bad limit",
        "POST",
        "/api/v1/search/image",
        {"files": {"file": ("x.png", b"hello", "image/png")}, "data": {"limit": "many"}},
        400,
        "invalid_input",
        "limit",
    ),
    (
        "image and id",
        "POST",
        "/api/v1/search/image",
        {"json": {"image": "aGk=", "id": "q-cat"}},
        400,
        "invalid_input",
        "exactly one",
    ),
    (
        "neither image nor id",
        "POST",
        "/api/v1/search/image",
        {"json": {"limit": 3}},
        400,
        "invalid_input",
        "exactly one",
    ),
    (
        "image search by unknown id",
        "POST",
        "/api/v1/search/image",
        {"json": {"id": "nope"}},
        404,
        "record_not_found",
        "nope",
    ),
    (
        "image search as plain text",
        "POST",
        "/api/v1/search/image",
        {"content": b"xx", "headers": {"content-type": "text/plain"}},
        415,
        "unsupported_media_type",
        "text/plain",
    ),
    ("unknown route", "GET", "/api/v1/nothing", {}, 404, "not_found", "/api/v1/nothing"),
    ("wrong method", "DELETE", "/health", {}, 405, "method_not_allowed", "DELETE"),
    ("wrong method on search", "GET", "/api/v1/search", {}, 405, "method_not_allowed", "GET"),
    (
        "declared body too large",
        "POST",
        "/api/v1/search",
        {"content": b"x" * (MAX_BODY + 1), "headers": JSON},
        413,
        "body_too_large",
        str(MAX_BODY),
    ),
]


@pytest.mark.parametrize(
    "method, path, kwargs, status, code, fragment",
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_bad_requests_get_one_error_shape(
    client: TestClient,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    code: str,
    fragment: str,
) -> None:
    assert_error(client.request(method, path, **kwargs), status, code, fragment)


def test_integers_beyond_64_bits_round_trip_exactly(client: TestClient) -> None:
    big, negative = 2**70 + 1, -(2**63) - 1
    body = {"id": "big", "embedding": [0.6, 0.8], "metadata": {"n": big, "m": negative}}
    assert client.post("/api/v1/vectors", json=body).status_code == 201
    found = client.post("/api/v1/vectors/search", json={"embedding": [0.6, 0.8]}).json()
    metadata = found["results"][0]["metadata"]
    assert (metadata["n"], metadata["m"]) == (big, negative)
    assert client.get("/api/v1/vectors/big").json()["metadata"]["n"] == big


def test_streamed_body_over_the_limit_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b" " * (MAX_BODY // 4)

    # A generator body is sent chunked, without Content-Length.
    response = client.post("/api/v1/search", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "body_too_large")


def test_unexpected_failure_is_a_500_without_traceback(client: TestClient) -> None:
    class Broken:
        def search_text(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("secret internal detail")

    # A stand-in service that fails the way a bug would; nothing real can be made to.
    client.app.state.search_service = Broken()  # type: ignore[attr-defined]
    response = client.post("/api/v1/search", json={"text": "x"})
    error = assert_error(response, 500, "internal_error")
    assert "secret" not in response.text and "RuntimeError" not in error["message"]


# -- API key -----------------------------------------------------------------


def test_api_key_guards_the_api_but_not_health_docs_or_page(tmp_path: Path) -> None:
    with make_client(tmp_path, api_key="s3cret") as guarded:
        search = {"text": "x"}
        missing = assert_error(guarded.post("/api/v1/search", json=search), 401, "unauthorized")
        assert missing["message"] == "missing API key"
        assert "Bearer" in (missing["hint"] or "")
        wrong = guarded.post("/api/v1/search", json=search, headers={"X-API-Key": "nope"})
        assert assert_error(wrong, 401, "unauthorized")["message"] == "wrong API key"
        assert wrong.headers["www-authenticate"] == "Bearer"
        bad_scheme = guarded.get("/api/v1/namespaces", headers={"Authorization": "Basic s3cret"})
        assert_error(bad_scheme, 401, "unauthorized")
        # Unknown /api routes are guarded too: they reveal nothing without the key.
        assert_error(guarded.get("/api/v2/anything"), 401, "unauthorized")
        for headers in ({"Authorization": "Bearer s3cret"}, {"X-API-Key": "s3cret"}):
            assert guarded.get("/api/v1/namespaces", headers=headers).status_code == 200
        for open_path in ("/health", "/docs", "/openapi.json"):
            assert guarded.get(open_path).status_code == 200, open_path
        assert guarded.get("/").status_code != 401


# -- addresses ---------------------------------------------------------------


@pytest.mark.parametrize(
    "addr, expected",
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        (":8080", ("0.0.0.0", 8080)),
        ("0.0.0.0:9000", ("0.0.0.0", 9000)),
        ("localhost:1", ("localhost", 1)),
        ("[::1]:8080", ("::1", 8080)),
        ("8081", ("127.0.0.1", 8081)),
    ],
)
def test_parse_addr(addr: str, expected: tuple[str, int]) -> None:
    assert parse_addr(addr) == expected


@pytest.mark.parametrize(
    "addr",
    [
        "",
        "localhost",
        "host:",
        "host:http",
        ":0",
        ":65536",
        "a:b:c",
        "[::1]8080",
        "[zz]:80",
        "ho st:80",
        "１２:80x",
        ":８０",
    ],
)
def test_parse_addr_refuses_junk(addr: str) -> None:
    with pytest.raises(InvalidInputError, match="HOST:PORT|invalid"):
        parse_addr(addr)


def test_ambiguous_space_error_names_each_namespace_space(client: TestClient) -> None:
    app_store = client.app.state.store  # type: ignore[attr-defined]
    app_store.ensure_namespace("clip-photos", EmbeddingSpace("clip", "ViT-B-32", "openai", 512))
    unit = np.full(512, 512**-0.5, dtype=np.float32)
    app_store.upsert("clip-photos", [Record("photo", unit)])  # an empty one would not count
    error = assert_error(
        client.post("/api/v1/search", json={"text": "a sunset over the ocean", "limit": 5}),
        400,
        "ambiguous_space",
    )
    assert "clip-photos (clip:ViT-B-32/openai (dim 512))" in error["message"]
    assert "quotes (local:hashing-v1 (dim 512))" in error["message"]
    assert error["hint"] == "say which namespace to search"
