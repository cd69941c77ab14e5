"""Store comparison: the embedded store and the Milvus store over HTTP, and Milvus itself.

    python bench/store.py [--sizes 100000,1000000] [--queries 400]

For each size N: N clustered vectors of dim 512 (``bench/clustered.py``) and held-out
queries (``make_queries``: one set to tune on, another to measure), the same on every
side, then

1. **embedded**: the SQLite store with its HNSW index, loaded through ``store.upsert``
   (batches of 1000, timed until the store is closed: index built and saved), then
   a real ``same-same serve --data-dir`` on 127.0.0.1 answering
   ``POST /api/v1/vectors/search``;
2. **milvus-http**: the Milvus store (``milvus://HOST:PORT/?prefix=bench_store``),
   loaded the same way and timed until Milvus has flushed the collection and built
   its index, then ``same-same serve --store milvus://...`` at consistency Strong and
   Bounded;
3. **pymilvus**: ``MilvusClient.search`` on the collection same-same made (filtered to
   the namespace's ``ns``), so that what same-same adds on top is visible.

Per side: p50/p99 at concurrency 1 and 8 (a warm-up, then every query), recall@10
against ``exact_top_k``, memory per vector. Every side's search ef is tuned on the
tuning queries: a side below ``--target-recall`` (0.95) at its default gets a second
row at the first ef that reaches it. Milvus: ``$SAME_SAME_BENCH_MILVUS=HOST:PORT``
uses a running server, otherwise one is started here. Prints a table and writes
bench/results/store.json with the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clustered import describe, exact_top_k, make_clustered_rows, make_queries  # noqa: E402
from machine import describe_machine, load_average  # noqa: E402
from query import (  # noqa: E402
    NAMESPACE,
    bench_empty_server,
    percentile,
    recall,
    rss_kb,
    serve,
    timed_queries,
    vector_body,
)
from store_sides import (  # noqa: E402
    drop_collections,
    in_process_search,
    milvus_client,
    milvus_pid,
    milvus_server,
    pymilvus_searcher,
    settled_rss_kb,
    timed_calls,
    tune_ef,
    upsert_all,
    wait_for_index,
)

REPO = Path(__file__).resolve().parents[1]
DIM, CLUSTERS, SEED = 512, 1000, 20261127
WARM_UP = 20
EF_ENV = "SAME_SAME_INDEX_EXPANSION_SEARCH"
EMBEDDED_EFS = (24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
MILVUS_EFS = (96, 128, 192, 256, 384, 512)
"""same-same's Milvus store asks for 32 candidates with ef at least 64."""
PYMILVUS_EFS = (16, 24, 32, 48, *MILVUS_EFS)
PYMILVUS_DEFAULT_EF = 64
"""pymilvus gets the ef same-same's Milvus store sends by default."""
SEARCH = "/api/v1/vectors/search"


def measure(run: Any, truth: np.ndarray, count: int) -> dict[str, Any]:
    """p50/p99 at concurrency 1 and 8 and recall@10; ``run(concurrency, first, stop)``
    answers queries ``first..stop`` and gives (latencies ms, answers, wall s)."""
    run(1, 0, min(WARM_UP, count))
    result: dict[str, Any] = {}
    for concurrency in (1, 8):
        latencies, answers, wall = run(concurrency, 0, count)
        result[f"c{concurrency}_p50_ms"] = percentile(latencies, 50)
        result[f"c{concurrency}_p99_ms"] = percentile(latencies, 99)
        result[f"c{concurrency}_qps"] = count / wall
        result[f"c{concurrency}_recall_at_10"] = recall(answers, truth)
    result["recall_at_10"] = result["c1_recall_at_10"]
    return result


def over_http(env: dict[str, str], data_dir: Path, bodies: list[bytes], truth: np.ndarray) -> Any:
    with serve(data_dir, env) as server:

        def run(concurrency: int, first: int, stop: int) -> tuple[list[float], list, float]:
            latencies, answers = timed_queries(server, SEARCH, bodies[first:stop], concurrency)
            return latencies, answers, server.last_wall_s

        result = measure(run, truth, len(bodies))
        result["server_rss_mb"] = rss_kb(server.process.pid) / 1024
    return result


def by_pymilvus(make: Any, queries: list[list[float]], truth: np.ndarray) -> dict[str, Any]:
    def run(concurrency: int, first: int, stop: int) -> tuple[list[float], list, float]:
        return timed_calls(make, queries[first:stop], concurrency)

    return measure(run, truth, len(queries))


def tuned_efs(tuning: dict[str, Any]) -> list[int | None]:
    return [None] if tuning["ef"] is None else [None, tuning["ef"]]


def bench_embedded(size: int, work: Path, env: dict[str, str], data: Any, args: Any) -> list:
    from same_same.storage import open_store

    vectors, labels, bodies, truth, tuning_queries, recall_tuning = data
    data_dir = work / f"embedded-{size}"
    empty_rss = bench_empty_server(env)
    store = open_store(data_dir, "sqlite")
    store.ensure_namespace(NAMESPACE, args.space)
    began = time.perf_counter()
    upsert_all(store, NAMESPACE, vectors, labels)
    store.close()  # builds the last of the index and saves it
    ingest_s = time.perf_counter() - began
    tuning = tune_ef(
        lambda ef: in_process_search(
            data_dir, "sqlite", NAMESPACE, {EF_ENV: str(ef)} if ef else {}
        ),
        tuning_queries,
        recall_tuning,
        EMBEDDED_EFS,
        args.target_recall,
    )
    rows = []
    for ef in tuned_efs(tuning):
        side_env = {**env, EF_ENV: str(ef)} if ef else env
        result = over_http(side_env, data_dir, bodies, truth)
        result["bytes_per_vector"] = (result["server_rss_mb"] * 1024 - empty_rss) * 1024 / size
        rows.append({"side": "embedded-http", "consistency": "-", "ef": ef or "auto", **result})
    load = {"ingest_s": ingest_s, "vectors_per_s": size / ingest_s, "tuning": tuning}
    load["empty_server_rss_mb"] = empty_rss / 1024
    shutil.rmtree(data_dir, ignore_errors=True)
    return [load, rows]


def bench_milvus(size: int, work: Path, env: dict[str, str], data: Any, args: Any) -> list:
    from same_same.storage import open_store
    from same_same.storage.milvus.layout import data_collection_name, namespace_uid
    from same_same.storage.milvus.location import parse_milvus_url

    vectors, labels, bodies, truth, tuning_queries, recall_tuning = data
    queries = args.query_lists
    data_dir = work / f"milvus-{size}"
    data_dir.mkdir(parents=True, exist_ok=True)
    with milvus_server() as (address, how):
        url = f"milvus://{address}/?prefix={args.prefix}"
        collection = data_collection_name(parse_milvus_url(url), args.space)
        uid = namespace_uid("", NAMESPACE)
        try:
            drop_collections(address, args.prefix)  # a clean start, whatever ran before
            pid = milvus_pid()
            load: dict[str, Any] = {"server": how, "milvus_pid": pid, "collection": collection}
            began = time.perf_counter()
            store = open_store(data_dir, url)
            store.ensure_namespace(NAMESPACE, args.space)
            load["create_s"] = time.perf_counter() - began  # collections made and loaded
            load["rss_before_mb"] = rss_kb(pid) / 1024 if pid else None
            began = time.perf_counter()
            upsert_all(store, NAMESPACE, vectors, labels)
            store.close()
            load["upsert_s"] = time.perf_counter() - began
            client = milvus_client(address)  # after store.close(): see milvus_client
            load["index"] = wait_for_index(client, collection, size)
            load["ingest_s"] = time.perf_counter() - began
            load["vectors_per_s"] = size / load["ingest_s"]
            if pid:
                load["rss_after_ingest_mb"] = settled_rss_kb(pid) / 1024
                client.release_collection(collection)
                load["rss_released_mb"] = settled_rss_kb(pid) / 1024
                client.load_collection(collection)
                load["rss_loaded_mb"] = settled_rss_kb(pid) / 1024
                loaded_growth = load["rss_loaded_mb"] - load["rss_released_mb"]
                load["bytes_per_vector"] = loaded_growth * 2**20 / size
                ingest_growth = load["rss_after_ingest_mb"] - load["rss_before_mb"]
                load["bytes_per_vector_ingest"] = ingest_growth * 2**20 / size

            def store_url(consistency: str, ef: int | None) -> str:
                return f"{url}&consistency={consistency}" + (f"&ef={ef}" if ef else "")

            load["tuning_http"] = tune_ef(
                lambda ef: in_process_search(data_dir, store_url("Bounded", ef), NAMESPACE, {}),
                tuning_queries,
                recall_tuning,
                MILVUS_EFS,
                args.target_recall,
            )
            load["tuning_pymilvus"] = tune_ef(
                lambda ef: contextlib.nullcontext(
                    pymilvus_searcher(
                        address, collection, uid, ef or PYMILVUS_DEFAULT_EF, "Bounded"
                    )()
                ),
                tuning_queries,
                recall_tuning,
                PYMILVUS_EFS,
                args.target_recall,
            )
            rows = []
            for consistency in ("Strong", "Bounded"):
                for ef in tuned_efs(load["tuning_http"]):
                    side_env = {**env, "SAME_SAME_STORE": store_url(consistency, ef)}
                    result = over_http(side_env, data_dir, bodies, truth)
                    result["bytes_per_vector"] = load.get("bytes_per_vector")
                    rows.append(
                        {"side": "milvus-http", "consistency": consistency, "ef": ef or 64} | result
                    )
                for ef in tuned_efs(load["tuning_pymilvus"]):
                    ef = ef or PYMILVUS_DEFAULT_EF
                    make = pymilvus_searcher(address, collection, uid, ef, consistency)
                    result = by_pymilvus(make, queries, truth)
                    result["bytes_per_vector"] = load.get("bytes_per_vector")
                    rows.append({"side": "pymilvus", "consistency": consistency, "ef": ef} | result)
        finally:
            load["dropped"] = drop_collections(address, args.prefix)
    shutil.rmtree(data_dir, ignore_errors=True)
    return [load, rows]


def print_table(report: dict[str, Any]) -> None:
    columns = (
        ("side", "side", "{:<14}"),
        ("consist.", "consistency", "{:<9}"),
        ("ef", "ef", "{:>5}"),
        ("p50 c1", "c1_p50_ms", "{:>8.2f}"),
        ("p99 c1", "c1_p99_ms", "{:>8.2f}"),
        ("p50 c8", "c8_p50_ms", "{:>8.2f}"),
        ("p99 c8", "c8_p99_ms", "{:>8.2f}"),
        ("q/s c8", "c8_qps", "{:>7.0f}"),
        ("recall", "recall_at_10", "{:>7.4f}"),
        ("B/vec", "bytes_per_vector", "{:>7.0f}"),
    )
    for run in report["runs"]:
        print(f"\n{run['size']:,} vectors, dim {DIM}, {report['queries']} queries (ms)")
        print(
            f"ingest (store.upsert, batches of 1000, until searchable): embedded "
            f"{run['embedded']['vectors_per_s']:,.0f} vec/s, "
            f"milvus {run['milvus']['vectors_per_s']:,.0f} vec/s"
        )
        print(
            " ".join(
                f"{title:{'<' if '<' in fmt else '>'}{_width(fmt)}}" for title, _, fmt in columns
            )
        )
        for row in run["rows"]:
            cells = []
            for _, key, fmt in columns:
                value = row.get(key)
                cells.append(fmt.format(value) if value is not None else f"{'-':>{_width(fmt)}}")
            print(" ".join(cells))


def _width(fmt: str) -> int:
    return int(fmt.strip("{}:<>").split(".")[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000", help="comma-separated vector counts")
    parser.add_argument("--queries", type=int, default=400, help="measured queries per side")
    parser.add_argument("--tuning-queries", type=int, default=200)
    parser.add_argument("--target-recall", type=float, default=0.95)
    parser.add_argument("--prefix", default="bench_store", help="of the Milvus collections")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "store.json")
    parser.add_argument(
        "--note", default="shared 2-core machine: other people's work may run at the same time"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    from same_same.records import EmbeddingSpace

    args.space = EmbeddingSpace("external", "bench-clusters", "", DIM)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for name in ("SAME_SAME_STORE", EF_ENV):
        env.pop(name, None)
    report: dict[str, Any] = {
        "generator": describe(DIM, CLUSTERS, SEED),
        "machine": describe_machine(("usearch", "pymilvus", "milvus", "fastapi", "uvicorn")),
        "note": args.note,
        "queries": args.queries,
        "tuning_queries": args.tuning_queries,
        "target_recall": args.target_recall,
        "runs": [],
    }
    queries = make_queries(args.queries, DIM, CLUSTERS, SEED)
    tuning = make_queries(args.tuning_queries, DIM, CLUSTERS, SEED, query_seed=1)
    args.query_lists = [q.tolist() for q in queries]
    bodies = [vector_body(q) for q in queries]
    work = Path(tempfile.mkdtemp(prefix="same-same-bench-store-"))
    try:
        for size in sizes:
            vectors, labels = make_clustered_rows(0, size, DIM, CLUSTERS, SEED)
            truth = exact_top_k(vectors, queries, 10)
            truth_tuning = exact_top_k(vectors, tuning, 10)
            data = (
                vectors,
                labels,
                bodies,
                truth,
                [q.tolist() for q in tuning],
                lambda answers, truth_tuning=truth_tuning: recall(answers, truth_tuning),
            )
            embedded, embedded_rows = bench_embedded(size, work, env, data, args)
            print(f"{size:,}: embedded done", file=sys.stderr, flush=True)
            milvus, milvus_rows = bench_milvus(size, work, env, data, args)
            run = {"size": size, "embedded": embedded, "milvus": milvus}
            report["runs"].append(run | {"rows": embedded_rows + milvus_rows})
            del vectors
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["machine"]["loadavg_end"] = load_average()
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
