"""Hybrid scoring: vector similarity blended with keyword overlap.

    final = w_vector * cosine + w_keyword * keyword_score

``keyword_score`` is the fraction of the query's terms found among the terms of a
record's text and its string metadata values (strings inside lists count too).
Terms are the ``local`` embedder's tokens: lowercased words, stopwords removed,
plurals and -ing/-ed endings stripped, so "sunsets" finds "sunset". The two parts
lie in [-1, 1] and [0, 1], and the weights are normalised to sum to 1, so
``{"vector": 4, "metadata": 1}`` equals ``{"vector": 0.8, "metadata": 0.2}``.

Only a candidate pool is re-ranked: the top ``max(limit * 10, 100)`` records by
cosine similarity (after filters). A record with every query word but a vector far
from the query can therefore be missed; the pool keeps the cost of a hybrid query
close to that of a vector query.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .embedders.hashing import tokenize
from .errors import InvalidInputError
from .records import Match

_WEIGHT_KEYS = {"vector": "vector", "metadata": "keyword", "keyword": "keyword"}


@dataclass(frozen=True)
class HybridWeights:
    """Normalised weights (they sum to 1)."""

    vector: float
    keyword: float


def parse_hybrid_weights(value: Any) -> HybridWeights | None:
    """``{"vector": 0.8, "metadata": 0.2}`` (``keyword`` is a synonym of ``metadata``).

    None or an empty mapping means pure vector search. A missing weight is 0.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            'hybrid_weight must be an object like {"vector": 0.8, "metadata": 0.2}'
        )
    if not value:
        return None
    weights = {"vector": 0.0, "keyword": 0.0}
    seen: set[str] = set()
    for key, weight in value.items():
        if key not in _WEIGHT_KEYS:
            raise InvalidInputError(
                f"unknown hybrid_weight key {key!r}; known: vector, metadata (or keyword)"
            )
        canonical = _WEIGHT_KEYS[key]
        if canonical in seen:
            raise InvalidInputError("give hybrid_weight.metadata or .keyword, not both")
        seen.add(canonical)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise InvalidInputError(f"hybrid_weight.{key} must be a number, got {weight!r}")
        if not math.isfinite(weight) or weight < 0:
            raise InvalidInputError(f"hybrid_weight.{key} must be finite and >= 0, got {weight}")
        weights[canonical] = float(weight)
    total = weights["vector"] + weights["keyword"]
    if total == 0:
        raise InvalidInputError("hybrid_weight needs at least one weight above 0")
    return HybridWeights(vector=weights["vector"] / total, keyword=weights["keyword"] / total)


def _searchable_strings(match: Match) -> Iterable[str]:
    if match.text:
        yield match.text
    for value in match.metadata.values():
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from (item for item in value if isinstance(item, str))


def score_keywords(query_terms: set[str], match: Match) -> float:
    """Fraction of ``query_terms`` present in the match's text and string metadata."""
    if not query_terms:
        return 0.0
    words: set[str] = set()
    for value in _searchable_strings(match):
        words.update(tokenize(value))
    return len(query_terms & words) / len(query_terms)


def candidate_pool_size(limit: int) -> int:
    return max(limit * 10, 100)


def rerank_hybrid(
    query: str, candidates: list[Match], weights: HybridWeights, limit: int
) -> list[Match]:
    """Re-score ``candidates`` (cosine scores) with keyword overlap; best ``limit`` first."""
    terms = set(tokenize(query))
    rescored = [
        replace(
            match,
            score=weights.vector * match.score + weights.keyword * score_keywords(terms, match),
        )
        for match in candidates
    ]
    # Stable sort: ties keep the cosine order.
    rescored.sort(key=lambda match: match.score, reverse=True)
    return rescored[:limit]
