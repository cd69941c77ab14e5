"""``/api/v1/vectors``: raw vectors in and out, texts embedded on the way in, vector search.

Fixed paths (``/count``, ``/search``, ``/embed``) are declared before ``/{record_id}``
so they win; ids may contain slashes (image ids are relative paths).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ...validation import MAX_LIMIT
from ..dependencies import Searcher, Vectors
from ..json_body import StrictJSONRoute, json_response
from ..schemas import (
    EmbedRequest,
    VectorCreateRequest,
    VectorSearchRequest,
    VectorUpdateRequest,
    pick_limit,
)

router = APIRouter(prefix="/api/v1/vectors", tags=["vectors"], route_class=StrictJSONRoute)

NamespaceQuery = Annotated[
    str | None, Query(description="Default: every namespace (GET, DELETE) or 'default' (create).")
]


@router.get("/count")
def count_vectors(vectors: Vectors, namespace: NamespaceQuery = None) -> dict[str, Any]:
    return {"count": vectors.count(namespace)}


@router.post("/search")
def search_vectors(body: VectorSearchRequest, searcher: Searcher) -> Response:
    """Rank stored vectors by cosine similarity to ``embedding``."""
    result = searcher.search_vector(
        body.embedding,
        namespace=body.namespace,
        limit=pick_limit(body),
        filters=body.filters,
        exclude_ids=body.exclude_ids,
        exact=body.exact,
    )
    return json_response(result.to_dict())


@router.post("/embed", status_code=201)
def embed_text(body: EmbedRequest, vectors: Vectors) -> dict[str, Any]:
    """Embed ``text`` with the namespace's model and store it; other fields become metadata."""
    stored = vectors.add_text(
        body.text, record_id=body.id, namespace=body.namespace, metadata=body.all_metadata()
    )
    return stored.to_dict()


@router.post("", status_code=201)
def create_vector(body: VectorCreateRequest, vectors: Vectors) -> dict[str, Any]:
    """Store a vector (normalised to unit length); an existing id is replaced."""
    stored = vectors.add_vector(
        body.embedding,
        record_id=body.id,
        namespace=body.namespace,
        metadata=body.metadata,
        text=body.text,
    )
    return stored.to_dict()


@router.get("")
def list_vectors(
    vectors: Vectors,
    namespace: NamespaceQuery = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    include_embedding: bool = False,
) -> dict[str, Any]:
    """A page of records ordered by namespace, then id; ``next_offset`` is null on the last."""
    page = vectors.list_page(namespace, offset, limit, with_vectors=include_embedding)
    return page.to_dict(include_embedding)


@router.get("/{record_id:path}")
def get_vector(
    record_id: str,
    vectors: Vectors,
    namespace: NamespaceQuery = None,
    include_embedding: bool = True,
) -> dict[str, Any]:
    return vectors.get(record_id, namespace).to_dict(include_embedding)


@router.put("/{record_id:path}")
def update_vector(
    record_id: str, body: VectorUpdateRequest, vectors: Vectors, namespace: NamespaceQuery = None
) -> dict[str, Any]:
    stored = vectors.update(
        record_id,
        namespace=namespace,
        embedding=body.embedding,
        metadata=body.metadata,
        text=body.text,
    )
    return stored.to_dict()


@router.delete("/{record_id:path}")
def delete_vector(
    record_id: str, vectors: Vectors, namespace: NamespaceQuery = None
) -> dict[str, Any]:
    deleted = vectors.delete(record_id, namespace)
    return {"deleted": deleted.record.id, "namespace": deleted.namespace}
