"""The connection to Milvus, and its errors translated into same-same's.

A server that cannot be reached (down, wrong address, a timeout) is one
StoreUnavailableError, "cannot reach Milvus at HOST:PORT: REASON", which the CLI
prints as one line and the API answers with 503; the client reconnects by itself
when the server is back. Anything else Milvus refuses is a StoreError naming it.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from typing import Any

from ...errors import InvalidInputError, MissingDependencyError, StoreError, StoreUnavailableError
from .location import MilvusLocation

_UNREACHABLE_WORDS = (
    "unavailable",
    "fail connecting",
    "connection refused",
    "connect failed",
    "deadline",
    "timeout",
    "timed out",
    "not ready",
    "failed to connect",
    "socket closed",
    "channel closed",
    "broken pipe",
    "server is not healthy",
)


def import_pymilvus() -> Any:
    try:
        import pymilvus
    except ImportError:
        raise MissingDependencyError("the Milvus store", "milvus") from None
    return pymilvus


def connect(location: MilvusLocation) -> Any:
    """A MilvusClient of its own for ``location`` (StoreUnavailableError when unreachable).

    pymilvus shares one connection among the clients of a URI unless each names its
    own alias; with a shared one, closing one store would close every other store's.
    """
    pymilvus = import_pymilvus()
    # pymilvus logs an ERROR line for every failed call; the typed error says it once
    for name in ("pymilvus", "pymilvus.milvus_client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    with translate_errors(location):
        return pymilvus.MilvusClient(
            uri=location.uri,
            token=location.token,
            db_name=location.database,
            timeout=min(location.timeout, 5),
            alias=f"same-same-{uuid.uuid4().hex}",
        )


@contextlib.contextmanager
def translate_errors(location: MilvusLocation) -> Iterator[None]:
    """Turn pymilvus and gRPC errors raised inside into same-same's typed errors."""
    try:
        yield
    except (StoreError, InvalidInputError):
        raise
    except Exception as exc:  # noqa: BLE001 - every client error gets a typed, one-line form
        raise translate(exc, location) from None


def translate(exc: Exception, location: MilvusLocation) -> Exception:
    from pymilvus.exceptions import MilvusException

    reason = _reason(exc)
    if isinstance(exc, (ConnectionError, TimeoutError)) or _sounds_unreachable(exc, reason):
        return StoreUnavailableError(
            f"cannot reach Milvus at {location.display}: {reason}",
            hint="is Milvus running there? check --store or $SAME_SAME_STORE",
        )
    if isinstance(exc, MilvusException):
        return StoreError(f"Milvus at {location.display} refused the request: {reason}")
    return exc


def _sounds_unreachable(exc: Exception, reason: str) -> bool:
    kind = type(exc).__name__
    if kind in ("MilvusUnavailableException", "FutureTimeoutError", "_InactiveRpcError"):
        return True
    lowered = reason.lower()
    return any(word in lowered for word in _UNREACHABLE_WORDS)


def _reason(exc: Exception) -> str:
    import grpc
    from pymilvus.exceptions import MilvusException

    text = ""
    if isinstance(exc, MilvusException):
        text = exc.message
    elif isinstance(exc, grpc.RpcError) and isinstance(exc, grpc.Call):
        text = str(exc.details())
    text = text or str(exc) or type(exc).__name__
    return " ".join(text.split())[:300]


__all__ = ["connect", "import_pymilvus", "translate", "translate_errors"]
