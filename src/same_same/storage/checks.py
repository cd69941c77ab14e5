"""Checks a store runs on what callers hand it, before anything is written.

Each failure is an InvalidInputError naming the record or argument at fault, so
one bad item in a batch is easy to find.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import identifiers
from ..errors import InvalidInputError, SpaceMismatchError
from ..filters import FilterSet, parse_filters
from ..limits import MAX_STORED_VECTOR_NORM, MIN_STORED_VECTOR_NORM, check_metadata_limits
from ..normalization import normalized_rows
from ..records import EmbeddingSpace, Record


def check_namespace_name(name: object) -> str:
    """The name of a namespace about to be created (same_same.identifiers has the rule)."""
    return identifiers.check_namespace_name(name)


def check_space(space: object) -> EmbeddingSpace:
    if not isinstance(space, EmbeddingSpace):
        raise InvalidInputError(f"expected an EmbeddingSpace, got {type(space).__name__}")
    if isinstance(space.dim, bool) or not isinstance(space.dim, int) or space.dim < 1:
        raise InvalidInputError(
            f"embedding dimension must be a positive integer, got {space.dim!r}"
        )
    for field in ("embedder", "model", "pretrained"):
        if not isinstance(getattr(space, field), str):
            raise InvalidInputError(f"embedding space {field} must be a string")
    if not space.embedder or not space.model:
        raise InvalidInputError("an embedding space needs an embedder and a model name")
    return space


def check_ids(ids: object, what: str = "ids") -> list[str]:
    """A list of record ids, in order, without repeats."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise InvalidInputError(f"{what} must be a list of strings, got {type(ids).__name__}")
    for record_id in ids:
        if not isinstance(record_id, str):
            raise InvalidInputError(f"{what} must be strings, got {record_id!r}")
    return list(dict.fromkeys(ids))


def check_vector(vector: object, dim: int, what: str) -> np.ndarray:
    """``vector`` as a finite 1-D float32 array of ``dim`` numbers that a store can use.

    Stores keep a vector as given and compute cosines in float32, so its length must
    lie between MIN_STORED_VECTOR_NORM and MAX_STORED_VECTOR_NORM (limits), and all
    zeros, which has no direction, is refused.
    """
    array = _check_array(vector, dim, what)
    norm = float(np.linalg.norm(array.astype(np.float64)))
    if norm == 0.0:
        raise InvalidInputError(f"{what}: vector is all zeros, so it has no direction to compare")
    if not MIN_STORED_VECTOR_NORM <= norm <= MAX_STORED_VECTOR_NORM:
        raise InvalidInputError(
            f"{what}: vector length {norm:.3g} is outside {MIN_STORED_VECTOR_NORM:g} to "
            f"{MAX_STORED_VECTOR_NORM:g}, where the stores' float32 cosines are exact",
            hint="normalise vectors to unit length before storing them",
        )
    return array


def _check_array(vector: object, dim: int, what: str) -> np.ndarray:
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            array = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInputError(f"{what}: vector is not an array of numbers ({exc})") from None
    if array.shape != (dim,):
        raise InvalidInputError(
            f"{what}: vector has shape {array.shape}, expected ({dim},) for this namespace"
        )
    if not np.isfinite(array).all():
        raise InvalidInputError(
            f"{what}: vector contains NaN or infinity (or numbers too large for float32)"
        )
    return array


def encode_vector(vector: np.ndarray) -> bytes:
    """Little-endian float32 bytes, the same on every machine."""
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def encode_metadata(metadata: object, what: str) -> str:
    """Compact JSON of a record's metadata, within the metadata limits (limits)."""
    if metadata is None:
        return "{}"
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(
            f"{what}: metadata must be an object, got {type(metadata).__name__}"
        )
    try:
        return check_metadata_limits(metadata)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{what}: {exc.message}", hint=exc.hint) from None


def encode_record(record: Record, dim: int) -> tuple[str, bytes, str | None, str, str | None, bool]:
    """``(id, vector bytes, text, metadata JSON, content_hash, from_image_ingest)``, or
    InvalidInputError."""
    record_id = getattr(record, "id", None)
    if not isinstance(record_id, str) or not record_id:
        raise InvalidInputError(f"record ids must be non-empty strings, got {record_id!r}")
    what = f"record {record_id!r}"
    vector = check_vector(getattr(record, "vector", None), dim, what)
    text: Any = getattr(record, "text", None)
    content_hash: Any = getattr(record, "content_hash", None)
    if text is not None and not isinstance(text, str):
        raise InvalidInputError(f"{what}: text must be a string or null")
    if content_hash is not None and not isinstance(content_hash, str):
        raise InvalidInputError(f"{what}: content_hash must be a string or null")
    metadata = encode_metadata(getattr(record, "metadata", None), what)
    from_image_ingest = bool(getattr(record, "from_image_ingest", False))
    return record_id, encode_vector(vector), text, metadata, content_hash, from_image_ingest


def check_namespace_space(name: str, existing: EmbeddingSpace, wanted: EmbeddingSpace) -> None:
    """SpaceMismatchError unless namespace ``name``, made for ``existing``, takes ``wanted``."""
    if existing != wanted:
        raise SpaceMismatchError(
            f"namespace {name!r} holds vectors of {existing.describe()}, not {wanted.describe()}",
            hint="use another namespace (-n), the same embedder and model, "
            "or delete this one to start over",
        )


def check_same_space(spaces: Mapping[str, EmbeddingSpace]) -> EmbeddingSpace:
    """The one space shared by the namespaces, or SpaceMismatchError naming two of them."""
    (first_name, first), *others = spaces.items()
    for name, space in others:
        if space != first:
            raise SpaceMismatchError(
                f"cannot search namespaces {first_name!r} ({first.describe()}) and {name!r} "
                f"({space.describe()}) together: their vectors come from different models",
                hint="search them one at a time",
            )
    return first


def check_query(vector: object, space: EmbeddingSpace) -> np.ndarray:
    """A unit-length float32 query vector for ``space``, normalised in float64."""
    query = _check_array(vector, space.dim, "query")
    if not np.any(query):
        raise InvalidInputError("query: vector is all zeros, so it has no direction to compare")
    return normalized_rows(query)[0]


MAX_NOTE_BYTES = 65_536
"""The largest note (as JSON) a store keeps beside a namespace."""


def check_note(key: object, value: object) -> str:
    """``value`` as the JSON text a store keeps under ``key`` (InvalidInputError when
    the key is not a short non-empty string or the value is not small JSON)."""
    if not isinstance(key, str) or not key or len(key) > 200:
        raise InvalidInputError(
            f"a note's key must be a string of 1 to 200 characters, got {key!r}"
        )
    try:
        text = json.dumps(value, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"note {key!r} is not JSON: {exc}") from None
    if len(text.encode()) > MAX_NOTE_BYTES:
        raise InvalidInputError(f"note {key!r} is over {MAX_NOTE_BYTES} bytes as JSON")
    return text


def check_count(value: object, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidInputError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class SearchArgs:
    """A search's arguments, checked: namespaces without repeats, in the order given."""

    names: list[str]
    limit: int
    conditions: FilterSet
    excluded: list[str]


def check_search(
    namespaces: object,
    limit: object,
    filters: Mapping[str, Any] | FilterSet | None,
    exclude_ids: object,
) -> SearchArgs:
    """What every store checks before a search (InvalidInputError naming the argument)."""
    conditions = parse_filters(filters)
    checked_limit = check_count(limit, "limit", 1)
    names = list(dict.fromkeys(check_ids(namespaces, "namespaces")))
    if not names:
        raise InvalidInputError("search needs at least one namespace")
    return SearchArgs(names, checked_limit, conditions, check_ids(exclude_ids, "exclude_ids"))
