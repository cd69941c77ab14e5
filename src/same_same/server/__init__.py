"""The HTTP API: ``create_app(settings)`` builds it, ``serve(settings, options)`` runs it."""

from __future__ import annotations

from .app import ROUTERS, create_app
from .run import ServeOptions, serve
from .settings import DEFAULT_MAX_BODY_BYTES, ServerSettings, parse_addr

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ROUTERS",
    "ServerSettings",
    "create_app",
    "parse_addr",
    "ServeOptions",
    "serve",
]
