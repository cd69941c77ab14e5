"""Checks of what users send, shared by every service: vectors, limits, ids, query text,
metadata, filters, and the namespace a request names (the size limits: ``limits``).

Each check returns the value in its canonical form or raises ``InvalidInputError``
(``NamespaceNotFoundError`` for a namespace) with a message that names the field.
Services call these; they never import each other for a check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import identifiers
from .errors import InvalidInputError, NamespaceNotFoundError
from .filters import parse_filters
from .limits import (
    MAX_QUERY_TEXT_BYTES,
    check_metadata_limits,
    check_record_text,
    utf8_size,
)
from .normalization import normalized_rows
from .records import NamespaceInfo
from .storage import Filters, VectorStore

MAX_LIMIT = 1000
"""Results per search, and records per page."""


def coerce_vector(value: Any, name: str = "embedding") -> np.ndarray:
    """``value`` as a unit-length 1-D float32 vector (InvalidInputError).

    Any finite numbers are taken, however large or small: the vector is normalised
    in float64 (``normalized_rows``) and only then cast to float32, so
    ``[2e19, 1e19, 0]`` keeps its direction. All zeros has no direction and is refused.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iuf":
            raise InvalidInputError(f"{name} must hold numbers, got dtype {value.dtype}")
        array = value.astype(np.float64)
    elif isinstance(value, (list, tuple)):
        # One pass in C over the element types, not a Python loop per element.
        if not set(map(type, value)) <= {float, int}:
            for index, item in enumerate(value):
                if isinstance(item, bool) or not isinstance(item, (int, float)):
                    raise InvalidInputError(f"{name}[{index}] must be a number, got {item!r}")
        try:
            array = np.asarray(value, dtype=np.float64)
        except OverflowError:  # an int beyond what a float holds
            raise InvalidInputError(f"{name} holds a number too large for a float") from None
    else:
        raise InvalidInputError(f"{name} must be a list of numbers, got {type(value).__name__}")
    if array.ndim != 1:
        raise InvalidInputError(f"{name} must be a flat list of numbers")
    if array.size == 0:
        raise InvalidInputError(f"{name} is empty")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise InvalidInputError(f"{name}[{bad[0]}] is {array[bad[0]]}: every value must be finite")
    if not np.any(array):
        raise InvalidInputError(f"{name} is all zeros; cosine similarity needs a direction")
    return check_embedded(normalized_rows(array[None, :])[0], name)


def check_embedded(vector: np.ndarray, what: str) -> np.ndarray:
    """``vector`` unless it is zero or not finite: a vector that cannot be compared."""
    if not np.isfinite(vector).all() or not np.any(vector):
        raise InvalidInputError(
            f"{what} gave no usable vector (all zeros, or not finite)",
            hint="give some words or numbers the model can read",
        )
    return vector


def check_limit(limit: Any, name: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidInputError(f"{name} must be an integer, got {limit!r}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"{name} must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def check_offset(offset: Any) -> int:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInputError(f"offset must be an integer >= 0, got {offset!r}")
    return offset


def check_filters(filters: Any) -> Filters | None:
    """None, or a filter object that parses (InvalidInputError naming the field at fault).

    The store parses filters again; checking here first refuses a bad filter before a
    query is embedded (which may mean loading a model).
    """
    if filters is None:
        return None
    parse_filters(filters)
    return dict(filters) or None


def check_query_text(text: Any) -> str:
    """A query text of at most MAX_QUERY_TEXT_BYTES, not blank (InvalidInputError)."""
    if not isinstance(text, str):
        raise InvalidInputError(f"the query text must be a string, got {type(text).__name__}")
    # len() first: a huge text is refused without encoding it
    if len(text) > MAX_QUERY_TEXT_BYTES or utf8_size(text) > MAX_QUERY_TEXT_BYTES:
        raise InvalidInputError(
            f"the query text is longer than {MAX_QUERY_TEXT_BYTES:,} bytes "
            "(MAX_QUERY_TEXT_BYTES)",
            hint="the model reads only the first 77 tokens; a sentence or two is plenty",
        )
    if not text.strip():
        raise InvalidInputError("the query text is empty", hint="give some words to search for")
    return text


def check_record_id(record_id: Any) -> str:
    """An id a new record may be stored under (``identifiers`` has the rule)."""
    return identifiers.check_record_id(record_id)


def check_existing_record_id(record_id: Any) -> str:
    """An id to look a stored record up by: any non-empty string, so that records an older
    version stored under ids the rule now refuses stay readable, updatable and deletable."""
    if not isinstance(record_id, str) or not record_id:
        raise InvalidInputError("a record id must be a non-empty string")
    return record_id


def check_text(text: Any) -> str | None:
    """An optional text field of a record, of at most MAX_RECORD_TEXT_BYTES."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidInputError(f"text must be a string, got {type(text).__name__}")
    return check_record_text(text)


def check_metadata(metadata: Any) -> dict[str, Any]:
    """A copy of an optional metadata object with string keys, within the metadata limits
    (``limits.check_metadata_limits``)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
        raise InvalidInputError("metadata must be an object with string keys")
    check_metadata_limits(metadata)
    return dict(metadata)


def require_namespace(store: VectorStore, name: str) -> NamespaceInfo:
    """The namespace ``name``, or NamespaceNotFoundError listing the existing ones."""
    info = store.find_namespace(name)
    if info is None:
        raise namespace_not_found(name, store.list_namespaces())
    return info


def namespace_not_found(name: str, infos: list[NamespaceInfo]) -> NamespaceNotFoundError:
    existing = ", ".join(info.name for info in infos) or "none yet"
    return NamespaceNotFoundError(f"namespace {name!r} does not exist; existing: {existing}")
