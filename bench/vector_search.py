"""Vector search over HTTP at one size: many clients, exact search, filters cold and warm,
filters while an ingest writes.

``bench_vectors`` measures one ``same-same serve`` (started with ``options.server_args``)
on a data directory that holds the first N clustered vectors:

* start: time to /health and to the first answer;
* ``POST /api/v1/vectors/search`` at each concurrency level (``http_load``: one
  kept-alive connection per client, clients spread over processes): q/s, p50, p99,
  recall@10 against numpy's exact top 10; at least 20 queries per client;
* ``exact: true``: p50 and recall (1.0 unless something is wrong);
* the filter matrix of ``filter_bench`` (cold and warm), then the same matrix again
  while ``background_writer.py`` upserts batches into the namespace (its rate is kept);
* resident memory per vector (the server's VmRSS minus an empty server's, over N).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from clustered import exact_top_k
from filter_bench import run_filter_matrix
from filter_cases import KINDS, SELECTIVITIES
from http_load import HTTPSearch, run_clients, summarize
from query_data import DIM, NAMESPACE, TOP, record_id
from serving import percentile, rss_kb, serve

BENCH = Path(__file__).resolve().parent
SEARCH = "/api/v1/vectors/search"
QUERIES_PER_CLIENT = 20


@dataclass(frozen=True)
class VectorOptions:
    """How one size is measured."""

    concurrency: tuple[int, ...] = (1, 8, 32)
    client_processes: int | None = None
    """None: one per core (at most one per client); 0: threads of the benchmark itself."""
    filter_queries: int = 30
    kinds: tuple[str, ...] = KINDS
    selectivities: tuple[float, ...] = SELECTIVITIES
    filters_while_writing: bool = True
    writer_batch: int = 100
    writer_rows_per_s: float = 200.0
    """The background ingest's pace (0: flat out); about a CPU image ingest's rate here."""
    server_args: tuple[str, ...] = ()
    store: str | None = None
    """The server's ``--store`` (None: the embedded store of the data directory)."""


def vector_body(query: np.ndarray, **extra: Any) -> bytes:
    return json.dumps(
        {
            "embedding": [float(x) for x in query],  # exact float32 values
            "limit": TOP,
            "namespace": NAMESPACE,
            **extra,
        }
    ).encode()


def recall_of(answers: Sequence[Sequence[str]], truth: np.ndarray) -> float:
    """Share of the true top 10 found; answer ``i`` is query ``i % len(truth)``'s."""
    hits, wanted = 0, 0
    for i, got in enumerate(answers):
        expected = {record_id(int(row)) for row in truth[i % len(truth)] if row >= 0}
        hits += len(set(got) & expected)
        wanted += len(expected)
    return hits / wanted if wanted else 1.0


def measure_concurrency(
    port: int,
    bodies: list[bytes],
    truth: np.ndarray,
    levels: Sequence[int],
    processes: int | None,
) -> list[dict[str, Any]]:
    """One row per concurrency level: q/s, p50, p99, recall@10, client processes."""
    rows = []
    for concurrency in levels:
        count = max(len(bodies), QUERIES_PER_CLIENT * concurrency)
        result = run_clients(HTTPSearch(port, SEARCH, bodies), count, concurrency, processes)
        rows.append(summarize(result, recall_of(result.answers, truth)))
    return rows


def bench_empty_server(env: dict[str, str], server_args: Sequence[str] = ()) -> int:
    """Memory (kB, serving.rss_kb) of a server with no data that has answered a search."""
    with (
        tempfile.TemporaryDirectory(prefix="same-same-empty-") as empty,
        serve(Path(empty), env, server_args) as server,
    ):
        conn = server.connect()
        server.request(conn, SEARCH, vector_body(np.ones(DIM, dtype=np.float32)))
        conn.close()
        time.sleep(0.2)
        return rss_kb(server.process.pid)


@contextmanager
def background_writer(
    data_dir: Path, store: str | None, batch: int, rows_per_s: float, env: dict[str, str]
) -> Iterator[dict[str, Any]]:
    """``background_writer.py`` writing into the namespace from its first batch until the
    block ends; the dict then holds its rows, seconds and rows_per_s."""
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="same-same-writer-") as tmp:
        stop, started, out = Path(tmp, "stop"), Path(tmp, "started"), Path(tmp, "out.json")
        command = [
            sys.executable, str(BENCH / "background_writer.py"), "--data-dir", str(data_dir),
            "--namespace", NAMESPACE, "--dim", str(DIM), "--batch", str(batch),
            "--rows-per-s", str(rows_per_s),
            "--stop-file", str(stop), "--started-file", str(started), "--out", str(out),
        ]  # fmt: skip
        if store:
            command += ["--store", store]
        process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 300
            while not started.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the background writer did not start writing")
                time.sleep(0.05)
            yield report
        finally:
            stop.touch()
            _, err = process.communicate(timeout=1800)
            if process.returncode != 0:
                raise RuntimeError(f"background writer failed: {err.decode()[-2000:]}")
            report.update(json.loads(out.read_text(encoding="utf-8")))


def bench_vectors(
    size: int,
    data_dir: Path,
    env: dict[str, str],
    data: np.ndarray,
    queries: np.ndarray,
    empty_rss_kb: int,
    load_info: dict[str, float],
    options: VectorOptions,
) -> dict[str, Any]:
    """Every measurement of one size against one server (see the module's docstring)."""
    truth = exact_top_k(data, queries, TOP)
    bodies = [vector_body(q) for q in queries]
    result: dict[str, Any] = {"size": size, "server_args": list(options.server_args), **load_info}
    if options.store:
        env = {**env, "SAME_SAME_STORE": options.store}
    with serve(data_dir, env, options.server_args) as server:
        conn = server.connect()
        result["health_s"] = time.perf_counter() - server.started
        began = time.perf_counter()
        status, answer = server.request(conn, SEARCH, bodies[0])
        assert status == 200, answer
        result["first_query_ms"] = (time.perf_counter() - began) * 1000
        result["start_s"] = time.perf_counter() - server.started
        conn.close()
        warm_up = HTTPSearch(server.port, SEARCH, bodies[: min(20, len(bodies))])
        run_clients(warm_up, min(20, len(bodies)), 1, 0)
        result["concurrency"] = measure_concurrency(
            server.port, bodies, truth, options.concurrency, options.client_processes
        )
        for row in result["concurrency"]:
            for key in ("qps", "p50_ms", "p99_ms", "recall_at_10", "client_processes"):
                result[f"c{row['concurrency']}_{key}"] = row[key]
        result["recall_at_10"] = result["concurrency"][0]["recall_at_10"]
        rss = rss_kb(server.process.pid)
        result["server_rss_mb"] = rss / 1024
        result["bytes_per_vector"] = (rss - empty_rss_kb) * 1024 / size
        exact_count = min(len(queries), 30)
        exact = HTTPSearch(server.port, SEARCH, [vector_body(q, exact=True) for q in queries])
        done = run_clients(exact, exact_count, 1, 0)
        result["exact_p50_ms"] = percentile(done.latencies_ms, 50)
        result["exact_recall_at_10"] = recall_of(done.answers, truth[:exact_count])
        filtered = queries[: options.filter_queries]
        matrix = (server.port, NAMESPACE, data, filtered, record_id, options.kinds)
        result["filters"] = run_filter_matrix(*matrix, options.selectivities, "idle")
        if options.filters_while_writing:
            with background_writer(
                data_dir, options.store, options.writer_batch, options.writer_rows_per_s, env
            ) as writer:
                rows = run_filter_matrix(*matrix, options.selectivities, "ingest")
            result["filters"] += rows
            result["writer"] = writer
        result["server_rss_end_mb"] = rss_kb(server.process.pid) / 1024
    index_files = list((data_dir / "index").glob("*.usearch"))
    result["index_file_mb"] = sum(p.stat().st_size for p in index_files) / 2**20
    result["index_used"] = bool(index_files)
    return result


def client_cpu_note() -> str:
    return (
        f"load generator: one kept-alive HTTP/1.1 connection per client thread, bodies encoded "
        f"before timing, clients over up to {os.cpu_count()} spawned processes"
    )
