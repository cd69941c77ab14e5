"""Typed errors. The library raises these; the CLI prints one line, the API returns 4xx JSON.

Each error carries a machine-readable ``code``, an HTTP ``status`` for the API edge
and an optional ``hint`` telling the user what to do next.
"""

from __future__ import annotations


class SameSameError(Exception):
    """Base class of every error a user can cause or fix."""

    code = "bad_request"
    status = 400

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InvalidInputError(SameSameError):
    """A value given by the user is malformed or out of range."""

    code = "invalid_input"
    status = 400


class NotFoundError(SameSameError):
    code = "not_found"
    status = 404


class NamespaceNotFoundError(NotFoundError):
    code = "namespace_not_found"


class RecordNotFoundError(NotFoundError):
    code = "record_not_found"


class SpaceMismatchError(SameSameError):
    """Vectors of one embedding space were about to be mixed with another's."""

    code = "space_mismatch"
    status = 409


class AmbiguousSpaceError(SameSameError):
    """A request did not say which namespace, and namespaces of several spaces exist."""

    code = "ambiguous_space"
    status = 400


class UnknownNameError(SameSameError):
    """A registry lookup (embedder, source, store, backend) failed."""

    code = "unknown_name"
    status = 400

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(sorted(known))}")
        self.kind = kind
        self.name = name
        self.known = known


class MissingDependencyError(SameSameError):
    """An optional extra is not installed."""

    code = "missing_dependency"
    status = 501

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(
            f"{feature} needs the [{extra}] extra",
            hint=f"pip install 'same-same[{extra}]'",
        )
        self.extra = extra


class UnsupportedOperationError(SameSameError):
    """The store's backend cannot do this (keyword search on Milvus)."""

    code = "unsupported_operation"
    status = 501


class ModelUnavailableError(SameSameError):
    """Model weights could not be loaded (no network, bad path, unknown tag)."""

    code = "model_unavailable"
    status = 503


class SourceError(SameSameError):
    """A whole source cannot be read (missing file, unknown source)."""

    code = "source_error"
    status = 400


class StoreError(SameSameError):
    """The store cannot be opened or is corrupt."""

    code = "store_error"
    status = 500


class StoreUnavailableError(StoreError):
    """The store's server cannot be reached (it may come back: the API answers 503)."""

    code = "store_unavailable"
    status = 503


class DiskFullError(StoreError):
    """The disk under the store filled up. What was committed before stays readable.

    507 Insufficient Storage is the status HTTP has for exactly this: the request was
    fine, the server has no room to keep its result."""

    code = "disk_full"
    status = 507


class ReadOnlyStoreError(StoreError):
    """A write reached a store opened read-only (a read-only mount or unwritable files).

    403, not 503: retrying will not help until someone remounts the data directory or
    changes its permissions, and reads keep working meanwhile."""

    code = "store_read_only"
    status = 403


class UnsupportedModalityError(SameSameError):
    """An embedder was asked for a modality it does not handle (images on a text model)."""

    code = "unsupported_modality"
    status = 400
