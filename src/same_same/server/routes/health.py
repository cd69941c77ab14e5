"""``GET /health``: liveness and how many vectors are stored (never behind the API key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ... import __version__
from ..dependencies import Store
from ..errors import error_responses

router = APIRouter(tags=["health"])


@router.get("/health", responses=error_responses(503))
def get_health(store: Store) -> dict[str, Any]:
    return {"status": "ok", "version": __version__, "vectors": store.count()}
