"""The server's JSON errors raised as the library's own typed exceptions.

``{"error": {"status": 404, "code": "namespace_not_found", "message": ..., "hint": ...}}``
becomes ``NamespaceNotFoundError(message, hint)`` with the server's ``status`` and
``code``; a code the library has no class for becomes a ``ClientError`` carrying them.
"""

from __future__ import annotations

import importlib
from typing import Any

from .. import errors as library

# Classes outside same_same.errors, imported only when the server sends their code
# (the imaging package loads Pillow).
_ELSEWHERE = {
    "image_decode_error": ("same_same.imaging.errors", "ImageDecodeError"),
    "no_image": ("same_same.thumbnails", "NoImageError"),
    "image_missing": ("same_same.thumbnails", "ImageMissingError"),
    "image_unreadable": ("same_same.thumbnails", "ImageUnreadableError"),
    "busy": ("same_same.imaging.query", "QueryImagesBusyError"),
}


class ClientError(library.SameSameError):
    """An error answer whose code the library has no class for (``unauthorized``,
    ``body_too_large``, ``internal_error``, ...), or no answer at all."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code


class ServerUnreachableError(ClientError):
    """No answer after every attempt: nothing listens there, or the connection broke.

    ``attempts``: how many times the request was tried."""

    def __init__(self, message: str, attempts: int, hint: str | None = None) -> None:
        super().__init__(503, "server_unreachable", message, hint)
        self.attempts = attempts


def _library_classes() -> dict[str, type[library.SameSameError]]:
    found: dict[str, type[library.SameSameError]] = {}
    pending: list[type[library.SameSameError]] = [library.SameSameError]
    while pending:
        cls = pending.pop()
        if cls.__module__ == library.__name__:
            found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


_CLASSES = _library_classes()


def find_error_class(code: str) -> type[library.SameSameError] | None:
    """The library's exception class for a server error code, None when it has none."""
    if code in _CLASSES:
        return _CLASSES[code]
    if code in _ELSEWHERE:
        module, name = _ELSEWHERE[code]
        cls = getattr(importlib.import_module(module), name)
        assert isinstance(cls, type) and issubclass(cls, library.SameSameError)
        return cls
    return None


def build_error(status: int, body: Any, fallback_message: str) -> library.SameSameError:
    """The exception for one error answer: its body parsed when it has the API's shape."""
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        return ClientError(status, "http_error", f"HTTP {status}: {fallback_message}")
    code = str(detail.get("code") or "http_error")
    message = str(detail.get("message") or fallback_message)
    hint = detail.get("hint")
    hint = str(hint) if hint is not None else None
    cls = find_error_class(code)
    if cls is None:
        return ClientError(status, code, message, hint)
    # Some classes build their own message from other arguments (UnknownNameError):
    # the server's message is kept as sent instead.
    error = cls.__new__(cls)
    library.SameSameError.__init__(error, message, hint)
    error.status = status
    error.code = code
    return error


__all__ = ["ClientError", "ServerUnreachableError", "build_error", "find_error_class"]
