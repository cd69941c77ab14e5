"""One adapter per system the peer benchmark measures, all behind the same small interface.

Every adapter imports its library inside ``load`` only, so this module loads in
both interpreters: the main .venv (same-same) and bench/work/peers-venv (the
peers), neither of which has the other's packages.

An adapter may have a *knob* (a search-time parameter such as HNSW's efSearch):
the worker tries the values in ``knobs`` in order, cheapest first, and keeps the
first that reaches the target recall on a separate tuning query set.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

BATCH = 1000  # vectors per insert call, for every API that takes batches
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 100
# qdrant's on-disk local mode commits (and syncs) every point: about 12 ms a vector
# here, so above this size only a sample is inserted
DISK_SAMPLE = 2000
EF_SEARCH = (16, 32, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


class System:
    """Build an index over ``vectors`` (rows are ids 0..n-1), then answer top-k queries."""

    name = ""
    library = ""  # the distribution whose version is reported
    notes = ""
    knob_name = ""
    knobs: Sequence[Any] = ()
    # when set and the data set is larger, only this many rows are inserted, the
    # ingest time is scaled up and no queries are run (too slow to do in full)
    sample = 0
    # when set, only this many of the measured queries are run (flat scans in
    # Python at ~0.4 s a query would otherwise take most of the run)
    max_queries = 0

    def load(self, threads: int) -> None:
        """Import the library (timed apart from the build)."""

    def build(self, vectors: np.ndarray, work_dir: Path) -> dict[str, float]:
        """Insert everything; returns named phase timings beyond the total (may be empty)."""
        raise NotImplementedError

    def set_knob(self, value: Any) -> None:
        raise NotImplementedError

    def search(self, query: np.ndarray, k: int) -> list[int]:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """The index settings, for the report."""
        return {}

    def close(self) -> None:
        pass


class SameSame(System):
    """same-same's store through its library API (``open_store`` ... ``search``).

    Namespaces of ``min_vectors`` or more are searched through the store's HNSW
    index; its search-time ef (``expansion_search``) is read when a store is
    opened, so the knob reopens the store (the saved index is reused, not rebuilt).
    """

    name = "same-same"
    library = "same-same"
    exact: bool | None = None

    def load(self, threads: int) -> None:
        from same_same.records import EmbeddingSpace, Record
        from same_same.storage import open_store
        from same_same.storage.index_settings import IndexSettings

        self._open_store = open_store
        self._record = Record
        self._space = EmbeddingSpace
        self.settings = IndexSettings.from_env()

    def build(self, vectors: np.ndarray, work_dir: Path) -> dict[str, float]:
        import time

        self.data_dir = work_dir / "store"
        self.store = self._open_store(self.data_dir)
        space = self._space("bench", "clustered", "", vectors.shape[1])
        self.store.ensure_namespace("bench", space)
        start = time.perf_counter()
        for first in range(0, len(vectors), BATCH):
            block = vectors[first : first + BATCH]
            records = [self._record(id=str(first + i), vector=row) for i, row in enumerate(block)]
            self.store.upsert("bench", records)
        ingest = time.perf_counter() - start
        # the first search loads the in-memory matrix, or builds the index
        self.store.search(["bench"], vectors[0], limit=10, exact=self.exact)
        self.indexed = (
            self.settings.enabled and len(vectors) >= self.settings.min_vectors and not self.exact
        )
        if self.indexed:
            self.knob_name, self.knobs = "ef", EF_SEARCH
            self.notes = (
                f"SQLite store + HNSW index (usearch, f16, M={self.settings.connectivity}, "
                f"efConstruction={self.settings.expansion_add}; default ef "
                f"{self.settings.search_expansion(len(vectors))} at this size), "
                "candidates re-scored exactly"
            )
        elif self.exact:
            self.notes = "SQLite store, exact=True: every vector scored"
        else:
            self.notes = (
                f"SQLite store, below {self.settings.min_vectors:,} vectors: "
                "exact numpy scan of one float32 matrix"
            )
        return {"ingest_s": ingest, "first_search_s": time.perf_counter() - start - ingest}

    def set_knob(self, value: Any) -> None:
        from dataclasses import replace

        from same_same.storage.sqlite import SQLiteStore

        self.store.close()
        settings = replace(self.settings, expansion_search=int(value))
        self.store = SQLiteStore(self.data_dir, index_settings=settings)

    def search(self, query: np.ndarray, k: int) -> list[int]:
        matches = self.store.search(["bench"], query, limit=k, exact=self.exact)
        return [int(match.id) for match in matches]

    def params(self) -> dict[str, Any]:
        from peers_report import describe_store_version

        settings = self.settings
        return {
            # the tree is shared and may change during a run: the code this worker ran
            "store_version": describe_store_version(),
            "exact": self.exact,
            "batch": BATCH,
            "index_min_vectors": settings.min_vectors,
            "index_used": bool(getattr(self, "indexed", False)),
            "M": settings.connectivity,
            "efConstruction": settings.expansion_add,
            "default_ef": settings.expansion_search or "auto",
        }

    def close(self) -> None:
        self.store.close()


class SameSameExact(SameSame):
    name = "same-same-exact"
    exact = True


class FaissFlat(System):
    name = "faiss-flat"
    library = "faiss-cpu"
    notes = "IndexFlatIP: exact brute force (BLAS)"

    def load(self, threads: int) -> None:
        import faiss

        faiss.omp_set_num_threads(threads)
        self.faiss = faiss

    def _make_index(self, dim: int) -> Any:
        return self.faiss.IndexFlatIP(dim)

    def build(self, vectors: np.ndarray, work_dir: Path) -> dict[str, float]:
        import time

        start = time.perf_counter()
        self.index = self._make_index(vectors.shape[1])
        self.index.add(vectors)
        built = time.perf_counter() - start
        # written only to report the size on disk; not part of the build time
        self.faiss.write_index(self.index, str(work_dir / "index.faiss"))
        return {"add_s": built}

    def set_knob(self, value: Any) -> None:
        self.index.hnsw.efSearch = int(value)

    def search(self, query: np.ndarray, k: int) -> list[int]:
        _, found = self.index.search(query.reshape(1, -1), k)
        return [int(i) for i in found[0] if i >= 0]


class FaissHnsw(FaissFlat):
    name = "faiss-hnsw"
    notes = f"IndexHNSWFlat M={HNSW_M} efConstruction={HNSW_EF_CONSTRUCTION}, inner product"
    knob_name = "efSearch"
    knobs = EF_SEARCH

    def _make_index(self, dim: int) -> Any:
        index = self.faiss.IndexHNSWFlat(dim, HNSW_M, self.faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        return index

    def params(self) -> dict[str, Any]:
        return {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}


class Chroma(System):
    name = "chromadb"
    library = "chromadb"
    notes = (
        f"PersistentClient, HNSW M={HNSW_M} ef_construction={HNSW_EF_CONSTRUCTION}, cosine; "
        "anonymized_telemetry=False"
    )
    knob_name = "ef_search"
    knobs = EF_SEARCH

    def load(self, threads: int) -> None:
        import chromadb
        from chromadb.config import Settings

        self.chromadb = chromadb
        self.settings = Settings(anonymized_telemetry=False)
        self.threads = threads

    def build(self, vectors: np.ndarray, work_dir: Path) -> dict[str, float]:
        self.path = str(work_dir / "chroma")
        self.client = self.chromadb.PersistentClient(path=self.path, settings=self.settings)
        hnsw = {
            "space": "cosine",
            "max_neighbors": HNSW_M,
            "ef_construction": HNSW_EF_CONSTRUCTION,
            "ef_search": EF_SEARCH[0],
            "num_threads": self.threads,
        }
        self.collection = self.client.create_collection(
            "bench", configuration={"hnsw": hnsw}, embedding_function=None
        )
        for first in range(0, len(vectors), BATCH):
            block = vectors[first : first + BATCH]
            ids = [str(first + i) for i in range(len(block))]
            self.collection.add(ids=ids, embeddings=block)
        return {}

    def set_knob(self, value: Any) -> None:
        from chromadb.api.shared_system_client import SharedSystemClient

        self.collection.modify(configuration={"hnsw": {"ef_search": int(value)}})
        # A loaded index keeps its ef_search: only a new client reads the new one.
        SharedSystemClient.clear_system_cache()
        self.client = self.chromadb.PersistentClient(path=self.path, settings=self.settings)
        self.collection = self.client.get_collection("bench")

    def search(self, query: np.ndarray, k: int) -> list[int]:
        found = self.collection.query(query_embeddings=[query], n_results=k, include=[])
        return [int(i) for i in found["ids"][0]]

    def params(self) -> dict[str, Any]:
        return {"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "batch": BATCH}


class LanceFlat(System):
    name = "lancedb-flat"
    library = "lancedb"
    notes = "one table written at once, no index: a flat scan per query"
    max_queries = 250

    def load(self, threads: int) -> None:
        import lancedb
        import pyarrow as pa

        self.lancedb = lancedb
        self.pa = pa
        self.nprobes = 0
        self.refine = 0

    def build(self, vectors: np.ndarray, work_dir: Path) -> dict[str, float]:
        import time

        pa = self.pa
        start = time.perf_counter()
        db = self.lancedb.connect(str(work_dir / "lance"))
        column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1])
        data = pa.table({"id": pa.array(np.arange(len(vectors), dtype=np.int64)), "vector": column})
        self.table = db.create_table("bench", data)
        timings = {"write_s": time.perf_counter() - start}
        timings.update(self._index(len(vectors)))
        return timings

    def _index(self, n: int) -> dict[str, float]:
        return {}

    def search(self, query: np.ndarray, k: int) -> list[int]:
        request = (
            self.table.search(query).distance_type("cosine").limit(k).select(["id", "_distance"])
        )
        if self.nprobes:
            request = request.nprobes(self.nprobes)
        if self.refine:
            request = request.refine_factor(self.refine)
        return [int(i) for i in request.to_arrow()["id"].to_pylist()]


class LanceIvfPq(LanceFlat):
    name = "lancedb-ivfpq"
    max_queries = 0
    knob_name = "nprobes,refine_factor"
    # On clustered data the neighbours share a partition, so recall is bound by the
    # PQ codes' error: re-ranking more candidates with the full vectors is the knob.
    knobs = (
        *((20, refine) for refine in (1, 5, 10, 20, 50, 100, 200)),
        (50, 100),
        (50, 200),
        (100, 400),
    )

    def _index(self, n: int) -> dict[str, float]:
        import time

        from lancedb.index import IvfPq

        self.partitions = max(1, int(np.sqrt(n)))
        self.sub_vectors = 64
        self.notes = (
            f"IVF_PQ index, {self.partitions} partitions (sqrt n), {self.sub_vectors} sub-vectors "
            "of 8 bits, cosine; tuned by nprobes and refine_factor (re-rank with full vectors)"
        )
        start = time.perf_counter()
        config = IvfPq(
            distance_type="cosine", num_partitions=self.partitions, num_sub_vectors=self.sub_vectors
        )
        self.table.create_index("vector", config=config)
        return {"index_s": time.perf_counter() - start}

    def set_knob(self, value: Any) -> None:
        self.nprobes, self.refine = value

    def params(self) -> dict[str, Any]:
        return {"num_partitions": self.partitions, "num_sub_vectors": self.sub_vectors}


class QdrantLocal(System):
    """qdrant-client's local mode: no Qdrant server, a pure-Python/numpy brute-force scan."""

    name = "qdrant-local"
    library = "qdrant-client"
    notes = (
        "local mode in memory (':memory:'): brute-force numpy scan in Python, no HNSW; "
        "the on-disk local mode is qdrant-local-disk"
    )
    max_queries = 250

    def load(self, threads: int) -> None:
        from qdrant_client import QdrantClient, models

        self.client_class = QdrantClient
        self.models = models

    def _open(self, work_dir: Path) -> Any:
        return self.client_class(location=":memory:")

    def build(self, vectors: np.ndarray, work_dir: Path) -> dict[str, float]:
        models = self.models
        self.client = self._open(work_dir)
        params = models.VectorParams(size=vectors.shape[1], distance=models.Distance.COSINE)
        self.client.create_collection("bench", vectors_config=params)
        for first in range(0, len(vectors), BATCH):
            block = vectors[first : first + BATCH]
            ids = list(range(first, first + len(block)))
            self.client.upload_collection("bench", vectors=block, ids=ids)
        return {}

    def search(self, query: np.ndarray, k: int) -> list[int]:
        found = self.client.query_points("bench", query=query, limit=k, with_payload=False)
        return [int(point.id) for point in found.points]

    def close(self) -> None:
        self.client.close()


class QdrantLocalDisk(QdrantLocal):
    name = "qdrant-local-disk"
    notes = (
        "local mode with path=: the same scan as qdrant-local, but every point is its own "
        f"SQLite commit, so above {DISK_SAMPLE} vectors only a sample is inserted and the "
        "ingest time extrapolated (no query numbers)"
    )
    sample = DISK_SAMPLE

    def _open(self, work_dir: Path) -> Any:
        return self.client_class(path=str(work_dir / "qdrant"))


SYSTEMS: dict[str, Callable[[], System]] = {
    system.name: system
    for system in (
        SameSame,
        SameSameExact,
        FaissFlat,
        FaissHnsw,
        Chroma,
        LanceFlat,
        LanceIvfPq,
        QdrantLocal,
        QdrantLocalDisk,
    )
}
# which interpreter runs each system: same-same's own venv, or the peers' venv
OWN_SYSTEMS = ("same-same", "same-same-exact")


def directory_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def clear_directory(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
