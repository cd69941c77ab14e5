"""same_same.client against a real ``same-same serve`` on 127.0.0.1: every method of
``Client`` and ``AsyncClient``, typed answers and the library's typed errors.

One server for the module (behind an API key): 24 demo quotes (hashing embedder) and
the demo photos ingested with the bundled tiny CLIP model.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_cli
from relevance_fixtures import ingest_demo_photos
from same_same.client import (
    AsyncClient,
    Client,
    ClientError,
    DuplicateReport,
    Hit,
    SearchOptions,
    SearchResults,
    VectorRecord,
)
from same_same.demo import DEMO_NAMESPACE
from same_same.errors import (
    InvalidInputError,
    NamespaceNotFoundError,
    RecordNotFoundError,
)
from server_fixtures import running_server

API_KEY = "client-test-key"
TIMEOUT_S = 600.0  # a loaded machine loads the CLIP model slowly; never a timing assert


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store: the quotes, then the photos (their folder is ``photo_folder``)."""
    data_dir = tmp_path_factory.mktemp("client") / "data"
    data_dir.mkdir()
    assert run_cli("ingest", "-n", "quotes", "demo", data_dir=data_dir).returncode == 0
    ingest_demo_photos(data_dir)
    return data_dir


@pytest.fixture(scope="module")
def base_url(data_dir: Path) -> Iterator[str]:
    # torch: "auto" would first export and time ONNX towers, minutes on a loaded machine
    with running_server(data_dir, extra_args=["--api-key", API_KEY, "--backend", "torch"]) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[Client]:
    with Client(base_url, api_key=API_KEY, timeout_s=TIMEOUT_S) as opened:
        yield opened


def photo_folder(data_dir: Path) -> Path:
    return data_dir.parent / "photos"  # where ingest_demo_photos writes them


def test_health_and_namespaces(client: Client) -> None:
    health = client.health()
    assert health.status == "ok" and health.vectors == client.count() > 24
    names = {namespace.name: namespace for namespace in client.list_namespaces()}
    assert set(names) == {"quotes", DEMO_NAMESPACE}
    quotes = client.get_namespace("quotes")
    assert quotes == names["quotes"] and quotes.count == 24 == client.count("quotes")
    assert quotes.space.dim > 0 and quotes.raw["name"] == "quotes"
    with pytest.raises(NamespaceNotFoundError):
        client.get_namespace("no-such-namespace")


def test_text_search_in_every_mode_with_filters(client: Client) -> None:
    results = client.search("time", namespace="quotes", limit=3)
    assert isinstance(results, SearchResults) and 0 < len(results) <= 3
    best = results.hits[0]
    assert isinstance(best, Hit) and best.namespace == "quotes" and best.text
    assert results.ids == [hit.id for hit in results] and results.raw["results"][0]["id"] == best.id
    for mode in ("keyword", "hybrid"):
        assert client.search("time", namespace="quotes", mode=mode).mode == mode
    author = best.metadata["author"]
    only = client.search("time", namespace="quotes", filters={"author": author})
    assert only.hits and {hit.metadata["author"] for hit in only} == {author}
    weighted = client.search(
        "time",
        namespace="quotes",
        options=SearchOptions(hybrid_weight={"vector": 0.5, "keyword": 0.5}),
    )
    assert weighted.hits
    assert client.search("time", namespace="quotes", min_score=1.0).hits == []


def test_vector_crud_count_and_vector_search(client: Client) -> None:
    dim = client.get_namespace("quotes").space.dim
    embedding = [1.0] + [0.0] * (dim - 1)
    created = client.add_vector(embedding, id="raw/one", namespace="raws", metadata={"tag": "a"})
    assert isinstance(created, VectorRecord) and created.id == "raw/one"
    fetched = client.get_vector("raw/one", namespace="raws")
    assert fetched.metadata["tag"] == "a" and fetched.embedding is not None
    assert client.get_vector("raw/one", include_embedding=False).embedding is None
    client.update_vector("raw/one", namespace="raws", metadata={"tag": "b"})
    assert client.get_vector("raw/one").metadata["tag"] == "b"
    found = client.search_vector(embedding, namespace="raws", limit=1)
    assert found.ids == ["raw/one"]
    assert client.count("raws") == 1
    deleted = client.delete_vector("raw/one", namespace="raws")
    assert (deleted.id, deleted.namespace) == ("raw/one", "raws")
    with pytest.raises(RecordNotFoundError) as caught:
        client.get_vector("raw/one", namespace="raws")
    assert caught.value.code == "record_not_found" and caught.value.status == 404
    assert "raw/one" in caught.value.message
    assert client.delete_namespace("raws") == "raws"


def test_embed_text_stores_a_searchable_record(client: Client) -> None:
    stored = client.embed_text("a brand new saying", id="said", namespace="sayings",
                               metadata={"by": "me"})  # fmt: skip
    assert stored.text == "a brand new saying" and stored.metadata["by"] == "me"
    assert client.search("brand new saying", namespace="sayings").ids == ["said"]
    client.delete_namespace("sayings")


def test_iter_vectors_follows_every_page(client: Client) -> None:
    everything = client.list_vectors(namespace="quotes", limit=1000)
    assert everything.next_offset is None and everything.total == 24
    first = client.list_vectors(namespace="quotes", limit=5)
    assert first.next_offset == 5 and len(first.vectors) == 5
    paged = [record.id for record in client.iter_vectors(namespace="quotes", page_size=5)]
    assert paged == [record.id for record in everything.vectors]


def test_image_search_by_path_bytes_file_and_record(client: Client, data_dir: Path) -> None:
    photo = sorted(photo_folder(data_dir).rglob("*.jpg"))[0]
    by_path = client.search_image(photo, namespace=DEMO_NAMESPACE, limit=3)
    assert by_path.hits and by_path.hits[0].namespace == DEMO_NAMESPACE
    assert client.search_image(photo.read_bytes(), namespace=DEMO_NAMESPACE, limit=3).ids == (
        by_path.ids
    )
    with photo.open("rb") as opened:
        assert client.search_image(opened, namespace=DEMO_NAMESPACE, limit=3).ids == by_path.ids
    best = by_path.hits[0].id
    similar = client.search_similar(best, namespace=DEMO_NAMESPACE, limit=3)
    assert similar.hits and best not in similar.ids
    assert client.get_image(best)[:2] == b"\xff\xd8"
    assert client.get_thumbnail(best, size=64)[:2] == b"\xff\xd8"
    assert client.search("a photo", namespace=DEMO_NAMESPACE, min_relevance=0.0).hits


def test_duplicates(client: Client) -> None:
    report = client.find_duplicates(namespace=DEMO_NAMESPACE, threshold=0.99)
    assert isinstance(report, DuplicateReport) and report.namespace == DEMO_NAMESPACE
    assert report.scanned > 0 and report.total_groups >= len(report.groups)


def test_server_errors_are_the_library_typed_errors(client: Client, base_url: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        client.search("time", namespace="quotes", limit=0)
    assert caught.value.code == "invalid_input" and "limit" in caught.value.message
    with pytest.raises(NamespaceNotFoundError) as missing:
        client.delete_namespace("no-such-namespace")
    assert missing.value.code == "namespace_not_found"
    with pytest.raises(InvalidInputError) as wrong_dim:
        client.add_vector([1.0, 0.0], namespace="quotes")
    assert "2 values" in wrong_dim.value.message
    with Client(base_url, timeout_s=TIMEOUT_S) as anonymous:
        assert anonymous.health().status == "ok"  # /health needs no key
        with pytest.raises(ClientError) as refused:
            anonymous.count()
    assert (refused.value.status, refused.value.code) == (401, "unauthorized")
    assert refused.value.hint and "Bearer" in refused.value.hint


def test_async_client_does_the_same(base_url: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(base_url, api_key=API_KEY, timeout_s=TIMEOUT_S) as client:
            assert (await client.health()).status == "ok"
            assert (await client.get_namespace("quotes")).count == 24
            results = await client.search("time", namespace="quotes", limit=3)
            assert results.hits
            ids = [
                record.id async for record in client.iter_vectors(namespace="quotes", page_size=7)
            ]
            assert len(ids) == 24 == await client.count("quotes")
            stored = await client.embed_text("async saying", id="a1", namespace="async")
            assert (await client.get_vector("a1", namespace="async")).text == stored.text
            assert (await client.search_similar("a1", namespace="async")).hits == []
            assert (await client.delete_vector("a1", namespace="async")).id == "a1"
            with pytest.raises(RecordNotFoundError):
                await client.get_vector("a1", namespace="async")
            await client.delete_namespace("async")

    asyncio.run(scenario())


def test_both_clients_offer_the_same_methods() -> None:
    def methods(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member)
            for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")
        }

    sync, asynchronous = methods(Client), methods(AsyncClient)
    assert sync.keys() == asynchronous.keys()
    for name, signature in sync.items():
        other = asynchronous[name]
        assert list(signature.parameters) == list(other.parameters), name
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)) or name == "iter_vectors"
