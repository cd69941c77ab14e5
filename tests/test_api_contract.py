"""The API's contract: what /openapi.json promises per route, which ids and namespace
names can be written and addressed, and that the image routes serve only the image
ingest's files. Each reproduction of issue 9 (items 8, 9, 10) runs over a real server."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from same_same.errors import InvalidInputError
from same_same.identifiers import check_namespace_name, check_record_id
from same_same.records import EmbeddingSpace, Record
from same_same.server import ServerSettings, create_app
from same_same.sources.images import derive_image_id
from same_same.storage import open_store
from same_same.storage.sqlite_schema import connect
from server_fixtures import fetch_json, running_app_server
from store_fixtures import drop_keyword_schema

SPACE = EmbeddingSpace("test", "fixed", "", 4)

# Every documented operation and the statuses it may answer. 422 is nowhere: invalid
# input is a 400 in the one error shape.
EXPECTED_STATUSES = {
    ("get", "/health"): {200, 503},
    ("post", "/api/v1/search"): {200, 400, 401, 404, 409, 413, 501, 503},
    ("post", "/api/v1/search/image"): {200, 400, 401, 404, 409, 413, 415, 501, 503},
    ("get", "/api/v1/vectors/{record_id}/thumbnail"): {200, 304, 400, 401, 404, 422, 503},
    ("get", "/api/v1/vectors/{record_id}/image"): {200, 304, 400, 401, 404, 503},
    ("get", "/api/v1/vectors/count"): {200, 400, 401, 404, 503},
    ("post", "/api/v1/vectors/search"): {200, 400, 401, 404, 409, 413, 503},
    ("post", "/api/v1/vectors/embed"): {201, 400, 401, 403, 404, 409, 413, 501, 503, 507},
    ("post", "/api/v1/vectors"): {201, 400, 401, 403, 404, 409, 413, 503, 507},
    ("get", "/api/v1/vectors"): {200, 400, 401, 404, 503},
    ("get", "/api/v1/vectors/{record_id}"): {200, 400, 401, 404, 503},
    ("put", "/api/v1/vectors/{record_id}"): {200, 400, 401, 403, 404, 409, 413, 501, 503, 507},
    ("delete", "/api/v1/vectors/{record_id}"): {200, 400, 401, 403, 404, 503, 507},
    ("get", "/api/v1/namespaces"): {200, 401, 503},
    ("get", "/api/v1/duplicates"): {200, 400, 401, 404, 503},
    ("delete", "/api/v1/namespaces/{name}"): {200, 401, 403, 404, 503, 507},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("contract") / "store"
    with open_store(data_dir) as store:
        store.ensure_namespace("pics", SPACE)
        store.upsert("pics", [Record("r1", np.array([1, 0, 0, 0], np.float32), "a text")])
    with running_app_server(ServerSettings(data_dir=data_dir)) as base_url:
        yield base_url, data_dir


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# -- the OpenAPI document ------------------------------------------------------------


def test_every_route_documents_its_real_statuses(server: tuple[str, Path]) -> None:
    base_url, _ = server
    status, document = fetch_json("GET", f"{base_url}/openapi.json")
    assert status == 200
    found = {
        (method, path): {int(code) for code in operation["responses"]}
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert found == EXPECTED_STATUSES


def test_every_error_status_has_the_error_body_schema(server: tuple[str, Path]) -> None:
    base_url, _ = server
    _, document = fetch_json("GET", f"{base_url}/openapi.json")
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["ErrorBody"]["required"] == ["error"]
    assert set(schemas["ErrorDetail"]["required"]) == {"status", "code", "message", "hint"}
    for operations in document["paths"].values():
        for operation in operations.values():
            for code, response in operation["responses"].items():
                if int(code) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (code, operation)


def test_a_documented_error_matches_the_body_sent(server: tuple[str, Path]) -> None:
    base_url, _ = server
    status, body = fetch_json("GET", f"{base_url}/api/v1/vectors?limit=0")
    assert status == 400
    assert set(body) == {"error"}
    assert set(body["error"]) == {"status", "code", "message", "hint"}


# -- ids and namespace names ---------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST"])
@pytest.mark.parametrize("what", ["image", "thumbnail"])
def test_writes_on_media_paths_are_405_and_never_reach_the_record(
    server: tuple[str, Path], method: str, what: str
) -> None:
    base_url, _ = server
    body = {"metadata": {"changed": True}} if method != "DELETE" else None
    status, payload = fetch_json(method, f"{base_url}/api/v1/vectors/r1/{what}", body)
    assert status == 405, payload
    assert payload["error"]["code"] == "method_not_allowed"
    status, record = fetch_json("GET", f"{base_url}/api/v1/vectors/r1")
    assert status == 200 and record["metadata"] == {}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/vectors/r1/image", "GET"),
        ("OPTIONS", "/api/v1/vectors", "GET, POST"),
        ("PUT", "/api/v1/vectors/count", "GET"),
        ("DELETE", "/api/v1/vectors/search", "POST"),
        ("OPTIONS", "/api/v1/vectors/r1", "GET, PUT, DELETE"),
    ],
)
def test_a_405_names_every_method_the_path_serves(
    server: tuple[str, Path], method: str, path: str, allowed: str
) -> None:
    base_url, _ = server
    request = urllib.request.Request(base_url + path, method=method)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 405
    assert info.value.headers["allow"] == allowed
    assert json.loads(info.value.read())["error"]["hint"] == f"allowed: {allowed}"


@pytest.mark.parametrize(
    "record_id",
    ["x/image", "a/b/thumbnail", "tab\there", "nl\n", "\x7f", "x" * 1025, "count", "search"],
)
def test_ids_the_api_could_not_address_are_refused_at_write_time(
    server: tuple[str, Path], record_id: str
) -> None:
    base_url, _ = server
    status, body = fetch_json(
        "POST", f"{base_url}/api/v1/vectors", {"id": record_id, "embedding": [1, 2]}
    )
    assert status == 400, body
    assert body["error"]["code"] == "invalid_input" and "record id" in body["error"]["message"]


@pytest.mark.parametrize("record_id", ["photos/beach/sunset.jpg", "images", "a/imagery", "ü"])
def test_ids_with_slashes_stay_addressable(server: tuple[str, Path], record_id: str) -> None:
    base_url, _ = server
    quoted = urllib.request.quote(record_id, safe="")
    status, body = fetch_json(
        "POST",
        f"{base_url}/api/v1/vectors",
        {"id": record_id, "embedding": [1, 2], "namespace": "ids"},
    )
    assert status == 201, body
    status, body = fetch_json("GET", f"{base_url}/api/v1/vectors/{quoted}?namespace=ids")
    assert status == 200 and body["id"] == record_id
    status, body = fetch_json("DELETE", f"{base_url}/api/v1/vectors/{quoted}?namespace=ids")
    assert status == 200 and body["deleted"] == record_id


def test_image_ingest_ids_follow_the_id_rule() -> None:
    for path in ["/a/b/image", "/x/thumbnail", "/tab\there.png", "/" + "d/" * 600 + "f.png"]:
        assert check_record_id(derive_image_id(path)) == derive_image_id(path)


@pytest.mark.parametrize("name", ["a/b", "a b", ".hidden", "-x", "ü", "x" * 129, "a\nb"])
def test_namespace_names_are_checked_when_created(server: tuple[str, Path], name: str) -> None:
    base_url, data_dir = server
    status, body = fetch_json(
        "POST", f"{base_url}/api/v1/vectors", {"embedding": [1, 2], "namespace": name}
    )
    assert status == 400, body
    with pytest.raises(InvalidInputError):
        check_namespace_name(name)


def test_ingest_refuses_a_new_namespace_name_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "texts.jsonl"
    source.write_text('{"text": "hello"}\n', encoding="utf-8")
    result = run_cli("ingest", str(source), "-n", "a/b", data_dir=tmp_path / "store")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "namespace name 'a/b'" in result.stderr


def test_text_ingest_skips_a_row_whose_id_is_not_allowed(tmp_path: Path) -> None:
    source = tmp_path / "texts.jsonl"
    rows = [{"id": "ok", "text": "fine"}, {"id": "bad/image", "text": "shadowed"}]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    result = run_cli("ingest", str(source), "-n", "texts", data_dir=tmp_path / "store")
    assert result.returncode == 3, result.stderr  # some items skipped
    assert "bad/image" in result.stderr and "media routes" in result.stderr
    with open_store(tmp_path / "store") as store:
        assert [record.id for record in store.list_records("texts")] == ["ok"]


def test_an_older_namespace_with_a_slash_can_be_read_and_deleted(tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    with open_store(data_dir) as store:
        store.ensure_namespace("old", SPACE)
        store.upsert("old", [Record("r", np.array([1, 0, 0, 0], np.float32))])
    # Written as an older version allowed: renamed in the file itself.
    with sqlite3.connect(data_dir / "same-same.db") as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("UPDATE records SET namespace = 'a/b'")
        conn.execute("UPDATE namespaces SET name = 'a/b'")
    with running_app_server(ServerSettings(data_dir=data_dir)) as base_url:
        status, body = fetch_json("GET", f"{base_url}/api/v1/vectors/r?namespace=a%2Fb")
        assert status == 200 and body["namespace"] == "a/b"
        status, body = fetch_json("DELETE", f"{base_url}/api/v1/namespaces/a%2Fb")
        assert status == 200 and body == {"deleted": "a/b"}
        _, body = fetch_json("GET", f"{base_url}/api/v1/namespaces")
        assert body["namespaces"] == []


def test_a_record_an_older_version_stored_under_a_now_refused_id_stays_addressable(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "store"
    long_id = "x" * 1500  # over MAX_RECORD_ID_LENGTH, which older versions did not have
    with open_store(data_dir) as store:
        store.ensure_namespace("old", SPACE)
        store.upsert("old", [Record("r", np.array([1, 0, 0, 0], np.float32))])
    # the store's own connection: its triggers index the new id's words
    with connect(data_dir / "same-same.db") as conn:
        conn.execute("UPDATE records SET id = ?", (long_id,))
    with running_app_server(ServerSettings(data_dir=data_dir)) as base_url:
        url = f"{base_url}/api/v1/vectors/{long_id}"
        status, body = fetch_json("GET", url)
        assert status == 200 and body["id"] == long_id
        status, body = fetch_json("PUT", url, {"metadata": {"kept": True}})
        assert status == 200 and body["metadata"]["kept"] is True
        status, _ = fetch_json("DELETE", url)
        assert status == 200
        status, body = fetch_json("GET", url)
        assert status == 404, body
        # a new record under such an id is still refused
        status, body = fetch_json(
            "POST", f"{base_url}/api/v1/vectors", {"id": long_id, "embedding": [1, 0, 0, 0]}
        )
        assert status == 400 and "longer than" in body["error"]["message"]


# -- the image routes serve the image ingest's files alone ---------------------------


def test_a_record_written_through_the_api_cannot_serve_a_file_it_knows(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    base_url, _ = server
    secret = tmp_path / "hostname"
    secret.write_text("secret-host\n", encoding="utf-8")
    missing = tmp_path / "no-such-file"
    answers = []
    for index, target in enumerate([secret, missing]):
        status, body = fetch_json(
            "POST",
            f"{base_url}/api/v1/vectors/embed",
            {
                "id": f"leak-{index}",
                "text": secret.read_text(encoding="utf-8"),
                "type": "image",
                "abs_path": str(target),
                "path": str(target),
                "namespace": "leaks",
            },
        )
        assert status == 201, body
        for what in ("image", "thumbnail"):
            status, payload = http_get(f"{base_url}/api/v1/vectors/leak-{index}/{what}")
            assert status == 404
            assert b"secret-host" not in payload and str(tmp_path).encode() not in payload
            error = json.loads(payload)["error"]
            answers.append((what, error["code"], error["message"].replace(f"leak-{index}", "ID")))
    # an existing path and a missing one get the same answer
    assert answers[:2] == answers[2:]
    assert {code for _, code, _ in answers} == {"image_missing"}


def image_ingest_record(record_id: str, path: Path) -> Record:
    return Record(
        record_id,
        np.array([1, 0, 0, 0], np.float32),
        None,
        {"type": "image", "abs_path": str(path), "path": path.name},
        hashlib.sha256(path.read_bytes()).hexdigest(),
        from_image_ingest=True,
    )


def test_an_api_update_keeps_the_ingest_mark_only_with_its_vector(tmp_path: Path) -> None:
    picture = tmp_path / "p.png"
    Image.new("RGB", (40, 20), (0, 100, 200)).save(picture)
    data_dir = tmp_path / "store"
    with open_store(data_dir) as store:
        store.ensure_namespace("pics", SPACE)
        store.upsert("pics", [image_ingest_record("p", picture)])
    with running_app_server(ServerSettings(data_dir=data_dir)) as base_url:
        assert http_get(f"{base_url}/api/v1/vectors/p/image")[0] == 200
        status, _ = fetch_json(
            "PUT",
            f"{base_url}/api/v1/vectors/p",
            {"metadata": {"type": "image", "abs_path": str(picture), "label": "blue"}},
        )
        assert status == 200
        assert http_get(f"{base_url}/api/v1/vectors/p/image")[0] == 200
        status, _ = fetch_json("PUT", f"{base_url}/api/v1/vectors/p", {"embedding": [0, 1, 0, 0]})
        assert status == 200
        assert http_get(f"{base_url}/api/v1/vectors/p/image")[0] == 404


def test_image_records_of_schema_2_are_taken_as_the_ingest_s(tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    picture = tmp_path / "p.png"
    Image.new("RGB", (8, 8)).save(picture)
    with open_store(data_dir) as store:
        store.ensure_namespace("pics", SPACE)
        store.upsert(
            "pics",
            [
                image_ingest_record("img", picture),
                Record("txt", np.array([1, 0, 0, 0], np.float32), "t", {"type": "image"}, "h"),
                Record("raw", np.array([1, 0, 0, 0], np.float32), None, {"type": "image"}),
            ],
        )
    with sqlite3.connect(data_dir / "same-same.db") as conn:  # as version 2 wrote it
        drop_keyword_schema(conn)
        conn.execute("ALTER TABLE records DROP COLUMN from_image_ingest")
        conn.execute("ALTER TABLE namespaces DROP COLUMN writers")
        conn.execute("PRAGMA user_version = 2")
    with open_store(data_dir) as store:
        marks = {record.id: record.from_image_ingest for record in store.list_records("pics")}
    assert marks == {"img": True, "raw": False, "txt": False}


# -- thumbnails and the API key ------------------------------------------------------


def test_thumbnail_sizes_snap_to_a_few_cached_files(tmp_path: Path) -> None:
    picture = tmp_path / "wide.png"
    Image.new("RGB", (2000, 1000), (200, 30, 30)).save(picture)
    data_dir = tmp_path / "store"
    with open_store(data_dir) as store:
        store.ensure_namespace("pics", SPACE)
        store.upsert("pics", [image_ingest_record("w", picture)])
    with running_app_server(ServerSettings(data_dir=data_dir)) as base_url:
        for size in [1, 33, 64, 65, 100, 200, 300, 513, 700, 1000, 1024]:
            status, body = http_get(f"{base_url}/api/v1/vectors/w/thumbnail?size={size}")
            assert status == 200
            width = Image.open(__import__("io").BytesIO(body)).size[0]
            assert width == next(s for s in (64, 128, 256, 512, 1024) if s >= size)
    assert len(list((data_dir / "thumbnails").glob("*/*.jpg"))) == 5


@pytest.mark.parametrize("key", ["", "   "])
def test_an_empty_api_key_refuses_to_start(tmp_path: Path, key: str) -> None:
    result = run_cli("serve", data_dir=tmp_path / "store", env={"SAME_SAME_API_KEY": key})
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "API key is empty" in result.stderr
    result = run_cli("serve", "--api-key", key, data_dir=tmp_path / "store")
    assert result.returncode != 0 and "API key is empty" in result.stderr
    with pytest.raises(InvalidInputError):
        create_app(ServerSettings(data_dir=tmp_path / "store", api_key=key))


@pytest.mark.usefixtures("every_store")
def test_the_ingest_mark_is_kept_by_every_store(tmp_path: Path) -> None:
    vector = np.array([1, 0, 0, 0], np.float32)
    with open_store(tmp_path / "store") as store:
        store.ensure_namespace("marks", SPACE)
        store.upsert(
            "marks",
            [
                Record("ingested", vector, None, {"type": "image"}, "same-hash", True),
                Record("api", vector, None, {"type": "image"}, "other-hash"),
                Record("nohash", vector, "text"),
            ],
        )
        assert store.get("ingested", "marks")[1].from_image_ingest is True
        assert store.get("api", "marks")[1].from_image_ingest is False
        pages = store.list_records("marks", with_vectors=False)
        assert {r.id: r.from_image_ingest for r in pages} == {
            "api": False,
            "ingested": True,
            "nohash": False,
        }
        assert store.get_content_hashes("marks", ["ingested", "api"]) == {
            "ingested": "same-hash",
            "api": "other-hash",
        }
        assert set(store.find_vectors_by_hash("marks", ["same-hash", "other-hash"])) == {
            "same-hash",
            "other-hash",
        }
        store.upsert("marks", [Record("ingested", vector, None, {"type": "image"}, "same-hash")])
        assert store.get("ingested", "marks")[1].from_image_ingest is False
