"""Synthetic embedding-like vectors: unit rows gathered around random cluster centres.

Real embeddings (CLIP, MiniLM) are not uniform on the sphere: items cluster by
topic, clusters differ in size, and a query's true neighbours are mostly in its
own cluster. Uniform random vectors make every index look bad (no structure to
exploit) and brute force look good, so the benchmarks use this instead.

Everything is deterministic in ``seed``, and rows are made in fixed-size chunks
each with its own random stream, so ``make_clustered_vectors(n)`` is the first
``n`` rows of ``make_clustered_vectors(m)`` for any ``m > n`` (a 10k run uses
the same vectors as the start of a 100k run). A row is computed with elementwise
operations only, never a matrix product: BLAS picks kernels by matrix shape and
thread count, which would change the last bits of a row with the rows around it.

The one generator of the benchmarks (``query.py``, ``peers.py``); ``exact_top_k``
is their one exact search.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 4096
_QUERY_BLOCK, _ROW_BLOCK = 256, 65_536  # exact_top_k's blocks: 64 MiB of float32 scores
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
VERSION = 2
"""Bumped when the same arguments give other vectors (caches of generated data name it)."""


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
    start: int,
    stop: int,
    centres: np.ndarray,
    weights: np.ndarray,
    spread: float,
    stream: list[int],
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``start..stop`` of ``stream`` and their cluster numbers."""
    clusters, dim = centres.shape
    out = np.empty((stop - start, dim), dtype=np.float32)
    out_labels = np.empty(stop - start, dtype=np.int64)
    bases: dict[int, np.ndarray] = {}
    latent_scale = np.float32(spread / np.sqrt(LATENT_DIM))
    noise_scale = np.float32(NOISE / np.sqrt(dim))
    for chunk in range(start // _CHUNK, -(-stop // _CHUNK)):
        first = chunk * _CHUNK
        lo, hi = max(start, first) - first, min(stop, first + _CHUNK) - first
        # always draw a whole chunk, so the rows do not depend on ``start`` or ``stop``
        rng = np.random.default_rng([*stream, chunk])
        labels = rng.choice(clusters, size=_CHUNK, p=weights)[lo:hi]
        latent = rng.standard_normal((_CHUNK, LATENT_DIM), dtype=np.float32)[lo:hi]
        latent *= latent_scale
        block = rng.standard_normal((_CHUNK, dim), dtype=np.float32)[lo:hi] * noise_scale
        block += centres[labels]
        present, member = np.unique(labels, return_inverse=True)
        for label in present.tolist():
            if label not in bases:
                bases[label] = _cluster_basis(label, dim, stream[0])
        # (LATENT_DIM, clusters present, dim): direction j of every cluster, contiguous
        directions = np.stack([bases[label] for label in present.tolist()], axis=1)
        step = np.empty_like(block)
        for j in range(LATENT_DIM):
            np.take(directions[j], member, axis=0, out=step)
            step *= latent[:, j : j + 1]
            block += step
        block /= np.sqrt(np.square(block).sum(axis=1, keepdims=True))
        out[first + lo - start : first + hi - start] = block
        out_labels[first + lo - start : first + hi - start] = labels
    return out, out_labels


def make_clustered_rows(
    start: int,
    stop: int,
    dim: int = 512,
    clusters: int = 1000,
    seed: int = 0,
    spread: float = DEFAULT_SPREAD,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``start..stop`` of data set ``seed`` and the cluster of each row.

    ``make_clustered_rows(a, b)`` is ``make_clustered_vectors(b)[a:b]``: a growing
    data set is made a slice at a time.
    """
    if not 0 <= start <= stop or dim < 1 or clusters < 1:
        raise ValueError(
            f"need 0 <= start <= stop, dim >= 1, clusters >= 1 (got {start}, {stop}, {dim}, "
            f"{clusters})"
        )
    centres = make_centres(dim, clusters, seed)
    weights = _cluster_weights(clusters, seed)
    return _make_rows(start, stop, centres, weights, spread, [seed, _ROWS])


def make_clustered_vectors(
    n: int,
    dim: int = 512,
    clusters: int = 1000,
    seed: int = 0,
    spread: float = DEFAULT_SPREAD,
) -> np.ndarray:
    """``(n, dim)`` float32 unit rows around ``clusters`` centres; deterministic in ``seed``."""
    if n < 0:
        raise ValueError(f"need n >= 0 (got {n})")
    return make_clustered_rows(0, n, dim, clusters, seed, spread)[0]


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
    return _make_rows(0, count, centres, weights, spread, [seed, _QUERIES, query_seed])[0]


def describe(dim: int, clusters: int, seed: int, spread: float = DEFAULT_SPREAD) -> str:
    """One line for a report: what the vectors were."""
    return (
        f"bench/clustered.py v{VERSION}: {clusters} clusters of uneven size on the unit sphere, "
        f"each spread along {LATENT_DIM} own directions (offset norm {spread}) plus isotropic "
        f"noise (norm {NOISE}), dim {dim}, seed {seed}"
    )


def exact_top_k(
    vectors: np.ndarray, queries: np.ndarray, k: int = 10, mask: np.ndarray | None = None
) -> np.ndarray:
    """``(len(queries), k)`` row numbers of the true nearest neighbours by cosine (unit rows).

    Scores are float32 products, like the stores'; each query's rows are best first,
    equal scores in row order. ``mask`` (one bool a row) keeps only the rows it marks;
    -1 pads a query's rows when fewer than ``k`` rows are kept. Done in blocks of
    queries and of rows, so a million rows need little more memory than themselves.
    """
    out = np.full((len(queries), k), -1, dtype=np.int64)
    if k == 0:
        return out
    for first_query in range(0, len(queries), _QUERY_BLOCK):
        block = queries[first_query : first_query + _QUERY_BLOCK]
        best_scores = np.full((len(block), k), -np.inf, dtype=np.float32)
        best_rows = np.full((len(block), k), -1, dtype=np.int64)
        for first_row in range(0, len(vectors), _ROW_BLOCK):
            scores = block @ vectors[first_row : first_row + _ROW_BLOCK].T
            if mask is not None:
                scores[:, ~mask[first_row : first_row + _ROW_BLOCK]] = -np.inf
            rows = np.arange(first_row, first_row + scores.shape[1])
            both_scores = np.concatenate([best_scores, scores], axis=1)
            both_rows = np.concatenate([best_rows, np.broadcast_to(rows, scores.shape)], axis=1)
            pick = np.argpartition(-both_scores, k - 1, axis=1)[:, :k]
            best_scores = np.take_along_axis(both_scores, pick, axis=1)
            best_rows = np.take_along_axis(both_rows, pick, axis=1)
        order = np.lexsort((best_rows, -best_scores), axis=1)
        best_rows = np.take_along_axis(best_rows, order, axis=1)
        best_rows[np.isneginf(np.take_along_axis(best_scores, order, axis=1))] = -1
        out[first_query : first_query + len(block)] = best_rows
    return out
