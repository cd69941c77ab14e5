"""Text search over HTTP: ``POST /api/v1/search`` with a CLIP model, one server per backend.

A namespace of the CLIP space (random weights with ``--clip-pretrain none``: nothing is
downloaded) holds clustered vectors; per backend, the first query (loads the model),
new queries (one forward pass each) and repeated ones (the server's query cache).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clustered import make_clustered_rows
from query_data import CLUSTERS, TEXT_NAMESPACE, TEXT_SEED, TOP, load
from serving import percentile, serve, timed_queries


def bench_text(
    size: int,
    work: Path,
    env: dict[str, str],
    model: str,
    pretrained: str,
    queries: int,
    backends: Sequence[str],
    server_args: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Text search over HTTP, one server per CLIP backend, on one store of ``size`` vectors."""
    from same_same.embedders.clip import CLIPEmbedder

    space = CLIPEmbedder(model=model, pretrained=pretrained).space
    data_dir = work / "text"
    vectors, labels = make_clustered_rows(0, size, space.dim, CLUSTERS, TEXT_SEED)
    load_info = load(data_dir, space, vectors, labels, 0, TEXT_NAMESPACE)
    del vectors
    texts = [f"a photo of thing number {i} in a quiet place" for i in range(queries)]
    bodies = [
        json.dumps({"text": t, "limit": TOP, "namespace": TEXT_NAMESPACE}).encode() for t in texts
    ]
    runs = []
    for backend in backends:
        result: dict[str, Any] = {
            "size": size,
            "model": f"{space.model}/{space.pretrained}",
            "backend": backend,
            "load_s": load_info["load_s"],
            "index_s": load_info["index_s"],
        }
        # The server picks the backend of the models it loads from the environment.
        with serve(data_dir, {**env, "SAME_SAME_CLIP_BACKEND": backend}, server_args) as server:
            conn = server.connect()
            began = time.perf_counter()
            status, answer = server.request(
                conn,
                "/api/v1/search",
                json.dumps({"text": "warm up the model", "namespace": TEXT_NAMESPACE}).encode(),
            )
            assert status == 200, answer
            result["first_query_ms"] = (time.perf_counter() - began) * 1000
            conn.close()
            latencies, _ = timed_queries(server, "/api/v1/search", bodies, 1)
            result["new_p50_ms"], result["new_p99_ms"] = (
                percentile(latencies, 50),
                percentile(latencies, 99),
            )
            latencies, _ = timed_queries(server, "/api/v1/search", bodies, 1)
            result["cached_p50_ms"], result["cached_p99_ms"] = (
                percentile(latencies, 50),
                percentile(latencies, 99),
            )
            latencies, _ = timed_queries(server, "/api/v1/search", bodies * 2, 8)
            result["cached_c8_p50_ms"] = percentile(latencies, 50)
        print(
            f"text ({backend}): new p50 {result['new_p50_ms']:.1f} ms, "
            f"cached p50 {result['cached_p50_ms']:.1f} ms",
            flush=True,
        )
        runs.append(result)
    return runs
