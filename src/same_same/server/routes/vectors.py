"""``/api/v1/vectors``: raw vectors in and out, texts embedded on the way in, vector search.

Fixed paths (``/count``, ``/search``, ``/embed``) are declared before ``/{record_id}``
so they win; ids may contain slashes, but never end in ``/image`` or ``/thumbnail``
(``same_same.identifiers``), which are the media router's.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from ...validation import MAX_LIMIT
from ..dependencies import Runner, Searcher, Vectors
from ..errors import REFUSING_ROUTE, error_responses, refuse_method
from ..json_body import StrictJSONRoute, json_response, parse_filter_text
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


READ = error_responses(400, 401, 404, 503)
WRITE = error_responses(400, 401, 403, 404, 409, 413, 503, 507)


@router.get("/count", responses=READ)
def count_vectors(vectors: Vectors, namespace: NamespaceQuery = None) -> dict[str, Any]:
    return {"count": vectors.count(namespace)}


@router.post("/search", responses=error_responses(400, 401, 404, 409, 413, 503))
async def search_vectors(body: VectorSearchRequest, searcher: Searcher, runner: Runner) -> Response:
    """Rank stored vectors by cosine similarity to ``embedding``."""
    search = functools.partial(
        searcher.search_vector,
        body.embedding,
        namespace=body.namespace,
        limit=pick_limit(body),
        filters=body.filters,
        exclude_ids=body.exclude_ids,
        exact=body.exact,
        ranking=body.ranking(),
    )
    if body.min_relevance is not None:
        # may make a calibration first (a model asked ~100 queries): never on the loop
        result = await run_in_threadpool(search)
    else:
        result = await runner.run(search)
    return json_response(result.to_dict())


@router.post("/embed", status_code=201, responses={**WRITE, **error_responses(501)})
def embed_text(body: EmbedRequest, vectors: Vectors) -> dict[str, Any]:
    """Embed ``text`` with the namespace's model and store it; other fields become metadata."""
    stored = vectors.add_text(
        body.text, record_id=body.id, namespace=body.namespace, metadata=body.all_metadata()
    )
    return stored.to_dict()


@router.post("", status_code=201, responses=WRITE)
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


@router.get("", responses=READ)
def list_vectors(
    vectors: Vectors,
    namespace: NamespaceQuery = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    include_embedding: bool = False,
    filters: Annotated[
        str | None,
        Query(description='Metadata filters as a JSON object, e.g. {"taken_at": {"gte": "2024"}}'),
    ] = None,
    sort: Annotated[
        str | None,
        Query(description='Order by a field: "taken_at" (oldest first), "-taken_at" (newest)'),
    ] = None,
) -> Response:
    """A page of records ordered by namespace, then id (or by ``sort``), those matching
    ``filters`` only where given; ``next_offset`` is null on the last."""
    page = vectors.list_page(
        namespace,
        offset,
        limit,
        with_vectors=include_embedding,
        filters=parse_filter_text(filters),
        sort=sort,
    )
    # json_response, not pydantic: metadata an older version stored nested hundreds deep
    # would stop pydantic's serialiser and fail the listing for every client
    return json_response(page.to_dict(include_embedding))


# The fixed paths above are not record ids (``identifiers.RESERVED_IDS``): their other
# methods are refused here rather than reaching the record routes below.
for _path, _methods in [
    ("/count", ["POST", "PUT", "PATCH", "DELETE"]),
    ("/search", ["GET", "PUT", "PATCH", "DELETE"]),
    ("/embed", ["GET", "PUT", "PATCH", "DELETE"]),
]:
    router.add_api_route(
        _path, refuse_method, methods=_methods, include_in_schema=False, name=REFUSING_ROUTE
    )


@router.get("/{record_id:path}", responses=READ)
def get_vector(
    record_id: str,
    vectors: Vectors,
    namespace: NamespaceQuery = None,
    include_embedding: bool = True,
) -> Response:
    return json_response(vectors.get(record_id, namespace).to_dict(include_embedding))


@router.put("/{record_id:path}", responses={**WRITE, **error_responses(501)})
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


@router.delete("/{record_id:path}", responses=error_responses(400, 401, 403, 404, 503, 507))
def delete_vector(
    record_id: str, vectors: Vectors, namespace: NamespaceQuery = None
) -> dict[str, Any]:
    deleted = vectors.delete(record_id, namespace)
    return {"deleted": deleted.record.id, "namespace": deleted.namespace}
