"""Strict JSON request bodies (malformed JSON, NaN and Infinity become a 400), fast responses.

Python's ``json`` module accepts the literals ``NaN``, ``Infinity`` and ``-Infinity``
and turns ``1e999`` into ``inf``; none of them is JSON, and a non-finite number
stored in metadata would make every later response that carries it unencodable.
Bodies are parsed with orjson, which refuses all of them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from ..errors import InvalidInputError
from .errors import APIError

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_json_body(body: bytes) -> Any:
    """Parse a request body as strict JSON (APIError 400 ``invalid_json`` otherwise).

    orjson refuses ``NaN``, ``Infinity`` and numbers that overflow a double, as JSON
    does, and parses a query vector many times faster than the standard library with
    a finiteness check per float (docs/performance-notes.md has the figures).
    """
    if _LONG_INTEGER.search(body):
        return _parse_with_stdlib(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise APIError(400, "invalid_json", _describe(exc, body)) from None


def parse_filter_text(text: str | None, where: str = "query parameter 'filters'") -> Any:
    """A filter object given as JSON text (a query parameter, a form field); None: none."""
    if text is None or not text.strip():
        return None
    filters = parse_json_body(text.encode("utf-8"))
    if not isinstance(filters, dict):
        raise InvalidInputError(f"{where} must be a JSON object")
    return filters


_LONG_INTEGER = re.compile(rb"(?<![\d.eE])\d{19,}(?![\d.eE])")
"""orjson turns integers beyond 64 bits into floats; bodies with such long integers
go through the standard library, which keeps every integer exact. Digits after a
decimal point or before an exponent are a float's (a query vector's 0.0012345678901234567
has 19), which orjson parses exactly as well, so they do not count."""


def _reject_constant(name: str) -> Any:
    raise APIError(400, "invalid_json", f"{name} is not valid JSON; numbers must be finite")


def _parse_finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise APIError(400, "invalid_json", f"number {text} is too large; numbers must be finite")
    return value


def _parse_with_stdlib(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_reject_constant, parse_float=_parse_finite_float)
    except json.JSONDecodeError as exc:
        raise APIError(
            400,
            "invalid_json",
            f"malformed JSON body: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None
    except UnicodeDecodeError:
        raise APIError(400, "invalid_json", "the JSON body is not valid UTF-8") from None
    except RecursionError:
        raise APIError(400, "invalid_json", "the JSON body is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise APIError(400, "invalid_json", f"invalid JSON body: {exc}") from None


def _describe(exc: orjson.JSONDecodeError, body: bytes) -> str:
    reason = exc.msg
    if "recursion" in reason or "depth" in reason:
        return "the JSON body is nested too deeply"
    if "UTF-8" in reason or "surrogate" in reason:
        return f"the JSON body is not valid UTF-8 ({reason})"
    token = _token_at(body, exc.pos)
    where = f"at line {exc.lineno} column {exc.colno}"
    if token.lstrip("+-").lower().startswith(("nan", "inf")) or "infinity" in reason:
        return f"{token or 'a number'} is not valid JSON ({where}); numbers must be finite"
    return f"malformed JSON body: {reason} {where}" + (f" ({token!r})" if token else "")


_DELIMITERS = frozenset(b" \t\r\n,:[]{}")


def _token_at(body: bytes | str, pos: int) -> str:
    """The bare word or number around character ``pos`` of the body (for error messages)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if not 0 <= pos <= len(text):
        return ""
    start = pos
    while start > 0 and ord(text[start - 1]) not in _DELIMITERS and pos - start < 40:
        start -= 1
    end = pos
    while end < len(text) and ord(text[end]) not in _DELIMITERS and end - start < 40:
        end += 1
    token = text[start:end]
    return "" if token.startswith('"') else token


def json_response(payload: Any, status_code: int = 200) -> Response:
    """``payload`` as a JSON response, encoded once by orjson.

    Routes on the hot path return this instead of a dict, which FastAPI would walk
    through ``jsonable_encoder``, slowly (docs/performance-notes.md). Integers
    beyond 64 bits (possible in metadata ingested from files) fall back to ``json``.
    """
    try:
        content = orjson.dumps(payload)
    except TypeError:
        content = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
    return Response(content, status_code=status_code, media_type="application/json")


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json_body(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """An APIRoute whose handlers see JSON bodies through :func:`parse_json_body`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler


def validate_body(model: type[ModelT], data: Any) -> ModelT:
    """Validate a JSON body read by hand, with errors shaped like FastAPI's own."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None
