"""An in-memory search matrix: one namespace's vectors, unit length, in one float32 block.

Rows stay contiguous (a delete moves the last row into the hole), so a search is
one matrix-vector product over ``vectors[:size]``. The block grows geometrically,
so loading a million rows or appending one at a time never copies per row.
Not thread-safe on its own: the store guards it with a lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

_GROWTH = 1.5
_MIN_CAPACITY = 64
# Below this share of the rows, gathering the candidate rows beats scoring all of them.
_GATHER_SHARE = 0.25


def normalize_rows_in_place(vectors: np.ndarray) -> np.ndarray:
    """Scale each row of ``vectors`` to unit length in place, and return that same array.

    The dtype is kept (float32 for the matrices, float64 when re-scoring); all-zero
    rows stay zero. Unlike the embedders' helper, nothing is copied.
    """
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    return vectors


class SearchMatrix:
    def __init__(self, dim: int, capacity: int = 0) -> None:
        self.dim = dim
        self.vectors = np.empty((max(capacity, _MIN_CAPACITY), dim), dtype=np.float32)
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}

    @property
    def size(self) -> int:
        return len(self.ids)

    def upsert(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Add or replace rows; ``vectors`` is ``(len(ids), dim)``, as stored (any length).

        When an id appears twice, its last vector wins.
        """
        last_position = {record_id: i for i, record_id in enumerate(ids)}
        if not last_position:
            return
        new_count = sum(1 for record_id in last_position if record_id not in self.row_of)
        self._reserve(self.size + new_count)
        rows = np.empty(len(last_position), dtype=np.int64)
        for n, record_id in enumerate(last_position):
            row = self.row_of.get(record_id)
            if row is None:
                row = self.row_of[record_id] = len(self.ids)
                self.ids.append(record_id)
            rows[n] = row
        positions = np.fromiter(last_position.values(), dtype=np.int64, count=len(rows))
        block = np.asarray(vectors, dtype=np.float32)[positions]  # fancy indexing copies
        self.vectors[rows] = normalize_rows_in_place(block)

    def append(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Add rows for ids known to be new and distinct (a namespace read in full)."""
        start, count = self.size, len(ids)
        self._reserve(start + count)
        block = self.vectors[start : start + count]
        block[...] = vectors
        normalize_rows_in_place(block)
        self.row_of.update(zip(ids, range(start, start + count), strict=True))
        self.ids.extend(ids)

    def delete(self, ids: Iterable[str]) -> int:
        """Remove rows by id (unknown ids are ignored); returns how many were removed."""
        removed = 0
        for record_id in ids:
            row = self.row_of.pop(record_id, None)
            if row is None:
                continue
            last = self.size - 1
            last_id = self.ids.pop()
            if row != last:
                self.vectors[row] = self.vectors[last]
                self.ids[row] = last_id
                self.row_of[last_id] = row
            removed += 1
        return removed

    def rows_for(self, ids: Iterable[str]) -> np.ndarray:
        """Row numbers of the ids that are present, ascending."""
        row_of = self.row_of
        rows = [row_of[record_id] for record_id in ids if record_id in row_of]
        return np.sort(np.asarray(rows, dtype=np.int64))

    def score(self, query: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Cosine scores of a unit ``query`` against all rows, or against ``rows`` in that order."""
        live = self.vectors[: self.size]
        if rows is None:
            return _dot_rows(live, query)
        if len(rows) < _GATHER_SHARE * self.size:
            return _dot_rows(live[rows], query)
        return _dot_rows(live, query)[rows]

    def _reserve(self, needed: int) -> None:
        capacity = len(self.vectors)
        if needed <= capacity:
            return
        while capacity < needed:
            capacity = int(capacity * _GROWTH) + 1
        grown = np.empty((capacity, self.dim), dtype=np.float32)
        grown[: self.size] = self.vectors[: self.size]
        self.vectors = grown


def _dot_rows(block: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``block @ query`` on one thread.

    A matrix-vector product is bound by memory, not arithmetic: BLAS's threads gain
    little, and on a busy machine (a server answering several requests on two
    cores) they wait for each other, so one thread is faster there (figures in
    docs/vector-index.md, "Figures behind the storage code").
    """
    return np.einsum("ij,j->i", block, query)


def select_top(scores: np.ndarray, id_of: Callable[[int], str], limit: int) -> list[int]:
    """Positions of the ``limit`` best scores, best first, ties broken by id.

    ``argpartition`` finds the cut-off score in linear time; every score tied at
    the cut-off is then ranked by id (``id_of(position)``), so the same data always
    gives the same answer.
    """
    count = len(scores)
    if count == 0 or limit <= 0:
        return []
    if count > limit:
        cutoff = scores[np.argpartition(-scores, limit - 1)[limit - 1]]
        candidates = np.flatnonzero(scores >= cutoff)
    else:
        candidates = np.arange(count)
    ranked = sorted(candidates.tolist(), key=lambda i: (-float(scores[i]), id_of(i)))
    return ranked[:limit]


__all__ = ["SearchMatrix", "normalize_rows_in_place", "select_top"]
