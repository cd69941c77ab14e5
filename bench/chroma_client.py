"""Chroma's side of bench/query.py's peers, run with the peers' venv (chromadb installed).

    python bench/chroma_client.py load --port P --vectors V.npy [--ef-search 100]
    python bench/chroma_client.py query --port P --queries Q.npy --count N \
        --concurrency C [--processes K] --out FILE.json

``load`` creates the collection ``bench`` on a running ``chroma run`` server (HNSW
M=32, ef_construction=100, cosine, ``--ef-search``) and adds the rows in batches of
1000 (ids ``v00000000``...) over HTTP with ``chromadb.HttpClient``. ``query`` runs
``http_load.run_clients`` with one ``HttpClient`` per client thread and writes the
latencies, the ids found and the wall time as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_load import Search, run_clients  # noqa: E402

COLLECTION = "bench"
BATCH = 1000
TOP = 10


def connect(port: int) -> Any:
    import chromadb
    from chromadb.config import Settings

    return chromadb.HttpClient(
        host="127.0.0.1", port=port, settings=Settings(anonymized_telemetry=False)
    )


@dataclass(frozen=True)
class ChromaSearch:
    """One client: its own HttpClient; query ``i`` is row ``i % len`` of the queries file."""

    port: int
    queries_path: str

    def __call__(self) -> Search:
        import numpy as np

        queries = np.load(self.queries_path)
        collection = connect(self.port).get_collection(COLLECTION)

        def search(i: int) -> list[str]:
            query = queries[i % len(queries)]
            found = collection.query(query_embeddings=[query.tolist()], n_results=TOP)
            return [str(record_id) for record_id in found["ids"][0]]

        return search


def load(port: int, vectors_path: Path, ef_search: int) -> dict[str, Any]:
    import numpy as np

    vectors = np.load(vectors_path)
    client = connect(port)
    hnsw = {"space": "cosine", "max_neighbors": 32, "ef_construction": 100, "ef_search": ef_search}
    began = time.perf_counter()
    collection = client.create_collection(
        COLLECTION, configuration={"hnsw": hnsw}, embedding_function=None
    )
    for first in range(0, len(vectors), BATCH):
        block = vectors[first : first + BATCH]
        ids = [f"v{first + j:08d}" for j in range(len(block))]
        collection.add(ids=ids, embeddings=block)
    return {"load_s": time.perf_counter() - began, "rows": collection.count(), "hnsw": hnsw}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("load", "query"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--vectors", type=Path)
    parser.add_argument("--ef-search", type=int, default=100)
    parser.add_argument("--queries", type=Path)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--processes", type=int, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.action == "load":
        report = load(args.port, args.vectors, args.ef_search)
    else:
        factory = ChromaSearch(args.port, str(args.queries))
        run_clients(factory, min(20, args.count), 1, 0)  # warm-up
        result = run_clients(factory, args.count, args.concurrency, args.processes)
        report = {
            "latencies_ms": result.latencies_ms,
            "answers": result.answers,
            "wall_s": result.wall_s,
            "concurrency": result.concurrency,
            "processes": result.processes,
            "errors": result.errors,
        }
    args.out.write_text(json.dumps(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
