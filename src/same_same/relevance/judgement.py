"""A search's results judged: each one's relevance, the cut-offs, and "no good match".

A result's relevance is its score's, at its rank among the results' scores, under
its own namespace's calibration. The query as a whole has a good match when its
best score is unlikely for an unrelated query (its rank-1 relevance reaches
``min_relevance``, or ``GOOD_MATCH_RELEVANCE`` when the request sets none), or when
a record matched its words (keyword and hybrid modes). Cut-offs (``min_score``,
``min_relevance``) drop results on their vector evidence only; with
``min_relevance``, a query without a good match answers no results at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..ranking import RankingOptions
from ..records import Match
from .calibration import Calibration, QueryKind

GOOD_MATCH_RELEVANCE = 0.95
"""Below this rank-1 relevance (and with no keyword hit) a query has no good match."""


@dataclass(frozen=True)
class Judgement:
    matches: list[Match]
    no_good_match: bool
    best_score: float | None
    best_relevance: float | None


def judge_matches(
    matches: list[Match],
    calibrations: Mapping[str, Calibration | None],
    kind: QueryKind,
    ranking: RankingOptions,
) -> Judgement:
    """``matches`` in their order, with relevance, cut by ``ranking``'s cut-offs."""
    scored = _with_relevance(matches, calibrations, kind)
    best = max(scored, key=lambda match: match.score, default=None)
    best_relevance = None
    if best is not None:
        calibration = calibrations.get(best.namespace)
        best_relevance = calibration.relevance(best.score, 1, kind) if calibration else None
    threshold = ranking.min_relevance if ranking.min_relevance is not None else GOOD_MATCH_RELEVANCE
    keyword_hit = any(match.keyword_rank is not None for match in scored)
    weak = best_relevance is not None and best_relevance < threshold
    kept = [match for match in scored if _passes(match, ranking)]
    if ranking.min_relevance is not None and weak and not keyword_hit:
        kept = []
    return Judgement(
        matches=kept,
        no_good_match=not kept or (weak and not keyword_hit),
        best_score=None if best is None else best.score,
        best_relevance=best_relevance,
    )


def _with_relevance(
    matches: list[Match], calibrations: Mapping[str, Calibration | None], kind: QueryKind
) -> list[Match]:
    order = sorted(range(len(matches)), key=lambda index: -matches[index].score)
    ranks = {index: rank for rank, index in enumerate(order, start=1)}
    out = []
    for index, match in enumerate(matches):
        calibration = calibrations.get(match.namespace)
        relevance = calibration.relevance(match.score, ranks[index], kind) if calibration else None
        out.append(replace(match, relevance=relevance))
    return out


def _passes(match: Match, ranking: RankingOptions) -> bool:
    if match.keyword_rank is not None:
        return True
    if ranking.min_score is not None and match.score < ranking.min_score:
        return False
    return not (
        ranking.min_relevance is not None
        and match.relevance is not None
        and match.relevance < ranking.min_relevance
    )


__all__ = ["GOOD_MATCH_RELEVANCE", "Judgement", "judge_matches"]
