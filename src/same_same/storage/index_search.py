"""Searching one namespace through its approximate index, exactly when asked, filters first.

Every answer is re-scored from the float32 vectors in SQLite (``Rescore``), so a
result's score is the same as exact search would give, and ties order by id.

* An index of at most ``settings.scan_max`` vectors: always exact, as below (a
  graph walk over so few costs about as much, and is neither exact nor repeatable).
* No filter: walk the HNSW graph for a few more candidates than asked, re-score.
* ``exact``: scan every float16 vector for the best candidates, re-score them in
  float32, and prove no vector left out could rank: float16 scores of unit
  vectors are within ``FLOAT16_MARGIN`` of the float32 ones, so once the
  ``limit``-th float32 score beats the best float16 score left out by more than
  that, the answer is the exact one. Otherwise scan for more candidates.
* A filter (or excluded ids) matching few records: score exactly those (their
  vectors come from the index), the same way.
* A filter matching many: walk the graph for more candidates (as many more as
  the filter is selective), drop the ones that do not match, widen until
  ``limit`` match; past a quarter of the namespace, score the matches exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .ann_index import VectorIndex
from .index_settings import IndexSettings

Rescore = Callable[[np.ndarray], list[tuple[float, str]]]
"""Index keys -> ``(float32 cosine score, record id)`` of those keys, in any order."""

FLOAT16_MARGIN = 1.5e-3
"""Bound on |float16 score - float32 score| for unit vectors, with room: rounding to
float16 moves each value by at most 2**-12 of itself, so a dot product of unit
vectors moves by at most 2.4e-4 per rounded side (Cauchy-Schwarz); the index's
own scans round the query too, and renormalise (tests/test_store_index.py checks
the observed error stays well inside)."""
_EXTRA = 10
"""Graph candidates re-scored beyond ``limit``: float16 ranks them almost exactly, so a
few more than asked are enough to order the found ones right."""
_GROWTH = 4
_GIVE_UP_SHARE = 0.25


def search_index(
    index: VectorIndex,
    query: np.ndarray,
    limit: int,
    rescore: Rescore,
    settings: IndexSettings,
    allowed: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
    exact: bool = False,
) -> list[tuple[float, str]]:
    """The best ``limit`` ``(score, id)`` among ``allowed`` keys (None: all) minus ``excluded``."""
    if excluded is None:
        excluded = np.empty(0, dtype=np.int64)
    exact = exact or len(index) <= settings.scan_max
    if allowed is not None:
        if len(excluded):
            allowed = np.setdiff1d(allowed, excluded)
        if len(allowed) == 0:
            return []
        if exact or len(allowed) <= settings.exact_candidates:
            return _exact_among(index, query, limit, allowed, rescore)
        return _approximate(index, query, limit, rescore, allowed, excluded)
    if exact:
        return _exact_all(index, query, limit, excluded, rescore)
    return _approximate(index, query, limit, rescore, None, excluded)


def _approximate(
    index: VectorIndex,
    query: np.ndarray,
    limit: int,
    rescore: Rescore,
    allowed: np.ndarray | None,
    excluded: np.ndarray,
) -> list[tuple[float, str]]:
    size = len(index)
    eligible = size - len(excluded) if allowed is None else len(allowed)
    if eligible <= 0:
        return []
    wanted = min(limit, eligible)
    share = eligible / size
    count = int((limit + _EXTRA) / share) + (len(excluded) if allowed is None else 0)
    while True:
        count = min(count, size)
        keys, _ = index.search(query, count)
        if allowed is None:
            kept = keys[~np.isin(keys, excluded)]
        else:
            kept = keys[_members(keys, allowed)]
        if len(kept) >= wanted:
            return _best(rescore(kept[: limit + _EXTRA]), limit)
        if count >= size or count * _GROWTH > _GIVE_UP_SHARE * size:
            # Too selective for the graph (or parts of it unreachable): score the matches.
            if allowed is None:
                return _exact_all(index, query, limit, excluded, rescore)
            return _exact_among(index, query, limit, allowed, rescore)
        count *= _GROWTH


def _exact_all(
    index: VectorIndex, query: np.ndarray, limit: int, excluded: np.ndarray, rescore: Rescore
) -> list[tuple[float, str]]:
    size = len(index)
    count = 4 * limit + 64 + len(excluded)
    while True:
        count = min(count, size)
        keys, approximate = index.search(query, count, exact=True)
        # Anything not returned scored at most the last (lowest) float16 score returned.
        outside = None if count >= size or len(keys) == 0 else float(approximate[-1])
        found = _verified(keys[~np.isin(keys, excluded)], outside, limit, rescore)
        if found is not None:
            return found
        count *= _GROWTH


def _exact_among(
    index: VectorIndex, query: np.ndarray, limit: int, keys: np.ndarray, rescore: Rescore
) -> list[tuple[float, str]]:
    approximate = index.score(query, keys)
    order = np.argsort(-approximate, kind="stable")
    count = 4 * limit + 64
    while True:
        if count >= len(keys):
            found = _verified(keys, None, limit, rescore)
        else:
            outside = float(approximate[order[count]])
            found = _verified(keys[order[:count]], outside, limit, rescore)
        if found is not None:
            return found
        count *= _GROWTH


def _verified(
    candidates: np.ndarray, outside: float | None, limit: int, rescore: Rescore
) -> list[tuple[float, str]] | None:
    """The best ``limit`` candidates, or None when one left out (float16 score at most
    ``outside``; None: nothing was left out) might still rank among them."""
    scored = _best(rescore(candidates), len(candidates))
    if outside is None:
        return scored[:limit]
    if len(scored) < limit:
        return None
    if outside + FLOAT16_MARGIN < scored[limit - 1][0]:
        return scored[:limit]
    return None


def _members(keys: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Whether each key is in the sorted array ``allowed``: a binary search per key, where
    ``np.isin`` would sort or tabulate all of ``allowed`` (half a million at 1M, 50%)."""
    at = np.minimum(np.searchsorted(allowed, keys), len(allowed) - 1)
    return allowed[at] == keys


def _best(scored: list[tuple[float, str]], limit: int) -> list[tuple[float, str]]:
    scored.sort(key=lambda hit: (-hit[0], hit[1]))
    return scored[:limit]


__all__ = ["FLOAT16_MARGIN", "Rescore", "search_index"]
