"""Reciprocal rank fusion of a vector list and a keyword list (hybrid mode).

    fused(d) = w_vector / (k + rank_vector(d)) + w_keyword / (k + rank_keyword(d))

summed over the lists ``d`` appears in (Cormack, Clarke and Buettcher, SIGIR 2009).
Ranks, not scores, are fused: bm25 and cosine live on scales that do not compare.
The weights are ``options.hybrid_weight``'s (1 and 1 without it); ``k`` is
``rrf_k``. Ties go to the higher cosine, then to the id, so the order is stable.
"""

from __future__ import annotations

from dataclasses import replace

from .hybrid import HybridWeights
from .records import Match


def fuse_ranks(
    vector: list[Match],
    keyword: list[Match],
    k: int,
    limit: int,
    weights: HybridWeights | None = None,
) -> list[Match]:
    """The best ``limit`` of both lists; keyword hits carry their ``keyword_rank``."""
    vector_weight, keyword_weight = (
        (weights.vector, weights.keyword) if weights is not None else (1.0, 1.0)
    )
    fused: dict[tuple[str, str], float] = {}
    found: dict[tuple[str, str], Match] = {}
    for rank, match in enumerate(vector, start=1):
        key = (match.namespace, match.id)
        fused[key] = fused.get(key, 0.0) + vector_weight / (k + rank)
        found.setdefault(key, match)
    for rank, match in enumerate(keyword, start=1):
        key = (match.namespace, match.id)
        fused[key] = fused.get(key, 0.0) + keyword_weight / (k + rank)
        found[key] = replace(found.get(key, match), keyword_rank=rank)
    order = sorted(fused, key=lambda key: (-fused[key], -found[key].score, key[1], key[0]))
    return [found[key] for key in order[:limit]]


__all__ = ["fuse_ranks"]
