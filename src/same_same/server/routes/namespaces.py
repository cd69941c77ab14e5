"""``/api/v1/namespaces``: what is stored, and in which embedding space."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..dependencies import Vectors
from ..json_body import StrictJSONRoute

router = APIRouter(prefix="/api/v1/namespaces", tags=["namespaces"], route_class=StrictJSONRoute)


@router.get("")
def list_namespaces(vectors: Vectors) -> dict[str, Any]:
    return {"namespaces": [info.to_dict() for info in vectors.list_namespaces()]}


@router.delete("/{name}")
def delete_namespace(name: str, vectors: Vectors) -> dict[str, Any]:
    vectors.delete_namespace(name)
    return {"deleted": name}
