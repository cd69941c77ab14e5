"""Filtered vector search over HTTP, cold and warm, for every kind and selectivity.

For each kind (``eq``, ``in``, ``range``, ``label``) and selectivity of
``filter_cases``, one client on one kept-alive connection:

* **cold**: before each query one record is written through the API (``POST
  /api/v1/vectors``; it matches no filter here), then the query is sent with a filter
  variant not used before (distinct values while the kind has enough of them): no cache
  can have its answer. The written records are deleted afterwards (not timed).
* **warm**: one filter, sent once untimed, then repeated with every query vector.

Recall@10 is against the exact filtered top 10 computed here in numpy. With
``background_writer`` running the same matrix measures filtered search while an ingest
writes into the namespace.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import numpy as np
from filter_cases import KINDS, NO_MATCH_METADATA, SELECTIVITIES, make_case, masked_top_k
from http_load import percentile

TOP = 10
IdOf = Callable[[int], str]


def _post(conn: http.client.HTTPConnection, path: str, body: bytes) -> dict[str, Any]:
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    if response.status not in (200, 201):
        raise RuntimeError(f"POST {path}: HTTP {response.status}: {payload[:300]!r}")
    answer: dict[str, Any] = json.loads(payload)
    return answer


def _delete(conn: http.client.HTTPConnection, record_id: str, namespace: str) -> None:
    conn.request("DELETE", f"/api/v1/vectors/{quote(record_id)}?namespace={quote(namespace)}")
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"DELETE {record_id}: HTTP {response.status}")


def _search_body(query: np.ndarray, namespace: str, filters: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "embedding": [float(x) for x in query],
            "limit": TOP,
            "namespace": namespace,
            "filters": filters,
        }
    ).encode()


def _recall(found: Sequence[Sequence[str]], truth: Sequence[Sequence[str]]) -> float:
    hits = sum(len(set(got) & set(want)) for got, want in zip(found, truth, strict=True))
    wanted = sum(len(want) for want in truth)
    return hits / wanted if wanted else 1.0


def _timed(conn: http.client.HTTPConnection, body: bytes) -> tuple[float, list[str]]:
    began = time.perf_counter()
    answer = _post(conn, "/api/v1/vectors/search", body)
    return (time.perf_counter() - began) * 1000, [hit["id"] for hit in answer["results"]]


def _row(
    kind: str,
    selectivity: float,
    mode: str,
    latencies: list[float],
    found: list[list[str]],
    truth: list[list[str]],
    matching: int,
    filters: int,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "selectivity": selectivity,
        "mode": mode,
        "queries": len(latencies),
        "distinct_filters": filters,
        "matching": matching,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "recall_at_10": _recall(found, truth),
    }


def run_filter_matrix(
    port: int,
    namespace: str,
    data: np.ndarray,
    queries: np.ndarray,
    id_of: IdOf,
    kinds: Sequence[str] = KINDS,
    selectivities: Sequence[float] = SELECTIVITIES,
    label: str = "idle",
) -> list[dict[str, Any]]:
    """Cold and warm rows for every kind and selectivity; ``label`` names the phase."""
    n = len(data)
    scores = queries @ data.T  # (queries, n) float32: every query's exact scores, once
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    rows: list[dict[str, Any]] = []
    try:
        for kind in kinds:
            for selectivity in selectivities:
                rows.append(
                    _cold(conn, namespace, queries, scores, id_of, kind, selectivity, n, label)
                )
                rows.append(_warm(conn, namespace, queries, scores, id_of, kind, selectivity, n))
                rows[-1]["phase"] = rows[-2]["phase"] = label
    finally:
        conn.close()
    return rows


def _cold(
    conn: http.client.HTTPConnection,
    namespace: str,
    queries: np.ndarray,
    scores: np.ndarray,
    id_of: IdOf,
    kind: str,
    selectivity: float,
    n: int,
    label: str,
) -> dict[str, Any]:
    latencies: list[float] = []
    found: list[list[str]] = []
    truth: list[list[str]] = []
    written: list[str] = []
    filters = set()
    matching = 0
    for j, query in enumerate(queries):
        record_id = f"cold-{label}-{kind}-{selectivity}-{j}"
        write = {
            "id": record_id,
            "embedding": [-float(x) for x in query],  # far from every query
            "namespace": namespace,
            "metadata": NO_MATCH_METADATA,
        }
        _post(conn, "/api/v1/vectors", json.dumps(write).encode())
        written.append(record_id)
        case = make_case(kind, selectivity, j + 1)  # variant 0 is the warm one
        filters.add(json.dumps(case.filters, sort_keys=True))
        ms, ids = _timed(conn, _search_body(query, namespace, case.filters))
        mask = case.mask(n)
        matching = max(matching, int(mask.sum()))
        latencies.append(ms)
        found.append(ids)
        truth.append([id_of(row) for row in masked_top_k(scores[j], mask, TOP)])
    for record_id in written:
        _delete(conn, record_id, namespace)
    return _row(kind, selectivity, "cold", latencies, found, truth, matching, len(filters))


def _warm(
    conn: http.client.HTTPConnection,
    namespace: str,
    queries: np.ndarray,
    scores: np.ndarray,
    id_of: IdOf,
    kind: str,
    selectivity: float,
    n: int,
) -> dict[str, Any]:
    case = make_case(kind, selectivity, 0)
    mask = case.mask(n)
    _timed(conn, _search_body(queries[0], namespace, case.filters))  # its first sighting
    latencies: list[float] = []
    found: list[list[str]] = []
    truth: list[list[str]] = []
    for j, query in enumerate(queries):
        ms, ids = _timed(conn, _search_body(query, namespace, case.filters))
        latencies.append(ms)
        found.append(ids)
        truth.append([id_of(row) for row in masked_top_k(scores[j], mask, TOP)])
    return _row(kind, selectivity, "warm", latencies, found, truth, int(mask.sum()), 1)
