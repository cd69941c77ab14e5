"""``/api/v1/namespaces``: what is stored, and in which embedding space.

New namespaces are named by ``same_same.identifiers``' rule; ``{name:path}`` still
reaches one an older version created under another name (``a%2Fb`` is ``a/b``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..dependencies import Vectors
from ..errors import error_responses
from ..json_body import StrictJSONRoute

router = APIRouter(prefix="/api/v1/namespaces", tags=["namespaces"], route_class=StrictJSONRoute)


@router.get("", responses=error_responses(401, 503))
def list_namespaces(vectors: Vectors) -> dict[str, Any]:
    return {"namespaces": [info.to_dict() for info in vectors.list_namespaces()]}


@router.delete("/{name:path}", responses=error_responses(401, 403, 404, 503, 507))
def delete_namespace(name: str, vectors: Vectors) -> dict[str, Any]:
    vectors.delete_namespace(name)
    return {"deleted": name}
