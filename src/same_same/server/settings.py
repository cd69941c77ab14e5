"""What a server is built from: explicit settings, no module-level state."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from ..embedder_cache import DEFAULT_QUERY_CACHE_SIZE
from ..embedders import EmbedderOptions
from ..errors import InvalidInputError
from ..imaging.query import DEFAULT_QUERY_DECODES, QUERY_MAX_PIXELS
from ..watch.background import WatchRequest

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class ServerSettings:
    data_dir: Path
    api_key: str | None = None
    debug: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    store: str | None = None
    """A store spec (see ``storage.open_store``); None: $SAME_SAME_STORE, else sqlite."""
    embedder_options: EmbedderOptions = field(default_factory=EmbedderOptions)
    query_cache_size: int = DEFAULT_QUERY_CACHE_SIZE
    query_image_max_pixels: int = QUERY_MAX_PIXELS
    """Bigger query images are refused (400); ingest has its own, higher limit."""
    query_image_decodes: int = DEFAULT_QUERY_DECODES
    """How many query images are decoded at once; further requests wait for a turn."""
    watches: tuple[WatchRequest, ...] = ()
    """Folders kept in sync by threads of the server process (``serve --watch``)."""
    metrics_require_key: bool = False
    """``/metrics`` asks for the API key as ``/api/`` does (``serve --metrics-auth``)."""
    metrics_per_worker: bool = False
    """Label each process's series with its pid (set by ``serve`` with ``--workers`` > 1)."""

    def __post_init__(self) -> None:
        for name in ("query_image_max_pixels", "query_image_decodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be a whole number >= 1, not {value!r}")


def parse_addr(addr: str) -> tuple[str, int]:
    """``HOST:PORT`` to ``(host, port)``. ``:8080`` listens on every interface (0.0.0.0).

    ``[::1]:8080`` gives an IPv6 host; a bare ``8080`` means 127.0.0.1:8080.
    """
    hint = "use HOST:PORT, e.g. 127.0.0.1:8080, or :8080 for every interface"
    text = addr.strip() if isinstance(addr, str) else ""
    if _is_ascii_number(text):
        host, port_text = DEFAULT_HOST, text
    elif text.startswith("["):
        closing = text.find("]")
        if closing < 0 or text[closing + 1 : closing + 2] != ":":
            raise InvalidInputError(f"invalid address {addr!r}", hint=hint)
        host, port_text = text[1:closing], text[closing + 2 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidInputError(f"invalid IPv6 address in {addr!r}", hint=hint) from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or ":" in host:
            raise InvalidInputError(f"invalid address {addr!r}: no port", hint=hint)
        host = host or "0.0.0.0"
        if any(ch.isspace() or ch in "/?#@" for ch in host):
            raise InvalidInputError(f"invalid host in {addr!r}", hint=hint)
    if not _is_ascii_number(port_text) or not 1 <= int(port_text) <= 65535:
        raise InvalidInputError(
            f"invalid port in {addr!r}: must be a number from 1 to 65535", hint=hint
        )
    return host, int(port_text)


def _is_ascii_number(text: str) -> bool:
    return text.isascii() and text.isdigit()
