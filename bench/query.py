"""Query benchmark: vector search over HTTP at growing sizes, many clients, filters, peers,
and text search with ViT-B-32.

    python bench/query.py [--sizes 10000,100000,1000000] [--quick]
    python bench/query.py --concurrency 1,8,32 --server-args '--workers 2' --peers chroma,milvus

For each size N (one data directory, grown from one size to the next):

* N synthetic clustered vectors of dim 512 (``bench/clustered.py``; record ``i`` also
  carries the metadata of ``filter_cases.py``, filters of exact selectivity) are loaded
  through the store API (``upsert`` in batches; the index is saved when the store closes);
* for each ``--server-args`` (repeatable, passed to ``same-same serve`` as they are), a
  real ``same-same serve`` on 127.0.0.1 is measured by ``vector_search.bench_vectors``:
  start time, q/s / p50 / p99 / recall@10 at each ``--concurrency`` level, ``exact: true``,
  the filter matrix (equality, ``in``, range, label at 0.1/1/10/50%, cold and warm), the
  same while a background ingest writes, memory per vector;
* ``--peers chroma,milvus``: the same queries at the same concurrency levels against
  Chroma's own server and Milvus standalone (``query_peers.py``).

Then ``POST /api/v1/search`` (text) at ``--text-size`` (``text_search.py``). Prints the
tables and issue 13's targets (``targets.py``) and writes bench/results/query-<date>.json.
Only 127.0.0.1 (and the Milvus address given) is contacted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clustered import describe, exact_top_k, make_clustered_rows, make_queries  # noqa: E402
from filter_cases import KINDS, SELECTIVITIES  # noqa: E402
from http_load import default_processes  # noqa: E402
from machine import describe_machine, load_average  # noqa: E402
from query_data import (  # noqa: E402
    CLUSTERS,
    DIM,
    NAMESPACE,
    SEED,
    TOP,
    load,
    metadata_of,
    stored_count,
)
from query_peers import PEERS, PeerOptions, bench_peers  # noqa: E402
from serving import free_port, percentile, recall, rss_kb, serve, timed_queries  # noqa: E402
from targets import format_targets, query_targets  # noqa: E402
from text_search import bench_text  # noqa: E402
from vector_search import (  # noqa: E402
    VectorOptions,
    bench_empty_server,
    bench_vectors,
    client_cpu_note,
    vector_body,
)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
# what bench/store.py and bench/store_sides.py import from here
__all__ = [
    "NAMESPACE", "bench_empty_server", "free_port", "metadata_of", "percentile", "recall",
    "rss_kb", "serve", "timed_queries", "vector_body",
]  # fmt: skip


# -- report -----------------------------------------------------------------------


def print_table(report: dict[str, Any]) -> None:
    runs = report["vector_search"]
    levels = report["concurrency"]
    rows = [
        ("load through store API (s)", "load_s", "{:.1f}"),
        ("  of which index insert+save (s)", "index_s", "{:.1f}"),
        ("server start to first answer (s)", "start_s", "{:.2f}"),
        *[
            row
            for c in levels
            for row in (
                (f"c={c} q/s", f"c{c}_qps", "{:.0f}"),
                (f"c={c} p50 (ms)", f"c{c}_p50_ms", "{:.2f}"),
                (f"c={c} p99 (ms)", f"c{c}_p99_ms", "{:.2f}"),
                (f"c={c} recall@10", f"c{c}_recall_at_10", "{:.4f}"),
                (f"c={c} client processes", f"c{c}_client_processes", "{}"),
            )
        ],
        ("exact=true p50 (ms)", "exact_p50_ms", "{:.1f}"),
        ("exact=true recall@10", "exact_recall_at_10", "{:.4f}"),
        ("server memory, PSS (MB)", "server_rss_mb", "{:.0f}"),
        ("memory per vector (B)", "bytes_per_vector", "{:.0f}"),
        ("index used", "index_used", "{}"),
    ]
    if runs:
        print(f"\nvector search over HTTP (dim {DIM}, {report['queries']} queries)")
        print(f"{'':36}" + "".join(f"{run['size']:>14,}" for run in runs))
        print(
            f"{'server args':36}"
            + "".join(f"{' '.join(r['server_args']) or '-':>14}" for r in runs)
        )
    for label, key, fmt in rows if runs else []:
        cells = [fmt.format(run[key]) if run.get(key) is not None else "-" for run in runs]
        print(f"{label:36}" + "".join(f"{cell:>14}" for cell in cells))
    for run in runs:
        print_filters(run)
    peers = report.get("peers") or []
    if peers:
        print("\npeers over HTTP (same queries, same load generator)")
        for row in peers:
            if "error" in row:
                print(f"{row['peer']:>18} {row['size']:>9,}: {row['error']}")
                continue
            cells = "  ".join(
                f"c={c} {row.get(f'c{c}_qps', 0):.0f} q/s p50 {row.get(f'c{c}_p50_ms', 0):.2f} "
                f"p99 {row.get(f'c{c}_p99_ms', 0):.2f} r {row.get(f'c{c}_recall_at_10', 0):.3f}"
                for c in levels
            )
            print(f"{row['peer']:>18} {row['size']:>9,}: {cells}")
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


def print_filters(run: dict[str, Any]) -> None:
    filters = run.get("filters") or []
    if not filters:
        return
    writer = run.get("writer")
    wrote = f"; the background ingest wrote {writer['rows_per_s']:.0f} rows/s" if writer else ""
    print(f"\nfilters at {run['size']:,}: p50 ms / p99 ms / recall@10{wrote}")
    sels = sorted({f["selectivity"] for f in filters})
    print(f"{'phase mode kind':28}" + "".join(f"{s * 100:>22g}%" for s in sels))
    keys = sorted({(f["phase"], f["mode"], f["kind"]) for f in filters})
    for phase, mode, kind in keys:
        cells = []
        for s in sels:
            (f,) = [f for f in filters if (f["phase"], f["mode"], f["kind"], f["selectivity"])
                    == (phase, mode, kind, s)]  # fmt: skip
            cells.append(f"{f['p50_ms']:.1f}/{f['p99_ms']:.1f}/{f['recall_at_10']:.3f}")
        print(f"{f'{phase} {mode} {kind}':28}" + "".join(f"{c:>23}" for c in cells))


# -- command line -------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="comma-separated vector counts, ascending ('': text search only)",
    )
    parser.add_argument("--quick", action="store_true", help="10k vectors, text search at 10k")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--concurrency", default="1,8,32", help="client counts, e.g. 1,8,32")
    parser.add_argument(
        "--client-processes",
        type=int,
        default=None,
        help="load-generator processes (default one per core; 0: threads only)",
    )
    parser.add_argument("--filter-queries", type=int, default=30, help="per filter case")
    parser.add_argument("--filter-kinds", default=",".join(KINDS))
    parser.add_argument(
        "--selectivities",
        default=",".join(f"{s:g}" for s in SELECTIVITIES),
        help="fractions, e.g. 0.001,0.01,0.1,0.5",
    )
    parser.add_argument("--no-filters-while-writing", action="store_true")
    parser.add_argument(
        "--writer-rows-per-s",
        type=float,
        default=200.0,
        help="pace of the background ingest during filters (0: flat out)",
    )
    parser.add_argument("--writer-batch", type=int, default=100, help="its rows per upsert")
    parser.add_argument(
        "--server-args",
        action="append",
        default=None,
        help="extra 'same-same serve' arguments, one server each (repeatable)",
    )
    parser.add_argument(
        "--server-workers",
        type=int,
        default=None,
        help="adds '--workers N' to every server's arguments",
    )
    parser.add_argument("--peers", default="", help=f"comma-separated: {','.join(PEERS)}")
    parser.add_argument(
        "--milvus",
        default=os.environ.get("SAME_SAME_BENCH_MILVUS"),
        help="HOST:PORT of a running Milvus standalone (never started here)",
    )
    parser.add_argument("--peer-sizes", default="", help="sizes the peers run at (default: all)")
    parser.add_argument("--no-install", action="store_true", help="never create the peers' venv")
    parser.add_argument("--text-size", type=int, default=100_000, help="0: skip the text benchmark")
    parser.add_argument("--text-model", default="ViT-B-32")
    parser.add_argument("--text-pretrained", default="none", help="none: random weights")
    parser.add_argument("--text-queries", type=int, default=50)
    parser.add_argument(
        "--text-backends",
        default="torch,onnx,onnx-int8",
        help="comma-separated CLIP backends, one server each",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="a folder, or a .json file")
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a temporary one")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --work-dir: do not load a size the store there already holds",
    )
    parser.add_argument(
        "--note", default="shared 2-core machine: other people's tests may run meanwhile"
    )
    args = parser.parse_args(argv)  # fmt: skip
    default_sizes = args.sizes == parser.get_default("sizes")
    args.size_list = (
        [10_000] if args.quick and default_sizes else [int(s) for s in args.sizes.split(",") if s]
    )
    if args.size_list != sorted(args.size_list):
        parser.error("--sizes must be ascending (one data directory grows)")
    args.text_size = min(args.text_size, 10_000) if args.quick else args.text_size
    variants = [shlex.split(text) for text in (args.server_args or [""])]
    if args.server_workers is not None:
        variants = [[*v, "--workers", str(args.server_workers)] for v in variants]
    args.variants = variants
    args.peer_list = tuple(p.strip() for p in args.peers.split(",") if p.strip())
    args.peer_sizes = {int(s) for s in args.peer_sizes.split(",") if s} or set(args.size_list)
    return args


def vector_options(args: argparse.Namespace, server_args: list[str]) -> VectorOptions:
    return VectorOptions(
        concurrency=tuple(int(c) for c in args.concurrency.split(",") if c),
        client_processes=args.client_processes,
        filter_queries=min(args.filter_queries, args.queries),
        kinds=tuple(k for k in args.filter_kinds.split(",") if k),
        selectivities=tuple(float(s) for s in args.selectivities.split(",") if s),
        filters_while_writing=not args.no_filters_while_writing,
        writer_batch=args.writer_batch,
        writer_rows_per_s=args.writer_rows_per_s,
        server_args=tuple(server_args),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    levels = [int(c) for c in args.concurrency.split(",") if c]
    report: dict[str, Any] = {
        "generator": describe(DIM, CLUSTERS, SEED),
        "machine": describe_machine(("torch", "usearch", "open_clip_torch", "fastapi", "uvicorn")),
        "note": args.note,
        "queries": args.queries,
        "dim": DIM,
        "clusters": CLUSTERS,
        "concurrency": levels,
        "client_processes": {
            c: default_processes(c)
            if args.client_processes is None
            else min(c, args.client_processes)
            for c in levels
        },  # fmt: skip
        "load_generator": client_cpu_note(),
        "server_args": args.variants,
        "peers_requested": list(args.peer_list),
        "vector_search": [],
        "peers": [],
    }
    from same_same.records import EmbeddingSpace
    from same_same.storage.index_settings import IndexSettings

    report["index_settings"] = IndexSettings.from_env().__dict__
    queries = make_queries(args.queries, DIM, CLUSTERS, SEED)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="same-same-bench-"))
    peer_options = PeerOptions(args.peer_list, args.milvus, install=not args.no_install)
    try:
        space = EmbeddingSpace("external", "bench-clusters", "", DIM)
        # per variant: N workers start N interpreters before holding a single vector
        empty = [bench_empty_server(env, variant) for variant in args.variants]
        report["empty_server_rss_mb"] = [kb / 1024 for kb in empty]
        data_dir = work / "vectors"
        loaded = 0
        data = np.empty((0, DIM), dtype=np.float32)
        labels = np.empty(0, dtype=np.int64)
        for size in args.size_list:
            new, new_labels = make_clustered_rows(loaded, size, DIM, CLUSTERS, SEED)
            if args.reuse and stored_count(data_dir) == size:
                load_info = {}  # the work directory already holds exactly these vectors
            else:
                load_info = load(data_dir, space, new, new_labels, loaded, NAMESPACE)
            data, labels = np.concatenate([data, new]), np.concatenate([labels, new_labels])
            del new
            loaded = size
            for variant, empty_kb in zip(args.variants, empty, strict=True):
                options = vector_options(args, variant)
                run = bench_vectors(
                    size, data_dir, env, data, queries, empty_kb, load_info, options
                )
                report["vector_search"].append(run)
                print(f"{size:,} {' '.join(variant)}: c=1 p50 {run['c1_p50_ms']:.2f} ms, "
                      f"recall@10 {run['recall_at_10']:.4f}", flush=True)  # fmt: skip
            if args.peer_list and size in args.peer_sizes:
                truth = exact_top_k(data, queries, TOP)
                report["peers"] += bench_peers(
                    size, data, labels, queries, truth, levels, args.client_processes, env,
                    peer_options,
                )  # fmt: skip
        del data
        if args.text_size > 0:
            report["text_search"] = bench_text(
                args.text_size, work, env, args.text_model, args.text_pretrained,
                args.text_queries, args.text_backends.split(","), args.variants[0],
            )  # fmt: skip
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    report["machine"]["loadavg_end"] = load_average()
    report["targets"] = query_targets(report)
    print_table(report)
    print("\nissue 13's targets (ratio >= 1.00x: met)\n" + format_targets(report["targets"]))
    out = args.out
    if out.suffix != ".json":
        out = out / f"query-{dt.datetime.now().strftime('%Y-%m-%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
