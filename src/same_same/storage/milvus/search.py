"""Searching a Milvus data collection: through its index, or exactly by a scan.

Either way the client re-scores the candidates from their stored vectors (cosine in
float64, so scores and ties agree with the embedded store bit for bit), checks
each against the filter's reference semantics and the excluded ids, and orders
equal scores by id, then namespace.

* ``ann``: Milvus's own search (HNSW or whichever index the collection has) asks
  for a few more candidates than wanted. When the filter or the exclusions leave
  too few, or equal scores may continue past the last candidate, it asks again
  for four times as many, up to Milvus's top-k ceiling (16,384); past it, a scan.
* ``scan``: every record of the namespaces (that the expression keeps) is read
  page by page in key order and scored; exact, and linear in their number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...filters import FilterSet
from ...records import Match
from .expressions import Pushdown, combine
from .layout import (
    ID,
    KEY,
    METADATA,
    NORM,
    NS,
    TEXT,
    VECTOR,
    in_list,
    literal,
    optional,
    record_key,
)
from .location import MilvusLocation
from .reads import PAGE, count, query

MAX_TOPK = 16_384
EXACT_CANDIDATES = 20_000
"""A short page from the index is made whole by a scan when at most this many match."""
_TIE_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Plan:
    """One search over namespaces of one collection (``uids`` maps uid -> name)."""

    collection: str
    uids: dict[str, str]
    query: np.ndarray
    limit: int
    filters: FilterSet
    excluded: tuple[str, ...]

    @property
    def pushdown(self) -> Pushdown:
        return Pushdown(self.filters)

    def expression(self) -> str:
        scope = in_list(NS, sorted(self.uids))
        excluded = [record_key(uid, rid) for uid in self.uids for rid in self.excluded]
        not_excluded = f"not ({in_list(KEY, excluded)})" if excluded else ""
        return combine(scope, self.pushdown.expression, not_excluded)


@dataclass(frozen=True)
class Hit:
    score: float
    id: str
    namespace: str
    key: str
    row: dict[str, Any]


def ann(client: Any, location: MilvusLocation, plan: Plan) -> list[Match]:
    if plan.pushdown.impossible:
        return []
    expression = plan.expression()
    wanted = min(MAX_TOPK, max(2 * plan.limit + 10, 32))
    fields = [ID, NS, TEXT, METADATA, VECTOR]
    while True:
        raw = client.search(
            plan.collection,
            data=[plan.query.tolist()],
            limit=wanted,
            filter=expression,
            output_fields=fields,
            search_params={"metric_type": "COSINE", "params": search_params(location, wanted)},
            consistency_level=location.consistency,
            timeout=location.timeout,
        )[0]
        rows = [dict(hit["entity"], key=hit["id"]) for hit in raw]
        hits = _best(_score(plan, rows), plan.limit)
        if len(raw) < wanted:  # Milvus found no more candidates; did its index miss some?
            if len(hits) < plan.limit and _missed(client, location, plan, expression, len(raw)):
                return scan(client, location, plan)
            return _matches(_with_zero_vectors(client, location, plan, expression, hits))
        lowest = min(float(hit["distance"]) for hit in raw)
        if len(hits) >= plan.limit and lowest < hits[-1].score - _TIE_TOLERANCE:
            return _matches(_with_zero_vectors(client, location, plan, expression, hits))
        if wanted == MAX_TOPK:
            return scan(client, location, plan)
        wanted = min(MAX_TOPK, wanted * 4)


def scan(client: Any, location: MilvusLocation, plan: Plan) -> list[Match]:
    if plan.pushdown.impossible:
        return []
    expression = plan.expression()
    fields = [KEY, ID, NS, VECTOR] + ([] if plan.pushdown.exact else [METADATA])
    best: list[Hit] = []
    after: str | None = None
    while True:
        cursor = f"{KEY} > {literal(after)}" if after is not None else ""
        rows = query(client, location, plan.collection, combine(expression, cursor), fields)
        if rows:
            best = _best(best + _score(plan, rows), plan.limit)
            after = max(row[KEY] for row in rows)
        if len(rows) < PAGE:
            break
    if not best:
        return []
    keys = in_list(KEY, [hit.key for hit in best])
    stored = query(client, location, plan.collection, keys, [KEY, TEXT, METADATA])
    by_key = {row[KEY]: row for row in stored}
    return _matches([hit for hit in best if hit.key in by_key], by_key)


def _missed(client: Any, location: MilvusLocation, plan: Plan, expression: str, found: int) -> bool:
    """True when more records match than the index returned, and few enough to scan.

    An approximate index searched with a selective filter may stop short (Milvus's
    interim index on growing segments probes a few clusters only), and a short page
    must mean that no more records match."""
    return found < count(client, location, plan.collection, expression) <= EXACT_CANDIDATES


def _with_zero_vectors(
    client: Any, location: MilvusLocation, plan: Plan, expression: str, hits: list[Hit]
) -> list[Hit]:
    """Milvus's cosine search never returns all-zero vectors; they score 0, so they
    belong in the answer when it is short or ends below 0."""
    if len(hits) == plan.limit and hits[-1].score >= 0.0:
        return hits
    zeros = combine(expression, f"{NORM} == 0")
    fields = [ID, NS, TEXT, METADATA, VECTOR]
    limit = min(MAX_TOPK, plan.limit + len(plan.excluded))
    rows = query(client, location, plan.collection, zeros, fields, limit)
    seen = {hit.key for hit in hits}
    extra = [hit for hit in _score(plan, rows) if hit.key not in seen]
    return _best(hits + extra, plan.limit)


def search_params(location: MilvusLocation, wanted: int) -> dict[str, int]:
    """The index's search parameters, widened so that it can return ``wanted`` results."""
    params = dict(location.search_params)
    if location.index_type == "HNSW":
        params["ef"] = max(params.get("ef", 64), wanted)
    elif location.index_type.startswith("IVF"):
        params.setdefault("nprobe", 32)
    elif location.index_type == "DISKANN":
        params["search_list"] = max(params.get("search_list", 100), wanted)
    return params


def _score(plan: Plan, rows: list[dict[str, Any]]) -> list[Hit]:
    pushdown = plan.pushdown
    excluded = set(plan.excluded)
    kept = [
        row
        for row in rows
        if row[ID] not in excluded and (pushdown.exact or plan.filters.matches(row[METADATA]))
    ]
    if not kept:
        return []
    matrix = np.asarray([row[VECTOR] for row in kept], dtype=np.float32).astype(np.float64)
    query = plan.query.astype(np.float64)
    dots = (matrix * query).sum(axis=1)
    norms = np.sqrt((matrix * matrix).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(norms > 0, dots / norms, 0.0)
    scores = np.clip(scores, -1.0, 1.0)
    return [
        Hit(float(score), row[ID], plan.uids[row[NS]], row[KEY], row)
        for score, row in zip(scores, kept, strict=True)
    ]


def _best(hits: list[Hit], limit: int) -> list[Hit]:
    return sorted(hits, key=lambda hit: (-hit.score, hit.id, hit.namespace))[:limit]


def _matches(hits: list[Hit], stored: dict[str, dict[str, Any]] | None = None) -> list[Match]:
    out = []
    for hit in hits:
        row = stored[hit.key] if stored is not None else hit.row
        out.append(
            Match(
                id=hit.id,
                score=hit.score,
                namespace=hit.namespace,
                text=optional(row[TEXT]),
                metadata=dict(row[METADATA] or {}),
            )
        )
    return out


__all__ = ["MAX_TOPK", "Plan", "ann", "scan", "search_params"]
