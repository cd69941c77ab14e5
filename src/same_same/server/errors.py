"""One JSON shape for every error the API returns.

    {"error": {"status": 404, "code": "record_not_found", "message": "...", "hint": null}}

Typed library errors keep their own status and code; framework errors (unknown
route, wrong method, invalid request body) are translated into the same shape;
anything unexpected is a 500 with no traceback in the body.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..errors import SameSameError

logger = logging.getLogger("same_same.server")

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


class ErrorDetail(BaseModel):
    status: int = Field(description="The HTTP status, repeated.")
    code: str = Field(description="What went wrong, for programs: record_not_found, ...")
    message: str = Field(description="What went wrong, for people.")
    hint: str | None = Field(description="What to do about it, when there is something.")


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Invalid input: a malformed body, parameter or value out of range.",
    401: "Missing or wrong API key (only when the server has one).",
    403: "The store is read-only: reads work, writes are refused.",
    404: "No such record, namespace or image file.",
    409: "The namespace holds vectors of another embedding space.",
    413: "The request body is larger than the server's limit.",
    415: "The body's content type is not one this route reads.",
    422: "The image file exists but can no longer be decoded.",
    501: "An optional extra this request needs is not installed.",
    503: "The store or the model is unavailable for now.",
    507: "The disk under the store is full.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries: each status with the error body's schema."""
    return {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses
    }


class APIError(StarletteHTTPException):
    """An HTTP error raised by the server layer itself (malformed JSON, body too large)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code
        self.message = message
        self.hint = hint


def render_error(
    status: int,
    code: str,
    message: str,
    hint: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"status": status, "code": code, "message": message, "hint": hint}}
    return JSONResponse(body, status_code=status, headers=headers)


def _handle_library_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SameSameError)
    return render_error(exc.status, exc.code, exc.message, exc.hint)


def _handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    headers = {key.lower(): value for key, value in (exc.headers or {}).items()} or None
    if isinstance(exc, APIError):
        return render_error(status, exc.code, exc.message, exc.hint, headers)
    code = _CODES_BY_STATUS.get(status, "http_error")
    message = str(exc.detail)
    hint = None
    if status == 404 and exc.detail == "Not Found":
        message = f"no route {request.method} {request.url.path}"
        hint = "the API is described at /docs"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
        allowed = ", ".join(find_allowed_methods(request))
        headers = {**(headers or {}), "allow": allowed}
        hint = f"allowed: {allowed}" if allowed else None
    return render_error(status, code, message, hint, headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
REFUSING_ROUTE = "refuse_method"
"""The name of the routes that only answer 405: they keep a method from reaching a
route further down whose path also matches (``PUT .../ID/image`` the record route)."""


def refuse_method() -> None:
    """The endpoint of a ``REFUSING_ROUTE``: a 405 naming the methods allowed."""
    raise StarletteHTTPException(405)


def find_allowed_methods(request: Request) -> list[str]:
    """The methods some route serves at this path, across every router.

    Starlette's own ``Allow`` names the methods of the first route whose path matches,
    while ``/api/v1/vectors`` is served by two (GET and POST).
    """
    allowed = []
    routes = list(_flatten_routes(request.app.router.routes))
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        for route in routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                if getattr(route, "name", None) != REFUSING_ROUTE:
                    allowed.append(method)
                break
    return allowed


def _flatten_routes(routes: Sequence[Any]) -> Iterator[Any]:
    """The routes themselves, in order: FastAPI keeps an included router as one entry."""
    for route in routes:
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        if inner is not None:
            yield from _flatten_routes(inner)
        else:
            yield route


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """Pydantic errors as one line naming each field: ``limit: Input should be ...``."""
    parts = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        source, path = (location[0], location[1:]) if location else ("body", [])
        message = str(error.get("msg", "invalid value"))
        if source == "body":
            if not path and error.get("type") == "missing":
                parts.append("the request body is missing: send a JSON object")
                continue
            field = ".".join(path) or "request body"
        else:
            field = f"{source} parameter {'.'.join(path)}"
        parts.append(f"{field}: {message}")
    return "; ".join(parts) or "invalid request"


def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    hint = None
    content_type = request.headers.get("content-type", "")
    if any(tuple(e.get("loc", ())) == ("body",) for e in errors) and "json" not in content_type:
        hint = "send the body as JSON with the header Content-Type: application/json"
    return render_error(400, "invalid_input", describe_validation_errors(errors), hint)


def _handle_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the server log (uvicorn logs the re-raised exception), never
    # to the client.
    logger.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return render_error(500, "internal_error", "internal server error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SameSameError, _handle_library_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(Exception, _handle_unexpected_error)
