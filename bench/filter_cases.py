"""Metadata filters of exact selectivity: what each record holds, each filter, its numpy mask.

Record ``i`` gets fields derived from ``i`` alone (``filter_metadata``), so a filter's
matching rows are known without asking the store:

    m = i % 1000       p = i % 100       d = i % 10       h = i % 2
    k = i % 10000      r = (i * 389) % 1000   (a permutation of m inside each 1000 rows)
    tags = ["m<m>", "p<p>", "d<d>", "h<h>"]

For each kind and selectivity, ``variant`` v picks one of several filters that match
the same share of rows (distinct values where there are enough of them: a cold query
can be the first time its filter is seen):

* ``eq``: ``{"m": v}`` 0.1%, ``{"p": v}`` 1%, ``{"d": v}`` 10%, ``{"h": v}`` 50%;
* ``in``: ten values of ``k`` 0.1%, ten of ``m`` 1%, ten of ``p`` 10%, five of ``d`` 50%;
* ``range``: ``{"r": {"gte": a, "lt": a + w}}`` with w = 1, 10, 100, 500;
* ``label``: ``{"tags": {"contains": "m<v>"}}`` and so on: an element of an array field.

The selectivity is exact when the row count is a multiple of 10,000 (1,000 for all but
``in`` at 0.1%); ``matching`` in a report is the real count either way.
``NO_MATCH_METADATA`` holds every field with a value no filter here matches: rows
written during a measurement carry it, so the exact answers stay what they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

KINDS = ("eq", "in", "range", "label")
SELECTIVITIES = (0.001, 0.01, 0.1, 0.5)
NO_MATCH_METADATA: dict[str, Any] = {
    "m": -1, "p": -1, "d": -1, "h": -1, "k": -1, "r": -1, "tags": ["none"],
}  # fmt: skip
# the field an equality (and label) filter of each selectivity uses, and its modulus
_EQUALITY = {0.001: ("m", 1000), 0.01: ("p", 100), 0.1: ("d", 10), 0.5: ("h", 2)}
# the field an ``in`` filter uses, its modulus and how many values it lists
_IN = {0.001: ("k", 10000, 10), 0.01: ("m", 1000, 10), 0.1: ("p", 100, 10), 0.5: ("d", 10, 5)}


def filter_metadata(i: int) -> dict[str, Any]:
    """The filterable fields of record ``i``."""
    m, p, d, h = i % 1000, i % 100, i % 10, i % 2
    return {
        "m": m, "p": p, "d": d, "h": h, "k": i % 10000, "r": (i * 389) % 1000,
        "tags": [f"m{m}", f"p{p}", f"d{d}", f"h{h}"],
    }  # fmt: skip


@dataclass(frozen=True)
class FilterCase:
    """One filter: the JSON the API gets and the rows it matches."""

    kind: str
    selectivity: float
    variant: int
    filters: dict[str, Any]

    def mask(self, n: int) -> np.ndarray:
        """One bool per row ``0..n-1``: does the filter match it."""
        return mask_of(self.filters, n)


def distinct_variants(kind: str, selectivity: float) -> int:
    """How many different filters of this kind and selectivity ``make_case`` gives."""
    if kind in ("eq", "label"):
        return _EQUALITY[selectivity][1]
    if kind == "in":
        field, modulus, values = _IN[selectivity]
        return modulus // values
    width = round(selectivity * 1000)
    return 1000 - width + 1


def make_case(kind: str, selectivity: float, variant: int) -> FilterCase:
    """Filter ``variant`` of this kind and selectivity (variants cycle past the distinct ones)."""
    if kind not in KINDS or selectivity not in SELECTIVITIES:
        raise ValueError(f"kind in {KINDS}, selectivity in {SELECTIVITIES}")
    filters: dict[str, Any]
    if kind == "eq":
        field, modulus = _EQUALITY[selectivity]
        filters = {field: variant % modulus}
    elif kind == "label":
        field, modulus = _EQUALITY[selectivity]
        filters = {"tags": {"contains": f"{field}{variant % modulus}"}}
    elif kind == "in":
        field, modulus, values = _IN[selectivity]
        start = (variant * values) % modulus
        filters = {field: {"in": [(start + j) % modulus for j in range(values)]}}
    else:
        width = round(selectivity * 1000)
        start = (variant * 37) % (1000 - width + 1)
        filters = {"r": {"gte": start, "lt": start + width}}
    return FilterCase(kind, selectivity, variant, filters)


def mask_of(filters: dict[str, Any], n: int) -> np.ndarray:
    """The rows ``0..n-1`` the filters of ``make_case`` match, from ``filter_metadata``'s rules."""
    i = np.arange(n, dtype=np.int64)
    columns = {
        "m": i % 1000, "p": i % 100, "d": i % 10, "h": i % 2, "k": i % 10000,
        "r": (i * 389) % 1000,
    }  # fmt: skip
    keep = np.ones(n, dtype=bool)
    for field, spec in filters.items():
        if field == "tags":
            text = spec["contains"]
            keep &= columns[text[0]] == int(text[1:])
        elif isinstance(spec, dict) and "in" in spec:
            keep &= np.isin(columns[field], spec["in"])
        elif isinstance(spec, dict):
            keep &= (columns[field] >= spec["gte"]) & (columns[field] < spec["lt"])
        else:
            keep &= columns[field] == spec
    return keep


def masked_top_k(scores: np.ndarray, mask: np.ndarray, k: int) -> list[int]:
    """Row numbers of the ``k`` best ``scores`` among the rows ``mask`` keeps, best first."""
    rows = np.flatnonzero(mask)
    if len(rows) == 0:
        return []
    kept = scores[rows]
    if len(rows) > k:
        pick = np.argpartition(-kept, k - 1)[:k]
    else:
        pick = np.arange(len(rows))
    order = np.lexsort((rows[pick], -kept[pick]))
    return [int(row) for row in rows[pick][order]]
