"""When a namespace gets an approximate index, and how that index is built and kept.

The defaults come from bench/query.py (its figures are in docs/vector-index.md,
"Figures behind the storage code"). At 10,000 vectors an exact float32 scan
already takes longer than a graph walk over ten times as many, so namespaces are
indexed from there. On 1M clustered vectors a sparser graph (M=16,
efConstruction=64) stayed short of the recall target at any ef, and M=32 /
efConstruction=160 reaches it at a modest ef, for somewhat more bytes per vector
and a slower build.

Environment overrides, read when a store is opened (every process sharing a data
directory should see the same values; the index files record the graph settings
and a process with other settings rebuilds instead of using them):

* ``SAME_SAME_INDEX_MIN_VECTORS``: index namespaces of at least this many vectors
  (``0`` or ``off`` turns the index off: every search is exact).
* ``SAME_SAME_INDEX_CONNECTIVITY``, ``SAME_SAME_INDEX_EXPANSION_ADD``,
  ``SAME_SAME_INDEX_EXPANSION_SEARCH``: HNSW's M, efConstruction and ef (by default
  ef grows with the namespace, see ``auto_expansion_search``).
* ``SAME_SAME_INDEX_SAVE_CHANGES``: save the index after at least this many changes
  (``save_min_changes``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..errors import InvalidInputError

MIN_VECTORS_ENV = "SAME_SAME_INDEX_MIN_VECTORS"
_INT_ENVS = {
    "connectivity": "SAME_SAME_INDEX_CONNECTIVITY",
    "expansion_add": "SAME_SAME_INDEX_EXPANSION_ADD",
    "expansion_search": "SAME_SAME_INDEX_EXPANSION_SEARCH",
    "save_min_changes": "SAME_SAME_INDEX_SAVE_CHANGES",
}


@dataclass(frozen=True)
class IndexSettings:
    min_vectors: int = 10_000
    """Namespaces with at least this many vectors are searched through the index; 0: never."""
    connectivity: int = 32
    expansion_add: int = 160
    expansion_search: int | None = None
    """HNSW's ef; None: ``auto_expansion_search(size)``, growing with the namespace."""
    save_min_changes: int = 5_000
    save_share: float = 0.25
    """A process saves the index after this many changes, or this share of its size,
    whichever is more (and when the store is closed), so saves stay rare at 1M. Within
    one long insertion (a build) this is also how often a checkpoint is saved, so a
    killed process loses at most that much work. Saving is cheap next to inserting:
    10,000 vectors of 512 dimensions took 4.5 s to insert and 17 ms to save on two
    shared cores, so a save every 5,000 changes costs about 1% of the insertion."""
    reload_min_rows: int = 20_000
    """A process this many rows behind a newer saved index reloads it instead of
    inserting the rows itself (loading is far cheaper than inserting into HNSW)."""
    exact_candidates: int = 2_000
    """Filtered searches matching at most this many records score them all exactly.
    Scoring reads each match's vector back from usearch, about 3.5 ms for 1,000 and
    35-50 ms for 10,000 at 1M (two shared cores); a graph walk for the 2,000 candidates
    a 1% filter needs took about 11 ms, and broader filters walk for fewer (2-3 ms at
    10% and 50%), recall@10 1.0 either way (docs/vector-index.md)."""
    scan_max: int = 1_000
    """Indexes of at most this many vectors answer every search exactly, by a scan (the
    ``exact=True`` path), never by a graph walk. A walk with ef 16-20 over so few vectors
    computes distances to most of them anyway (each holds up to 2M neighbours at the
    bottom level), so the scan itself costs about as much; re-scoring its larger
    candidate set costs a little more. Unlike the walk, its answer is exact and the same
    every time: usearch inserts on several threads, so two builds of the same records
    make different graphs that miss different neighbours (building on one thread would
    make the graph repeatable, not exact, and builds much slower). Only a lowered
    ``min_vectors`` (tests, small deployments) makes indexes this small; the figures are
    in docs/vector-index.md."""

    @property
    def enabled(self) -> bool:
        return self.min_vectors > 0

    def search_expansion(self, size: int) -> int:
        """The ef a graph walk over ``size`` vectors uses (unless a query asks for more)."""
        if self.expansion_search is not None:
            return self.expansion_search
        return auto_expansion_search(size)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IndexSettings:
        env = os.environ if environ is None else environ
        settings = cls()
        raw = env.get(MIN_VECTORS_ENV, "").strip().lower()
        if raw:
            minimum = 0 if raw == "off" else _parse_int(MIN_VECTORS_ENV, raw, 0)
            settings = replace(settings, min_vectors=minimum)
        for field, name in _INT_ENVS.items():
            value = env.get(name, "").strip()
            if value:
                settings = replace(settings, **{field: _parse_int(name, value, 2)})
        return settings


def auto_expansion_search(size: int) -> int:
    """ef growing with the square root of the size: 16 at 10k, 51 at 100k, 160 at 1M.

    A graph walk needs more candidates to stay on course as the graph grows. On
    bench/query.py's clustered vectors this keeps recall@10 near 0.99 and above
    without paying 1M's ef at 100k (figures in docs/vector-index.md).
    """
    return int(min(_AUTO_EF_MAX, max(_AUTO_EF_MIN, round(16 * (size / 10_000) ** 0.5))))


_AUTO_EF_MIN = 16
_AUTO_EF_MAX = 512


def _parse_int(name: str, raw: str, minimum: int) -> int:
    if not raw.isdigit() or int(raw) < minimum:
        raise InvalidInputError(f"${name} must be an integer >= {minimum}, got {raw!r}")
    return int(raw)


__all__ = ["IndexSettings", "MIN_VECTORS_ENV", "auto_expansion_search"]
