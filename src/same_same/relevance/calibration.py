"""A namespace's calibration: what scores unrelated queries get, turned into a relevance.

Cosine scores are not comparable across models: ViT-B-32's text-to-image scores live
around 0.2-0.35, the tiny test model's around 0.5-0.85. So each namespace is asked
the fixed null queries of ``null_set`` (unrelated texts; for image models, pictures
of nothing), and the scores of their best ``RANKS`` results are kept, rank by rank.
For each rank r a Gumbel distribution (the law of the largest of many scores) is
fitted to the r-th best scores by the method of moments; the relevance of a result
at rank r with score s is that distribution's CDF at s: the probability that an
unrelated query's r-th best score is lower. 0.95 means "an unrelated query scores
this high at this rank 1 time in 20". docs/relevance.md has the method and the
measured error rates.

A calibration is stored as a note beside its namespace (``VectorStore.write_note``)
with the record count it was made at, and is made again when the namespace has
grown or shrunk by a quarter (``is_current``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..records import EmbeddingSpace, NamespaceInfo

RANKS = 10
"""Ranks with their own null distribution; later ranks use the last one."""
VERSION = 1
NOTE_KEY = "relevance"
STALE_RATIO = 1.25
"""A calibration made at n records serves from n / 1.25 to n * 1.25 records."""
MIN_SCALE = 1e-3
"""Floor of a fitted scale: a namespace of identical records would otherwise divide by 0."""
_EULER_GAMMA = 0.5772156649015329

QueryKind = Literal["text", "image"]


@dataclass(frozen=True)
class RankNull:
    """The Gumbel distribution fitted to one rank's null scores."""

    location: float
    scale: float

    def cdf(self, score: float) -> float:
        z = (score - self.location) / self.scale
        if z < -30.0:  # exp(-exp(30)) underflows to 0 anyway; avoid the overflow
            return 0.0
        return math.exp(-math.exp(-z))

    @classmethod
    def fit(cls, scores: np.ndarray) -> RankNull:
        scale = max(float(np.std(scores)) * math.sqrt(6.0) / math.pi, MIN_SCALE)
        return cls(float(np.mean(scores)) - _EULER_GAMMA * scale, scale)


@dataclass(frozen=True)
class NullDistribution:
    """Null scores of one kind of query (text or image), fitted rank by rank."""

    ranks: tuple[RankNull, ...]
    queries: int
    best_scores: tuple[float, ...]
    """The null queries' best scores, sorted (kept for docs/relevance.md's plots and checks)."""

    def relevance(self, score: float, rank: int) -> float:
        """Relevance of ``score`` at ``rank`` (1 = best) in [0, 1]."""
        fitted = self.ranks[min(rank, len(self.ranks)) - 1]
        return round(fitted.cdf(score), 6)

    @classmethod
    def fit(cls, scores: Sequence[Sequence[float]]) -> NullDistribution | None:
        """``scores``: per null query, its best scores in rank order (as many as came back)."""
        depth = min((len(row) for row in scores), default=0)
        if depth == 0:
            return None
        table = np.asarray([list(row[:depth]) for row in scores], dtype=np.float64)
        ranks = tuple(RankNull.fit(table[:, rank]) for rank in range(depth))
        best = tuple(sorted(round(float(value), 6) for value in table[:, 0]))
        return cls(ranks=ranks, queries=len(table), best_scores=best)

    def to_dict(self) -> dict[str, Any]:
        return {
            "queries": self.queries,
            "ranks": [[rank.location, rank.scale] for rank in self.ranks],
            "best_scores": list(self.best_scores),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NullDistribution:
        ranks = tuple(RankNull(float(loc), float(scale)) for loc, scale in data["ranks"])
        if not ranks:
            raise ValueError("a null distribution needs at least one rank")
        return cls(ranks, int(data["queries"]), tuple(float(v) for v in data["best_scores"]))


@dataclass(frozen=True)
class Calibration:
    """What a namespace's scores mean; ``image`` is None for text-only models."""

    space: EmbeddingSpace
    record_count: int
    text: NullDistribution | None
    image: NullDistribution | None = None
    duplicate_threshold: float | None = None
    """Cosine above which two records are near duplicates (image models only)."""

    def null_for(self, kind: QueryKind) -> NullDistribution | None:
        """The null of a query kind: image queries fall back to the text null."""
        if kind == "image":
            return self.image or self.text
        return self.text

    def relevance(self, score: float, rank: int, kind: QueryKind) -> float | None:
        null = self.null_for(kind)
        return None if null is None else null.relevance(score, rank)

    def is_current(self, info: NamespaceInfo) -> bool:
        """Made for this namespace's space at about its present size."""
        if info.space != self.space:
            return False
        low, high = self.record_count / STALE_RATIO, self.record_count * STALE_RATIO
        return low <= info.count <= high

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "space": self.space.to_dict(),
            "record_count": self.record_count,
            "text": self.text.to_dict() if self.text else None,
            "image": self.image.to_dict() if self.image else None,
            "duplicate_threshold": self.duplicate_threshold,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Calibration | None:
        """None for anything that is not a calibration of this version (made again)."""
        try:
            if not isinstance(data, dict) or data.get("version") != VERSION:
                return None
            space = data["space"]
            threshold = data.get("duplicate_threshold")
            return cls(
                space=EmbeddingSpace(
                    str(space["embedder"]),
                    str(space["model"]),
                    str(space["pretrained"]),
                    int(space["dim"]),
                ),
                record_count=int(data["record_count"]),
                text=NullDistribution.from_dict(data["text"]) if data.get("text") else None,
                image=NullDistribution.from_dict(data["image"]) if data.get("image") else None,
                duplicate_threshold=None if threshold is None else float(threshold),
            )
        except (KeyError, TypeError, ValueError):
            return None


SearchScores = Callable[[np.ndarray, int], list[list[float]]]
"""``(query vectors, depth) -> per query, its best scores in the namespace``."""


def fit_nulls(
    text_vectors: np.ndarray | None, image_vectors: np.ndarray | None, search: SearchScores
) -> tuple[NullDistribution | None, NullDistribution | None]:
    """The text and image nulls from the null queries' vectors searched in a namespace."""
    text = NullDistribution.fit(search(text_vectors, RANKS)) if text_vectors is not None else None
    image = (
        NullDistribution.fit(search(image_vectors, RANKS)) if image_vectors is not None else None
    )
    return text, image


__all__ = [
    "NOTE_KEY",
    "RANKS",
    "Calibration",
    "NullDistribution",
    "QueryKind",
    "RankNull",
    "fit_nulls",
]
