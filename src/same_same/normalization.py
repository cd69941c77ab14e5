"""Unit-length vectors computed without losing a direction to float32 overflow or
underflow: shared by the embedders, the services' input checks and the stores' queries."""

from __future__ import annotations

import numpy as np


def normalized_rows(matrix: np.ndarray) -> np.ndarray:
    """A float32 copy of ``matrix`` with each row L2-normalised; all-zero rows stay zero.

    The arithmetic is float64, each row first divided by its largest magnitude, so
    neither a row of 1e19s (whose squares overflow float32) nor one of 1e-30s (whose
    squares vanish) loses its direction. Rows holding NaN or infinity are left as
    they are, for the caller to refuse.
    """
    rows = np.array(matrix, dtype=np.float64, ndmin=2)
    if rows.size == 0:
        return rows.astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.abs(rows).max(axis=1, keepdims=True)
        usable = np.isfinite(scale) & (scale > 0)
        np.divide(rows, scale, out=rows, where=usable)
        norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))[:, None]
        np.divide(rows, norms, out=rows, where=usable)
    return rows.astype(np.float32)


__all__ = ["normalized_rows"]
