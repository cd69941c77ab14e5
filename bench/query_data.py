"""The vector benchmark's data: constants, each record's metadata, loading a store.

Record ``i`` is ``v<i:08d>`` with the clustered vector ``i`` of ``clustered.py`` and
``metadata_of(i, cluster)``: its cluster ``c`` and the fields of ``filter_cases``
(filters of exact selectivity). Loading goes through the store API in batches.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from filter_cases import filter_metadata

DIM = 512
CLUSTERS = 1000
BATCH = 5_000
NAMESPACE = "bench"
TEXT_NAMESPACE = "clip"
TOP = 10
SEED = 20261127
TEXT_SEED = SEED + 1
"""The text search's namespace holds another data set of the same kind."""


def record_id(i: int) -> str:
    return f"v{i:08d}"


def metadata_of(i: int, label: int) -> dict[str, Any]:
    """Record ``i``'s metadata: its cluster and ``filter_cases.filter_metadata(i)``."""
    return {"c": int(label), **filter_metadata(i)}


def load(
    data_dir: Path, space: Any, vectors: np.ndarray, labels: np.ndarray, first: int, namespace: str
) -> dict[str, float]:
    """Upsert rows ``first..`` through the store API; returns timings and index counters."""
    from same_same.records import Record
    from same_same.storage.sqlite import SQLiteStore

    started = time.perf_counter()
    store = SQLiteStore(data_dir)
    try:
        store.ensure_namespace(namespace, space)
        for offset in range(0, len(vectors), BATCH):
            block = vectors[offset : offset + BATCH]
            records = [
                Record(
                    f"v{first + offset + j:08d}",
                    block[j],
                    metadata=metadata_of(first + offset + j, int(labels[offset + j])),
                )
                for j in range(len(block))
            ]
            store.upsert(namespace, records)
    finally:
        store.close()  # saves the index
    stats = store.index_stats
    return {
        "load_s": time.perf_counter() - started,
        # add_seconds covers every insertion, a first build's included
        "index_s": stats.add_seconds + stats.save_seconds,
        "index_insert_s": stats.add_seconds,
        "index_save_s": stats.save_seconds,
        "index_saves": stats.saves,
        "index_vectors_added": stats.vectors_added,
    }


def stored_count(data_dir: Path) -> int:
    from same_same.storage.sqlite import SQLiteStore

    if not (data_dir / "same-same.db").exists():
        return 0
    with SQLiteStore(data_dir) as store:
        return store.count(NAMESPACE) if store.list_namespaces() else 0
