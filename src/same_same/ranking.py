"""How a search ranks and cuts its results: one frozen set of options, checked once.

``mode``: ``vector`` ranks by cosine similarity (the default); ``keyword`` by the
keyword index's bm25 over record text, labels, file names, paths and string
metadata; ``hybrid`` fuses the two lists by reciprocal rank (``fusion``), so a query
that names a file or a label finds it first and one that describes a picture still
ranks by meaning. ``hybrid_weight`` (the older option) re-ranks a vector search by
keyword overlap when no mode is given, and weighs the two lists of a hybrid one.

``recency`` (a half-life in days) blends each photo's age into the order, and
``sort`` shows the results in date (or another field's) order; see ``ordering``.

``min_score`` cuts by raw cosine; ``min_relevance`` by calibrated relevance
(``relevance``). Both judge the vector evidence: a record that matched the query's
words in keyword or hybrid mode is kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from .errors import InvalidInputError
from .hybrid import HybridWeights, parse_hybrid_weights
from .ordering import SortOrder, check_recency, parse_sort

SearchMode = Literal["vector", "keyword", "hybrid"]
MODES: tuple[SearchMode, ...] = ("vector", "keyword", "hybrid")
DEFAULT_RRF_K = 60
"""Reciprocal rank fusion's k (Cormack et al. 2009): 60 keeps the lists' tops close."""
MAX_RRF_K = 10_000


@dataclass(frozen=True)
class RankingOptions:
    mode: SearchMode = "vector"
    rrf_k: int = DEFAULT_RRF_K
    hybrid: HybridWeights | None = None
    min_score: float | None = None
    min_relevance: float | None = None
    recency: float | None = None
    """Half-life in days on ``taken_ts`` (``ordering.blend_recency``); None: no recency."""
    sort: SortOrder | None = None
    """Show the results in this field's order (after ranking and cut-offs)."""

    @property
    def uses_keywords(self) -> bool:
        return self.mode != "vector"

    def check_vector_only(self, what: str) -> RankingOptions:
        """For searches without words (by vector, by image): only vector mode applies."""
        if self.mode != "vector":
            raise InvalidInputError(
                f"mode {self.mode!r} needs a text query; a search by {what} ranks by vector only"
            )
        return self


def parse_ranking(
    mode: Any = None,
    rrf_k: Any = None,
    hybrid_weight: Any = None,
    min_score: Any = None,
    min_relevance: Any = None,
    recency: Any = None,
    sort: Any = None,
) -> RankingOptions:
    """Options from a request's values (None: the default), with one clear error each."""
    return RankingOptions(
        recency=check_recency(recency),
        sort=parse_sort(sort),
        mode=_check_mode(mode),
        rrf_k=_check_rrf_k(rrf_k),
        hybrid=parse_hybrid_weights(hybrid_weight) if hybrid_weight is not None else None,
        min_score=_check_fraction(min_score, "min_score", low=-1.0),
        min_relevance=_check_fraction(min_relevance, "min_relevance", low=0.0),
    )


def coerce_ranking(value: RankingOptions | Mapping[str, Any] | None) -> RankingOptions:
    if value is None:
        return RankingOptions()
    if isinstance(value, RankingOptions):
        return value
    return parse_ranking(**dict(value))


def _check_mode(mode: Any) -> SearchMode:
    if mode is None:
        return "vector"
    if mode not in MODES:
        raise InvalidInputError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    return cast(SearchMode, mode)


def _check_rrf_k(value: Any) -> int:
    if value is None:
        return DEFAULT_RRF_K
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RRF_K:
        raise InvalidInputError(f"rrf_k must be an integer from 1 to {MAX_RRF_K}, got {value!r}")
    return value


def _check_fraction(value: Any, name: str, low: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or not low <= value <= 1.0:
        raise InvalidInputError(f"{name} must be from {low:g} to 1, got {value!r}")
    return float(value)


__all__ = [
    "DEFAULT_RRF_K",
    "MODES",
    "RankingOptions",
    "SearchMode",
    "coerce_ranking",
    "parse_ranking",
]
