"""Strict JSON request bodies: malformed JSON, NaN and Infinity become a 400.

Python's ``json`` module accepts the literals ``NaN``, ``Infinity`` and ``-Infinity``
and turns ``1e999`` into ``inf``; none of them is JSON, and a non-finite number
stored in metadata would make every later response that carries it unencodable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from .errors import APIError

ModelT = TypeVar("ModelT", bound=BaseModel)


def _reject_constant(name: str) -> Any:
    raise APIError(400, "invalid_json", f"{name} is not valid JSON; numbers must be finite")


def _parse_finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise APIError(400, "invalid_json", f"number {text} is too large; numbers must be finite")
    return value


def parse_json_body(body: bytes) -> Any:
    """Parse a request body as strict JSON (APIError 400 ``invalid_json`` otherwise)."""
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
