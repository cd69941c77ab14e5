"""Every route of the REST API as a ``Call``: the sync and async clients only send them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TypeVar
from urllib.parse import quote

import httpx

from ..errors import NamespaceNotFoundError
from .results import (
    Deleted,
    DuplicateReport,
    Health,
    Namespace,
    SearchResults,
    VectorPage,
    VectorRecord,
)
from .transport import Call

T = TypeVar("T")
Mode = Literal["vector", "keyword", "hybrid"]
Filters = Mapping[str, Any]
ImageInput = str | os.PathLike[str] | bytes | IO[bytes]
"""An image to search with: a file's path, its bytes, or a file opened in binary mode."""

PREFIX = "/api/v1"


@dataclass(frozen=True)
class SearchOptions:
    """How results are ranked beyond the cut-offs (the API's ``options``).

    ``hybrid_weight``: ``{"vector": 0.8, "keyword": 0.2}``; ``rrf_k``: rank fusion's k in
    hybrid mode; ``recency``: half-life in days on when a photo was taken."""

    hybrid_weight: Mapping[str, float] | None = None
    rrf_k: int | None = None
    recency: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.hybrid_weight is not None:
            out["hybrid_weight"] = {k: float(v) for k, v in self.hybrid_weight.items()}
        if self.rrf_k is not None:
            out["rrf_k"] = self.rrf_k
        if self.recency is not None:
            out["recency"] = float(self.recency)
        return out


def _json_of(parse: Callable[[dict[str, Any]], T]) -> Callable[[httpx.Response], T]:
    def read(response: httpx.Response) -> T:
        return parse(response.json())

    return read


def _bytes(response: httpx.Response) -> bytes:
    return response.content


def _record_path(record_id: str, suffix: str = "") -> str:
    return f"{PREFIX}/vectors/{quote(record_id, safe='/')}{suffix}"


def _floats(vector: Sequence[float]) -> list[float]:
    # The API's floats are strict (1 is not 1.0 there); numpy scalars are not JSON.
    return [float(x) for x in vector]


def _present(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _cutoffs(
    min_score: float | None, min_relevance: float | None, sort: str | None
) -> dict[str, Any]:
    return _present(
        min_score=None if min_score is None else float(min_score),
        min_relevance=None if min_relevance is None else float(min_relevance),
        sort=sort,
    )


def search_text(
    text: str,
    *,
    namespace: str | None = None,
    limit: int | None = None,
    filters: Filters | None = None,
    mode: Mode | None = None,
    min_score: float | None = None,
    min_relevance: float | None = None,
    sort: str | None = None,
    exact: bool | None = None,
    options: SearchOptions | None = None,
) -> Call[SearchResults]:
    body = _present(
        text=text,
        namespace=namespace,
        limit=limit,
        filters=None if filters is None else dict(filters),
        mode=mode,
        exact=exact,
        options=options.to_json() if options else None,
        **_cutoffs(min_score, min_relevance, sort),
    )
    parse = _json_of(SearchResults.from_json)
    return Call("POST", f"{PREFIX}/search", parse, json=body, read_only=True)


def search_vector(
    embedding: Sequence[float],
    *,
    namespace: str | None = None,
    limit: int | None = None,
    filters: Filters | None = None,
    exclude_ids: Sequence[str] = (),
    min_score: float | None = None,
    min_relevance: float | None = None,
    sort: str | None = None,
    exact: bool | None = None,
) -> Call[SearchResults]:
    body = _present(
        embedding=_floats(embedding),
        namespace=namespace,
        limit=limit,
        filters=None if filters is None else dict(filters),
        exclude_ids=list(exclude_ids) or None,
        exact=exact,
        **_cutoffs(min_score, min_relevance, sort),
    )
    parse = _json_of(SearchResults.from_json)
    return Call("POST", f"{PREFIX}/vectors/search", parse, json=body, read_only=True)


def read_image(image: ImageInput) -> tuple[str, bytes]:
    """The file name and bytes of an image given as a path, bytes or a binary file."""
    if isinstance(image, bytes):
        return "image", image
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        return path.name, path.read_bytes()
    return Path(str(getattr(image, "name", "image"))).name, image.read()


def search_image(
    image: ImageInput,
    *,
    namespace: str | None = None,
    limit: int | None = None,
    filters: Filters | None = None,
    min_score: float | None = None,
    min_relevance: float | None = None,
    sort: str | None = None,
) -> Call[SearchResults]:
    name, content = read_image(image)
    form = {
        key: str(value)
        for key, value in _present(
            namespace=namespace,
            limit=limit,
            filters=None if filters is None else json.dumps(dict(filters)),
            **_cutoffs(min_score, min_relevance, sort),
        ).items()
    }
    parse = _json_of(SearchResults.from_json)
    files = {"file": (name, content, "application/octet-stream")}
    return Call("POST", f"{PREFIX}/search/image", parse, files=files, data=form, read_only=True)


def search_similar(
    record_id: str,
    *,
    namespace: str | None = None,
    limit: int | None = None,
    filters: Filters | None = None,
    min_score: float | None = None,
    min_relevance: float | None = None,
    sort: str | None = None,
) -> Call[SearchResults]:
    body = _present(
        id=record_id,
        namespace=namespace,
        limit=limit,
        filters=None if filters is None else dict(filters),
        **_cutoffs(min_score, min_relevance, sort),
    )
    parse = _json_of(SearchResults.from_json)
    return Call("POST", f"{PREFIX}/search/image", parse, json=body, read_only=True)


def add_vector(
    embedding: Sequence[float],
    *,
    id: str | None = None,
    namespace: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    text: str | None = None,
) -> Call[VectorRecord]:
    body = _present(
        embedding=_floats(embedding),
        id=id,
        namespace=namespace,
        metadata=None if metadata is None else dict(metadata),
        text=text,
    )
    return Call("POST", f"{PREFIX}/vectors", _json_of(VectorRecord.from_json), json=body)


def embed_text(
    text: str,
    *,
    id: str | None = None,
    namespace: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Call[VectorRecord]:
    body = _present(
        text=text,
        id=id,
        namespace=namespace,
        metadata=None if metadata is None else dict(metadata),
    )
    return Call("POST", f"{PREFIX}/vectors/embed", _json_of(VectorRecord.from_json), json=body)


def get_vector(
    record_id: str, *, namespace: str | None = None, include_embedding: bool = True
) -> Call[VectorRecord]:
    params = {"namespace": namespace, "include_embedding": str(include_embedding).lower()}
    return Call("GET", _record_path(record_id), _json_of(VectorRecord.from_json), params=params)


def update_vector(
    record_id: str,
    *,
    namespace: str | None = None,
    embedding: Sequence[float] | None = None,
    metadata: Mapping[str, Any] | None = None,
    text: str | None = None,
) -> Call[VectorRecord]:
    body = _present(
        embedding=None if embedding is None else _floats(embedding),
        metadata=None if metadata is None else dict(metadata),
        text=text,
    )
    parse = _json_of(VectorRecord.from_json)
    return Call("PUT", _record_path(record_id), parse, params={"namespace": namespace}, json=body)


def delete_vector(record_id: str, *, namespace: str | None = None) -> Call[Deleted]:
    parse = _json_of(Deleted.from_json)
    return Call("DELETE", _record_path(record_id), parse, params={"namespace": namespace})


def count_vectors(namespace: str | None = None) -> Call[int]:
    def parse(data: dict[str, Any]) -> int:
        return int(data["count"])

    return Call("GET", f"{PREFIX}/vectors/count", _json_of(parse), params={"namespace": namespace})


def list_vectors(
    *,
    namespace: str | None = None,
    offset: int = 0,
    limit: int = 100,
    include_embedding: bool = False,
    filters: Filters | None = None,
    sort: str | None = None,
) -> Call[VectorPage]:
    params = {
        "namespace": namespace,
        "offset": offset,
        "limit": limit,
        "include_embedding": str(include_embedding).lower(),
        "filters": None if filters is None else json.dumps(dict(filters)),
        "sort": sort,
    }
    return Call("GET", f"{PREFIX}/vectors", _json_of(VectorPage.from_json), params=params)


def list_namespaces() -> Call[list[Namespace]]:
    def parse(data: dict[str, Any]) -> list[Namespace]:
        return [Namespace.from_json(item) for item in data["namespaces"]]

    return Call("GET", f"{PREFIX}/namespaces", _json_of(parse))


def pick_namespace(namespaces: list[Namespace], name: str) -> Namespace:
    """One namespace of the list (the API has no route for one alone)."""
    for namespace in namespaces:
        if namespace.name == name:
            return namespace
    known = ", ".join(sorted(n.name for n in namespaces)) or "none"
    raise NamespaceNotFoundError(f"no namespace {name!r}", hint=f"namespaces: {known}")


def delete_namespace(name: str) -> Call[str]:
    def parse(data: dict[str, Any]) -> str:
        return str(data["deleted"])

    return Call("DELETE", f"{PREFIX}/namespaces/{quote(name, safe='/')}", _json_of(parse))


def find_duplicates(
    *,
    namespace: str | None = None,
    threshold: float | None = None,
    limit: int | None = None,
    neighbours: int | None = None,
) -> Call[DuplicateReport]:
    params = _present(namespace=namespace, threshold=threshold, limit=limit, neighbours=neighbours)
    return Call("GET", f"{PREFIX}/duplicates", _json_of(DuplicateReport.from_json), params=params)


def get_image(record_id: str, *, namespace: str | None = None) -> Call[bytes]:
    return Call("GET", _record_path(record_id, "/image"), _bytes, params={"namespace": namespace})


def get_thumbnail(
    record_id: str, *, size: int | None = None, namespace: str | None = None
) -> Call[bytes]:
    params = {"size": size, "namespace": namespace}
    return Call("GET", _record_path(record_id, "/thumbnail"), _bytes, params=params)


def get_health() -> Call[Health]:
    return Call("GET", "/health", _json_of(Health.from_json))
