"""Query benchmark: vector search over HTTP at growing sizes, and text search with ViT-B-32.

    python bench/query.py [--sizes 10000,100000,1000000] [--quick]

For each size N (one data directory, grown from one size to the next):

* N synthetic clustered vectors of dim 512 (``bench/clustered.py``: 1000 clusters
  on the unit sphere, deterministic: vector i is the same at every size) are loaded through
  the store API (``upsert`` in batches; a large namespace's index is extended as
  each batch commits, and saved when the store closes: that is the build time);
* a real ``same-same serve`` process on 127.0.0.1 is started: time until
  /health answers and until the first query is answered;
* ``POST /api/v1/vectors/search`` p50/p99 at concurrency 1 and 8, recall@10
  against exact top-10 computed here in numpy, the same with ``exact: true``, and
  with a selective (1%) and a broad (50%) metadata filter;
* resident memory per vector: the server's VmRSS after the queries minus an
  empty server's, over N.

Then ``POST /api/v1/search`` (text) against a namespace of the CLIP ViT-B-32
space with random weights (``--clip-pretrain none``: nothing is downloaded):
first query (loads the model), new queries (one forward pass each), repeated
queries (answered from the server's query-vector cache); one server per CLIP
backend (``--text-backends torch,onnx,onnx-int8``). ``--sizes ''`` runs the text
part alone.

Prints a table and writes bench/results/query-<date>.json with the machine.
Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clustered import describe, exact_top_k, make_clustered_rows, make_queries  # noqa: E402
from machine import describe_machine, load_average  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DIM = 512
CLUSTERS = 1000
BATCH = 5_000
NAMESPACE = "bench"
TEXT_NAMESPACE = "clip"
TOP = 10
FILTERED_QUERIES = 30
SEED = 20261127
TEXT_SEED = SEED + 1
"""The text search's namespace holds another data set of the same kind."""


# -- data -----------------------------------------------------------------------


def metadata_of(i: int, label: int) -> dict[str, int]:
    # "p" (percentile bucket) gives filters of known selectivity: p == 7 is 1%, p < 50 is 50%.
    return {"c": int(label), "p": i % 100}


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


# -- server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    started: float
    log: Path
    last_wall_s: float = 0.0

    def request(
        self, conn: http.client.HTTPConnection, path: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)


@contextmanager
def serve(data_dir: Path, env: dict[str, str]) -> Iterator[Server]:
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="same-same-bench-", suffix=".log")[1])
    command = [
        sys.executable,
        "-m",
        "same_same",
        "serve",
        "--addr",
        f"127.0.0.1:{port}",
        "--data-dir",
        str(data_dir),
    ]
    started = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(process, port, started, log)
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError("the server exited:\n" + log.read_text(errors="replace")[-3000:])
            try:
                conn = server.connect()
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /health")
            time.sleep(0.02)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.unlink(missing_ok=True)


def timed_queries(
    server: Server, path: str, bodies: list[bytes], concurrency: int
) -> tuple[list[float], list[dict[str, Any]]]:
    """Latencies (ms) and responses, in the order of ``bodies``; ``concurrency`` connections.

    The wall time of the whole batch is left in ``server.last_wall_s``.
    """
    latencies: list[float] = [0.0] * len(bodies)
    answers: list[dict[str, Any]] = [{}] * len(bodies)
    errors: list[str] = []

    def worker(offset: int) -> None:
        conn = server.connect()
        try:
            for i in range(offset, len(bodies), concurrency):
                began = time.perf_counter()
                status, answer = server.request(conn, path, bodies[i])
                latencies[i] = (time.perf_counter() - began) * 1000
                answers[i] = answer
                if status != 200:
                    errors.append(f"{status}: {answer}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.last_wall_s = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{len(errors)} queries failed, e.g. {errors[0]}")
    return latencies, answers


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def recall(answers: list[dict[str, Any]], truth: np.ndarray) -> float:
    """Share of the true top-10 (of those that exist) found in the answers."""
    hits, wanted = 0, 0
    for answer, rows in zip(answers, truth, strict=True):
        got = {result["id"] for result in answer["results"]}
        expected = {f"v{row:08d}" for row in rows if row >= 0}
        hits += len(got & expected)
        wanted += len(expected)
    return hits / wanted if wanted else 1.0


def vector_body(query: np.ndarray, **extra: Any) -> bytes:
    return json.dumps(
        {
            "embedding": [float(x) for x in query],  # exact float32 values
            "limit": TOP,
            "namespace": NAMESPACE,
            **extra,
        }
    ).encode()


# -- the runs -------------------------------------------------------------------


def bench_empty_server(env: dict[str, str]) -> int:
    """VmRSS (kB) of a server with no data that has answered a search (imports done)."""
    with (
        tempfile.TemporaryDirectory(prefix="same-same-empty-") as empty,
        serve(Path(empty), env) as server,
    ):
        conn = server.connect()
        server.request(conn, "/api/v1/vectors/search", vector_body(np.ones(DIM, dtype=np.float32)))
        conn.close()
        time.sleep(0.2)
        return rss_kb(server.process.pid)


def bench_vectors(
    size: int,
    data_dir: Path,
    env: dict[str, str],
    data: np.ndarray,
    labels: np.ndarray,
    queries: np.ndarray,
    empty_rss_kb: int,
    load_info: dict[str, float],
) -> dict[str, Any]:
    truth = exact_top_k(data, queries, TOP)
    selective = np.arange(size) % 100 == 7
    broad = np.arange(size) % 100 < 50
    truth_selective = exact_top_k(data, queries, TOP, selective)
    truth_broad = exact_top_k(data, queries, TOP, broad)
    bodies = [vector_body(q) for q in queries]
    result: dict[str, Any] = {"size": size, **load_info}
    with serve(data_dir, env) as server:
        conn = server.connect()
        result["health_s"] = time.perf_counter() - server.started
        began = time.perf_counter()
        status, answer = server.request(conn, "/api/v1/vectors/search", bodies[0])
        assert status == 200, answer
        result["first_query_ms"] = (time.perf_counter() - began) * 1000
        result["start_s"] = time.perf_counter() - server.started
        conn.close()
        timed_queries(
            server, "/api/v1/vectors/search", bodies[: min(20, len(bodies))], 1
        )  # warm-up
        latencies, answers = timed_queries(server, "/api/v1/vectors/search", bodies, 1)
        result["c1_p50_ms"], result["c1_p99_ms"] = (
            percentile(latencies, 50),
            percentile(latencies, 99),
        )
        result["recall_at_10"] = recall(answers, truth)
        latencies8, answers8 = timed_queries(server, "/api/v1/vectors/search", bodies * 2, 8)
        result["c8_p50_ms"], result["c8_p99_ms"] = (
            percentile(latencies8, 50),
            percentile(latencies8, 99),
        )
        result["c8_qps"] = len(latencies8) / server.last_wall_s
        result["c8_recall_at_10"] = recall(answers8[: len(queries)], truth)
        rss = rss_kb(server.process.pid)
        result["server_rss_mb"] = rss / 1024
        result["bytes_per_vector"] = (rss - empty_rss_kb) * 1024 / size
        exact_count = min(len(queries), 30)
        exact_bodies = [vector_body(q, exact=True) for q in queries[:exact_count]]
        latencies, answers = timed_queries(server, "/api/v1/vectors/search", exact_bodies, 1)
        result["exact_p50_ms"] = percentile(latencies, 50)
        result["exact_recall_at_10"] = recall(answers, truth[:exact_count])
        for name, filters, wanted in (
            ("filter_1pct", {"p": 7}, truth_selective),
            ("filter_50pct", {"p": {"lt": 50}}, truth_broad),
        ):
            # Fewer of these: each one scans the namespace's metadata in SQL.
            filtered = [vector_body(q, filters=filters) for q in queries[:FILTERED_QUERIES]]
            latencies, answers = timed_queries(server, "/api/v1/vectors/search", filtered, 1)
            result[f"{name}_p50_ms"] = percentile(latencies, 50)
            result[f"{name}_recall_at_10"] = recall(answers, wanted[:FILTERED_QUERIES])
        result["server_rss_end_mb"] = rss_kb(server.process.pid) / 1024
    index_files = list((data_dir / "index").glob("*.usearch"))
    result["index_file_mb"] = sum(p.stat().st_size for p in index_files) / 2**20
    result["index_used"] = bool(index_files)
    return result


def bench_text(
    size: int,
    work: Path,
    env: dict[str, str],
    model: str,
    pretrained: str,
    queries: int,
    backends: list[str],
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
        with serve(data_dir, {**env, "SAME_SAME_CLIP_BACKEND": backend}) as server:
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


# -- report -----------------------------------------------------------------------


def print_table(report: dict[str, Any]) -> None:
    rows = [
        ("vectors", "size", "{:,}"),
        ("load through store API (s)", "load_s", "{:.1f}"),
        ("  of which index insert+save (s)", "index_s", "{:.1f}"),
        ("server /health (s)", "health_s", "{:.2f}"),
        ("server start to first answer (s)", "start_s", "{:.2f}"),
        ("first query (ms)", "first_query_ms", "{:.0f}"),
        ("p50 c=1 (ms)", "c1_p50_ms", "{:.2f}"),
        ("p99 c=1 (ms)", "c1_p99_ms", "{:.2f}"),
        ("p50 c=8 (ms)", "c8_p50_ms", "{:.2f}"),
        ("p99 c=8 (ms)", "c8_p99_ms", "{:.2f}"),
        ("recall@10", "recall_at_10", "{:.4f}"),
        ("exact=true p50 (ms)", "exact_p50_ms", "{:.1f}"),
        ("exact=true recall@10", "exact_recall_at_10", "{:.4f}"),
        ("filter 1% p50 (ms)", "filter_1pct_p50_ms", "{:.1f}"),
        ("filter 1% recall@10", "filter_1pct_recall_at_10", "{:.4f}"),
        ("filter 50% p50 (ms)", "filter_50pct_p50_ms", "{:.1f}"),
        ("filter 50% recall@10", "filter_50pct_recall_at_10", "{:.4f}"),
        ("p50 c=8 throughput (q/s)", "c8_qps", "{:.0f}"),
        ("server RSS (MB)", "server_rss_mb", "{:.0f}"),
        ("server RSS after filters (MB)", "server_rss_end_mb", "{:.0f}"),
        ("RSS per vector (B)", "bytes_per_vector", "{:.0f}"),
        ("index file (MB)", "index_file_mb", "{:.0f}"),
        ("index used", "index_used", "{}"),
    ]
    runs = report["vector_search"]
    if runs:
        print(f"\nvector search over HTTP (dim {DIM}, {report['queries']} queries)")
        print(f"{'':36}" + "".join(f"{run['size']:>14,}" for run in runs))
    for label, key, fmt in rows[1:] if runs else []:
        print(
            f"{label:36}"
            + "".join(f"{fmt.format(run[key]) if key in run else '-':>14}" for run in runs)
        )
    texts = report.get("text_search") or []
    if texts:
        print(f"\ntext search over HTTP ({texts[0]['model']}, {texts[0]['size']:,} vectors)")
        print(f"{'backend':36}" + "".join(f"{run['backend']:>14}" for run in texts))
        for label, key in (
            ("first query, loads the model (ms)", "first_query_ms"),
            ("new query p50 (ms)", "new_p50_ms"),
            ("new query p99 (ms)", "new_p99_ms"),
            ("repeated (cached) p50 (ms)", "cached_p50_ms"),
            ("repeated (cached) p99 (ms)", "cached_p99_ms"),
            ("repeated c=8 p50 (ms)", "cached_c8_p50_ms"),
        ):
            print(f"{label:36}" + "".join(f"{run[key]:>14.1f}" for run in texts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="comma-separated vector counts, ascending ('': text search only)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="10k vectors only, text search at 10k too"
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--text-size", type=int, default=100_000, help="0: skip the text benchmark")
    parser.add_argument("--text-model", default="ViT-B-32")
    parser.add_argument("--text-pretrained", default="none", help="none: random weights")
    parser.add_argument("--text-queries", type=int, default=50)
    parser.add_argument(
        "--text-backends",
        default="torch,onnx,onnx-int8",
        help="comma-separated CLIP backends, one server each",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="default: a temporary directory"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --work-dir: do not load a size the store there already holds (to re-measure "
        "queries, e.g. with another $SAME_SAME_INDEX_EXPANSION_SEARCH)",
    )
    parser.add_argument(
        "--note", default="shared 2-core machine: other people's tests may run at the same time"
    )
    args = parser.parse_args(argv)
    sizes = (
        [10_000]
        if args.quick and args.sizes == parser.get_default("sizes")
        else [int(s) for s in args.sizes.split(",") if s.strip()]
    )
    text_size = min(args.text_size, 10_000) if args.quick else args.text_size
    if sizes != sorted(sizes):
        parser.error("--sizes must be ascending (one data directory grows)")

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    report: dict[str, Any] = {
        "generator": describe(DIM, CLUSTERS, SEED),
        "machine": describe_machine(("torch", "usearch", "open_clip_torch", "fastapi", "uvicorn")),
        "note": args.note,
        "queries": args.queries,
        "dim": DIM,
        "clusters": CLUSTERS,
        "vector_search": [],
    }
    from same_same.storage.index_settings import IndexSettings

    report["index_settings"] = IndexSettings.from_env().__dict__
    queries = make_queries(args.queries, DIM, CLUSTERS, SEED)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="same-same-bench-"))
    try:
        from same_same.records import EmbeddingSpace

        space = EmbeddingSpace("external", "bench-clusters", "", DIM)
        empty_rss = bench_empty_server(env)
        report["empty_server_rss_mb"] = empty_rss / 1024
        data_dir = work / "vectors"
        loaded = 0
        data = np.empty((0, DIM), dtype=np.float32)
        labels = np.empty(0, dtype=np.int64)
        for size in sizes:
            new, new_labels = make_clustered_rows(loaded, size, DIM, CLUSTERS, SEED)
            if args.reuse and stored_count(data_dir) == size:
                load_info = {}  # the work directory already holds exactly these vectors
            else:
                load_info = load(data_dir, space, new, new_labels, loaded, NAMESPACE)
            data, labels = np.concatenate([data, new]), np.concatenate([labels, new_labels])
            del new
            loaded = size
            run = bench_vectors(size, data_dir, env, data, labels, queries, empty_rss, load_info)
            report["vector_search"].append(run)
            print(
                f"{size:,}: p50 {run['c1_p50_ms']:.2f} ms, "
                f"recall@10 {run['recall_at_10']:.4f}, start {run['start_s']:.2f} s",
                flush=True,
            )
        del data
        if text_size > 0:
            report["text_search"] = bench_text(
                text_size,
                work,
                env,
                args.text_model,
                args.text_pretrained,
                args.text_queries,
                args.text_backends.split(","),
            )
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    report["machine"]["loadavg_end"] = load_average()
    print_table(report)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M%S")
    path = args.out / f"query-{stamp}.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
