"""Putting records in date (or any field's) order, and blending recency into search scores.

``sort``: ``"taken_at"`` (oldest first) or ``"-taken_at"`` (newest first); any
metadata field (a dotted path, as filters name them) works the same way. Values
compare as filters compare them: numbers with numbers, strings by code point (ISO
dates in date order). Records where the field is missing, null or not a number or
string come last in either direction; ties, and those records, go by id, then
namespace, so pages are stable.

``recency`` (``options.recency`` on a search): a half-life in days. A result's
``recency_score`` is its cosine ``score`` times ``0.5 ** (age_days / recency)``,
where the age is counted from ``taken_ts`` (``imaging.exif``; a photo dated in the
future counts as new), and results are ordered by it: a photo a half-life old
needs twice the cosine of one taken today to rank beside it. A negative score is
pushed down by the same factor (multiplied by ``2 - factor``), so older never
ranks better. A result with no ``taken_ts`` counts as infinitely old (factor 0).
``score`` stays the cosine, so ``min_score`` and relevance mean what they always do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from .errors import InvalidInputError
from .filters import parse_field_path, read_path
from .records import Match

SECONDS_PER_DAY = 86_400.0
MAX_RECENCY_DAYS = 365_250.0
"""A thousand years: longer half-lives blend in nothing a float can tell apart."""
RECENCY_FIELD = "taken_ts"

Item = TypeVar("Item")


@dataclass(frozen=True)
class SortOrder:
    """Sort by the value at ``path``; ``descending``: largest (newest) first."""

    field: str
    path: tuple[str, ...]
    descending: bool = False


def parse_sort(value: Any) -> SortOrder | None:
    """``"taken_at"``, ``"-taken_at"`` (None: no sort); InvalidInputError otherwise."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip("-"):
        raise InvalidInputError(
            f"sort must be a field name such as 'taken_at' or '-taken_at', got {value!r}"
        )
    descending = value.startswith("-")
    field = value[1:] if descending else value
    try:
        path = parse_field_path(field)
    except InvalidInputError as exc:
        raise InvalidInputError(f"sort: {exc.message}") from None
    return SortOrder(field, path, descending)


def sort_items(
    items: Sequence[Item],
    order: SortOrder,
    metadata_of: Callable[[Item], Mapping[str, Any]],
    tie_of: Callable[[Item], tuple[str, ...]],
) -> list[Item]:
    """``items`` in ``order``; ``tie_of`` gives the id (and namespace) that breaks ties."""
    present: list[tuple[Any, Item]] = []
    missing: list[Item] = []
    for item in items:
        key = _value_key(read_path(metadata_of(item), order.path))
        if key is None:
            missing.append(item)
        else:
            present.append((key, item))
    present.sort(key=lambda pair: tie_of(pair[1]))
    present.sort(key=lambda pair: pair[0], reverse=order.descending)  # stable: ties by id
    missing.sort(key=tie_of)
    return [item for _, item in present] + missing


def sort_matches(matches: Sequence[Match], order: SortOrder) -> list[Match]:
    return sort_items(
        matches, order, lambda match: match.metadata, lambda match: (match.id, match.namespace)
    )


def _value_key(value: Any) -> tuple[int, Any] | None:
    # numbers sort before strings; booleans, arrays and objects have no place in the order
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else (0, value)
    if isinstance(value, str):
        return (1, value)
    return None


def check_recency(value: Any) -> float | None:
    """A half-life in days: a positive number (None: no recency)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"recency must be a half-life in days (a number), got {value!r}")
    if not math.isfinite(value) or not 0 < value <= MAX_RECENCY_DAYS:
        raise InvalidInputError(
            f"recency must be a half-life in days above 0 and at most {MAX_RECENCY_DAYS:g}, "
            f"got {value!r}"
        )
    return float(value)


def recency_factor(metadata: Mapping[str, Any], half_life_days: float, now: float) -> float:
    """``0.5 ** (age_days / half_life_days)`` from ``taken_ts``; 0.0 without a date."""
    taken = metadata.get(RECENCY_FIELD)
    if isinstance(taken, bool) or not isinstance(taken, (int, float)) or not math.isfinite(taken):
        return 0.0
    age_days = max(0.0, (now - taken) / SECONDS_PER_DAY)
    return float(0.5 ** (age_days / half_life_days))


def blend_recency(
    matches: Sequence[Match], half_life_days: float, now: float | None = None
) -> list[Match]:
    """``matches`` with ``recency_score`` set, best first (ties by id, then namespace)."""
    moment = time.time() if now is None else now
    blended = []
    for match in matches:
        factor = recency_factor(match.metadata, half_life_days, moment)
        score = match.score * factor if match.score >= 0 else match.score * (2.0 - factor)
        blended.append(replace(match, recency_score=score))
    blended.sort(key=lambda match: (match.id, match.namespace))
    blended.sort(key=lambda match: -(match.recency_score or 0.0))
    return blended


__all__ = [
    "MAX_RECENCY_DAYS",
    "SortOrder",
    "blend_recency",
    "check_recency",
    "parse_sort",
    "recency_factor",
    "sort_items",
    "sort_matches",
]
