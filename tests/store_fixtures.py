"""Constants, record factories and the reference ranking the store tests share.

Two data sets: small random records (``DIM``, ``SPACE``: the contract suite, the SQLite
store) and clustered vectors big enough for the approximate index (``CLUSTERED_DIM``,
``CLUSTERED_SPACE``, ``INDEX_SETTINGS``: the index, the filter cache).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from same_same.records import EmbeddingSpace, Record
from same_same.storage.index_settings import IndexSettings

DIM = 8
SPACE = EmbeddingSpace("test", "random-8", "", DIM)
OTHER_MODEL = EmbeddingSpace("test", "other-8", "", DIM)

CLUSTERED_DIM = 32
CLUSTERED_SPACE = EmbeddingSpace("test", "clusters-32", "", CLUSTERED_DIM)
INDEX_MIN_VECTORS = 500
"""Lowered from the default, so a few thousand test vectors go through the index."""
INDEX_SETTINGS = IndexSettings(min_vectors=INDEX_MIN_VECTORS, exact_candidates=100)


def random_records(
    rng: np.random.Generator, count: int, prefix: str = "r", dim: int = DIM
) -> list[Record]:
    """``count`` records ``{prefix}0000...`` with normal random vectors, a text and metadata."""
    return [
        Record(
            id=f"{prefix}{i:04d}",
            vector=rng.normal(size=dim).astype(np.float32),
            text=f"text {i}",
            metadata={"i": i},
            content_hash=f"hash-{prefix}{i}",
        )
        for i in range(count)
    ]


def clustered(count: int, seed: int = 0, start: int = 0) -> tuple[list[str], np.ndarray]:
    """Ids and vectors around 40 random centres (what embeddings of real collections look like)."""
    centres = np.random.default_rng(99).standard_normal((40, CLUSTERED_DIM))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 40, count)
    vectors = centres[labels] + 0.5 * rng.standard_normal((count, CLUSTERED_DIM))
    return [f"r{start + i:05d}" for i in range(count)], vectors.astype(np.float32)


def make_records(ids: list[str], vectors: np.ndarray, offset: int = 0) -> list[Record]:
    """Records of ``clustered`` vectors; metadata ``p`` runs 0..99 (filters of known share)."""
    return [
        Record(rid, vector, text=f"t{rid}", metadata={"p": (offset + i) % 100})
        for i, (rid, vector) in enumerate(zip(ids, vectors, strict=True))
    ]


def brute_force(
    keys: Sequence[Any], vectors: np.ndarray | Sequence[np.ndarray], query: np.ndarray, limit: int
) -> list[tuple[Any, float]]:
    """The reference ranking: ``(key, cosine)`` best first, equal scores by key.

    Scores are float64 and made row by row with elementwise operations (no matrix product),
    so equal vectors score exactly equal wherever they stand and ties are real ties."""
    if len(keys) == 0:
        return []
    matrix = np.asarray(vectors, dtype=np.float64).reshape(len(keys), -1)
    unit = matrix / np.sqrt((matrix * matrix).sum(axis=1, keepdims=True))
    direction = np.asarray(query, dtype=np.float64)
    direction = direction / np.sqrt((direction * direction).sum())
    scores = (unit * direction).sum(axis=1)
    order = sorted(range(len(keys)), key=lambda i: (-scores[i], keys[i]))[:limit]
    return [(keys[i], float(scores[i])) for i in order]


def ids_of(matches: Sequence[Any]) -> list[str]:
    return [match.id for match in matches]


def drop_keyword_schema(conn: sqlite3.Connection) -> None:
    """Remove what schema 5 added (the keyword index, its triggers, the notes), so a test
    can leave a file as a version before 5 wrote it."""
    for name in ("on_insert", "on_delete", "on_update"):
        conn.execute(f"DROP TRIGGER records_terms_{name}")
    conn.execute("DROP TABLE records_terms")
    conn.execute("DROP TABLE namespace_notes")
