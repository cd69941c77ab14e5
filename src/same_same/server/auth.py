"""The optional API key: required on every ``/api/`` route, compared in constant time.

Accepted as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``. ``/health``, the
page, its static files and the API docs stay open so a browser can load them;
``/metrics`` too, unless ``protect_metrics`` (``serve --metrics-auth``).
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import InvalidInputError
from .errors import render_error

PROTECTED_PREFIX = "/api/"
METRICS_PATH = "/metrics"


def check_api_key(api_key: str | None) -> str | None:
    """None (no key: the API is open) or a usable key; an empty or blank key is refused.

    An empty ``SAME_SAME_API_KEY`` used to turn authentication off without a word,
    which is the opposite of what whoever set it meant.
    """
    if api_key is None:
        return None
    if not api_key.strip():
        raise InvalidInputError(
            "the API key is empty, which would leave the API open to anyone",
            hint="set SAME_SAME_API_KEY (or --api-key) to a secret, or unset it to serve "
            "without a key",
        )
    if api_key != api_key.strip():
        raise InvalidInputError(
            "the API key starts or ends with white space, which clients cannot send",
            hint="remove the spaces around it",
        )
    return api_key


def read_api_key_file(path: str | os.PathLike[str]) -> str:
    """The key a file holds: its first line, without the line break (``--api-key-file``)."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InvalidInputError(f"cannot read the API key file {path}: {reason}") from None
    lines = text.splitlines()
    return lines[0] if lines else ""


def extract_api_key(headers: Headers) -> str | None:
    direct = headers.get("x-api-key")
    if direct:
        return direct.strip()
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class APIKeyMiddleware:
    def __init__(self, app: ASGIApp, api_key: str, protect_metrics: bool = False) -> None:
        self.app = app
        self._expected = api_key.encode("utf-8")
        self._protect_metrics = protect_metrics

    def _is_protected(self, path: str) -> bool:
        if self._protect_metrics and path.rstrip("/") == METRICS_PATH:
            return True
        return path.startswith(PROTECTED_PREFIX) or path == PROTECTED_PREFIX.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._is_protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = extract_api_key(Headers(scope=scope))
        if given is not None and hmac.compare_digest(given.encode("utf-8"), self._expected):
            await self.app(scope, receive, send)
            return
        message = "missing API key" if given is None else "wrong API key"
        response = render_error(
            401,
            "unauthorized",
            message,
            hint="send Authorization: Bearer KEY or X-API-Key: KEY",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)
