"""``GET /api/v1/duplicates``: groups of copies in one namespace (``same_same.duplicates``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ...duplicates import DuplicateOptions, find_duplicates, resolve_namespace
from ...duplicates.finder import DEFAULT_LIMIT, MAX_NEIGHBOURS
from ..dependencies import Store
from ..errors import error_responses
from ..json_body import StrictJSONRoute

router = APIRouter(prefix="/api/v1/duplicates", tags=["duplicates"], route_class=StrictJSONRoute)

MAX_GROUPS = 10_000


@router.get("", responses=error_responses(400, 401, 404, 503))
def list_duplicates(
    store: Store,
    namespace: Annotated[
        str | None, Query(description="Default: the store's only namespace.")
    ] = None,
    threshold: Annotated[
        float | None,
        Query(
            gt=0,
            le=1,
            description="Lowest cosine that counts as a copy. Default: the one the "
            "namespace's calibration measured for its model, else 0.95.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_GROUPS)] = DEFAULT_LIMIT,
    neighbours: Annotated[int, Query(ge=1, le=MAX_NEIGHBOURS)] = 10,
) -> dict[str, Any]:
    """Byte-identical copies first, then near copies found through the vector index; each
    group names the record to keep (most pixels, original format, biggest file) and every
    other member's cosine to it. Largest groups first."""
    name = resolve_namespace(store, namespace)
    options = DuplicateOptions(threshold=threshold, limit=limit, neighbours=neighbours)
    return find_duplicates(store, name, options).to_dict()
