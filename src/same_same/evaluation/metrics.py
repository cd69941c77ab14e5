"""Retrieval figures: recall at k, mean reciprocal rank, pair precision and recall."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RECALL_KS = (1, 5, 10)


@dataclass(frozen=True)
class RankFigures:
    """Per query, the rank (1-based) of its first relevant item, None if not found."""

    queries: int
    recall: dict[int, float]
    mrr: float

    def to_dict(self) -> dict[str, object]:
        return {
            "queries": self.queries,
            **{f"recall@{k}": round(value, 4) for k, value in self.recall.items()},
            "mrr": round(self.mrr, 4),
        }


def rank_figures(first_ranks: Sequence[int | None], ks: Sequence[int] = RECALL_KS) -> RankFigures:
    count = len(first_ranks)
    if count == 0:
        return RankFigures(0, {k: 0.0 for k in ks}, 0.0)
    recall = {k: sum(1 for r in first_ranks if r is not None and r <= k) / count for k in ks}
    mrr = sum(1.0 / r for r in first_ranks if r is not None) / count
    return RankFigures(count, recall, mrr)


def first_relevant_rank(ranked: Sequence[object], relevant: set[object]) -> int | None:
    return next((rank for rank, item in enumerate(ranked, 1) if item in relevant), None)


@dataclass(frozen=True)
class PairFigures:
    true_pairs: int
    found_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.found_pairs if self.found_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    def to_dict(self) -> dict[str, object]:
        return {
            "true_pairs": self.true_pairs,
            "found_pairs": self.found_pairs,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
        }


def pair_figures(true_pairs: set[frozenset[object]], found: set[frozenset[object]]) -> PairFigures:
    return PairFigures(len(true_pairs), len(found), len(true_pairs & found))


__all__ = [
    "PairFigures",
    "RankFigures",
    "first_relevant_rank",
    "pair_figures",
    "rank_figures",
]
