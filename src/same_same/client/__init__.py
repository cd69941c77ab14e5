"""A Python client of same-same's REST API: ``Client`` (blocking) and ``AsyncClient``.

Answers come back as typed dataclasses (``SearchResults``, ``VectorRecord``, ...,
each with the JSON it came from in ``raw``); the server's errors are raised as the
library's own exceptions (``NamespaceNotFoundError``, ``InvalidInputError``, ...)
with its code and message. Needs httpx: ``pip install 'same-same[client]'``.
"""

from __future__ import annotations

from ..errors import MissingDependencyError

try:
    import httpx  # noqa: F401
except ImportError:
    raise MissingDependencyError("the Python client (same_same.client)", "client") from None

from .asynchronous import AsyncClient  # noqa: E402
from .calls import SearchOptions  # noqa: E402
from .errors import ClientError, ServerUnreachableError  # noqa: E402
from .results import (  # noqa: E402
    Deleted,
    DuplicateGroup,
    DuplicateMember,
    DuplicateReport,
    Health,
    Hit,
    Namespace,
    SearchResults,
    Space,
    VectorPage,
    VectorRecord,
)
from .sync import Client  # noqa: E402
from .transport import RetryPolicy  # noqa: E402

__all__ = [
    "AsyncClient",
    "Client",
    "ClientError",
    "Deleted",
    "DuplicateGroup",
    "DuplicateMember",
    "DuplicateReport",
    "Health",
    "Hit",
    "Namespace",
    "RetryPolicy",
    "SearchOptions",
    "SearchResults",
    "ServerUnreachableError",
    "Space",
    "VectorPage",
    "VectorRecord",
]
