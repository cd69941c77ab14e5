"""The OpenAPI document at ``/openapi.json``, without what FastAPI adds that is not true here.

FastAPI documents a 422 ``HTTPValidationError`` on every route with parameters or a
body; this server answers invalid requests with a 400 in its one error shape
(``errors.ErrorBody``), which each route lists among its ``responses``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def drop_fastapi_validation_errors(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` without FastAPI's 422 responses and their schemas (changed in place)."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if "HTTPValidationError" in str(responses.get("422", "")):
                del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the corrected document, built once on first request as FastAPI does."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = drop_fastapi_validation_errors(document)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
