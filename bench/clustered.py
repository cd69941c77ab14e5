"""Synthetic embedding-like vectors: unit rows gathered around random cluster centres.

Real embeddings (CLIP, MiniLM) are not uniform on the sphere: items cluster by
topic, clusters differ in size, and a query's true neighbours are mostly in its
own cluster. Uniform random vectors make every index look bad (no structure to
exploit) and brute force look good, so the benchmarks use this instead.

Everything is deterministic in ``seed``, and rows are made in fixed-size chunks
each with its own random stream, so ``make_clustered_vectors(n)`` is the first
``n`` rows of ``make_clustered_vectors(m)`` for any ``m > n`` (a 10k run uses
the same vectors as the start of a 100k run).
"""

from __future__ import annotations

import numpy as np

_CHUNK = 4096
# Inside a cluster, points vary mostly along a few cluster-specific directions
# (a low intrinsic dimension, as real embeddings have) plus a little isotropic
# noise. Cosine to the centre is about 1/sqrt(1 + SPREAD**2 + NOISE**2) ~ 0.85,
# other clusters score near 0, and nearest neighbours are well separated --
# with isotropic noise alone every in-cluster point would be nearly equidistant.
DEFAULT_SPREAD = 0.6
NOISE = 0.2
LATENT_DIM = 16
# Stream ids keep the centres, the data rows and the queries independent.
_CENTRES, _ROWS, _QUERIES = 0, 1, 2


def make_centres(dim: int = 512, clusters: int = 1000, seed: int = 0) -> np.ndarray:
    """The ``(clusters, dim)`` unit cluster centres of the data set ``seed``."""
    rng = np.random.default_rng([seed, _CENTRES])
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return centres


def _cluster_weights(clusters: int, seed: int) -> np.ndarray:
    """Uneven cluster sizes (Zipf-like, shuffled): some topics are much bigger."""
    rng = np.random.default_rng([seed, _CENTRES, 1])
    weights = 1.0 / np.arange(1, clusters + 1) ** 0.5
    rng.shuffle(weights)
    return weights / weights.sum()


def _cluster_basis(cluster: int, dim: int, seed: int) -> np.ndarray:
    """``(LATENT_DIM, dim)`` directions along which cluster ``cluster`` varies."""
    rng = np.random.default_rng([seed, _CENTRES, 2, cluster])
    basis = rng.standard_normal((LATENT_DIM, dim), dtype=np.float32)
    return basis / np.sqrt(dim, dtype=np.float32)


def _make_rows(
    count: int, centres: np.ndarray, weights: np.ndarray, spread: float, stream: list[int]
) -> np.ndarray:
    clusters, dim = centres.shape
    out = np.empty((count, dim), dtype=np.float32)
    bases: dict[int, np.ndarray] = {}
    latent_scale = np.float32(spread / np.sqrt(LATENT_DIM))
    noise_scale = np.float32(NOISE / np.sqrt(dim))
    for chunk, start in enumerate(range(0, count, _CHUNK)):
        rows = min(_CHUNK, count - start)
        # always draw a whole chunk, so the rows do not depend on ``count``
        rng = np.random.default_rng([*stream, chunk])
        labels = rng.choice(clusters, size=_CHUNK, p=weights)[:rows]
        latent = rng.standard_normal((_CHUNK, LATENT_DIM), dtype=np.float32)[:rows]
        latent *= latent_scale
        block = rng.standard_normal((_CHUNK, dim), dtype=np.float32)[:rows] * noise_scale
        block += centres[labels]
        order = np.argsort(labels, kind="stable")
        bounds = np.flatnonzero(np.diff(labels[order])) + 1
        for group in np.split(order, bounds):
            label = int(labels[group[0]])
            if label not in bases:
                bases[label] = _cluster_basis(label, dim, stream[0])
            block[group] += latent[group] @ bases[label]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + rows] = block
    return out


def make_clustered_vectors(
    n: int,
    dim: int = 512,
    clusters: int = 1000,
    seed: int = 0,
    spread: float = DEFAULT_SPREAD,
) -> np.ndarray:
    """``(n, dim)`` float32 unit rows around ``clusters`` centres; deterministic in ``seed``."""
    if n < 0 or dim < 1 or clusters < 1:
        raise ValueError(f"need n >= 0, dim >= 1, clusters >= 1 (got {n}, {dim}, {clusters})")
    centres = make_centres(dim, clusters, seed)
    return _make_rows(n, centres, _cluster_weights(clusters, seed), spread, [seed, _ROWS])


def make_queries(
    count: int,
    dim: int = 512,
    clusters: int = 1000,
    seed: int = 0,
    spread: float = DEFAULT_SPREAD,
    query_seed: int = 0,
) -> np.ndarray:
    """``(count, dim)`` queries from the same distribution as data set ``seed``.

    They share its centres but not its rows (a query is a new photo of a known
    topic, not a stored one). Different ``query_seed`` values give disjoint
    query sets, e.g. one to tune index parameters on and one to measure with.
    """
    if count < 0:
        raise ValueError(f"need count >= 0 (got {count})")
    centres = make_centres(dim, clusters, seed)
    weights = _cluster_weights(clusters, seed)
    return _make_rows(count, centres, weights, spread, [seed, _QUERIES, query_seed])


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """``(len(queries), k)`` row indices of the true nearest neighbours by cosine (unit rows).

    Ties break toward the lower index. Done in blocks so a million rows need
    little more memory than the vectors themselves.
    """
    k = min(k, len(vectors))
    out = np.empty((len(queries), k), dtype=np.int64)
    block = 256
    for start in range(0, len(queries), block):
        scores = queries[start : start + block] @ vectors.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.lexsort((top, -top_scores), axis=1)
        out[start : start + block] = np.take_along_axis(top, order, axis=1)
    return out
