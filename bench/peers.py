"""Peer comparison: same-same's store against chromadb, lancedb, qdrant-client (local) and faiss.

    python bench/peers.py [--sizes 10000,100000] [--quick] [--systems a,b] [--no-install]

The same clustered vectors (bench/clustered.py) go into every system through its
in-process library API, one subprocess per system so memory is measured
cleanly: build time, single-threaded query p50/p99, recall@10 against exact
brute force, resident memory and disk per vector. Systems with a search knob
are tuned on a separate query set to the cheapest setting reaching
--target-recall. This is a library comparison: bench/query.py measures
same-same over HTTP.

The peers run from their own virtualenv, bench/work/peers-venv, created on the
first run; same-same runs with this interpreter. A system that cannot install
or run gets a row saying why; it never stops the run. Results: a table on
stdout and bench/results/peers-<date>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from clustered import VERSION, exact_top_k, make_clustered_vectors, make_queries  # noqa: E402
from machine import describe_machine, load_average  # noqa: E402
from peers_images import format_image_table, run_image_peers  # noqa: E402
from peers_report import describe_store_version, format_table  # noqa: E402
from peers_systems import BATCH, OWN_SYSTEMS, SYSTEMS  # noqa: E402
from peers_venv import PEER_PACKAGES, PeerEnv, ensure_peer_env, last_line  # noqa: E402

DIM, CLUSTERS, SEED = 512, 1000, 0
DEFAULT_SYSTEMS = (
    "same-same",
    "same-same-exact",
    "faiss-flat",
    "faiss-hnsw",
    "chromadb",
    "lancedb-flat",
    "lancedb-ivfpq",
    "qdrant-local",
    "qdrant-local-disk",
)
QUICK_SYSTEMS = ("same-same", "same-same-exact", "faiss-flat", "faiss-hnsw")
PACKAGE_OF = {
    "faiss": "faiss-cpu",
    "chromadb": "chromadb",
    "lancedb": "lancedb",
    "qdrant": "qdrant-client",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare_data(work: Path, n: int, queries: int, tune_queries: int, k: int) -> Path:
    """Vectors, queries and exact neighbours as .npy files, made once per size."""
    folder = (
        work
        / "peers-data"
        / f"v{VERSION}-n{n}-d{DIM}-c{CLUSTERS}-s{SEED}-q{queries}-t{tune_queries}-k{k}"
    )
    if (folder / "done").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    log(f"generating {n:,} clustered vectors and exact neighbours in {folder}")
    vectors = make_clustered_vectors(n, DIM, CLUSTERS, SEED)
    np.save(folder / "vectors.npy", vectors)
    for name, count, query_seed in (("queries", queries, 0), ("tune", tune_queries, 1)):
        query_set = make_queries(count, DIM, CLUSTERS, SEED, query_seed=query_seed)
        np.save(folder / f"{name}.npy", query_set)
        truth_name = "truth" if name == "queries" else "tune_truth"
        np.save(folder / f"{truth_name}.npy", exact_top_k(vectors, query_set, k))
    (folder / "done").write_text("ok\n", encoding="utf-8")
    return folder


def package_of(system: str) -> str | None:
    if system in OWN_SYSTEMS:
        return None
    return PACKAGE_OF[system.split("-")[0]]


def worker_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "RAYON_NUM_THREADS",
        "LANCE_CPU_THREADS",
    ):
        env[name] = str(threads)
    # nothing here may reach the network: no hub downloads, no telemetry
    env.update(HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False", RUST_LOG="error")
    return env


def run_worker(
    system: str, python: Path, data: Path, args: argparse.Namespace, n: int
) -> dict[str, Any]:
    work = Path(args.work_dir) / "peers-run" / system
    out = Path(args.work_dir) / "peers-run" / f"{system}-{n}.json"
    out.unlink(missing_ok=True)
    command = [
        str(python),
        str(BENCH / "peers_worker.py"),
        f"--system={system}",
        f"--data={data}",
        f"--work={work}",
        f"--out={out}",
        f"--target-recall={args.target_recall}",
        f"--threads={args.threads}",
    ]
    base = {"system": system, "n": n}
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=args.timeout,
            env=worker_env(args.threads),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {**base, "status": "timeout", "reason": f"ran over {args.timeout} s"}
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    if done.returncode != 0 or not out.exists():
        reason = last_line(done.stderr) if done.stderr.strip() else f"exit status {done.returncode}"
        return {**base, "status": "failed", "reason": reason}
    return json.loads(out.read_text(encoding="utf-8"))


def choose_python(system: str, peers: PeerEnv) -> tuple[Path | None, str | None]:
    package = package_of(system)
    if package is None:
        return Path(sys.executable), None
    reason = peers.missing_reason(package)
    return (None, reason) if reason else (peers.python, None)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated vector counts")
    parser.add_argument("--quick", action="store_true", help="5k vectors, same-same and faiss only")
    parser.add_argument(
        "--systems", default=None, help=f"comma-separated, from: {', '.join(SYSTEMS)}"
    )
    parser.add_argument("--queries", type=int, default=1000, help="measured queries per size")
    parser.add_argument("--tune-queries", type=int, default=500, help="queries for choosing knobs")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--target-recall", type=float, default=0.98)
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per system (build and query)"
    )
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per system and size")
    parser.add_argument(
        "--images",
        type=int,
        default=200,
        help="JPEGs for the image-ingest comparison with rclip and clip-retrieval (0: skip)",
    )
    parser.add_argument("--no-install", action="store_true", help="never create the peer venv")
    parser.add_argument("--work-dir", default=str(BENCH / "work"))
    parser.add_argument(
        "--out", default=None, help="result JSON (default bench/results/peers-<date>.json)"
    )
    parser.add_argument(
        "--merge-into",
        default=None,
        help="replace these systems' rows in an earlier result JSON (written back there)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = "5000"
        args.queries, args.tune_queries = min(args.queries, 200), min(args.tune_queries, 100)
        args.timeout = min(args.timeout, 300)
        args.images = 0
    args.size_list = [int(size) for size in args.sizes.split(",") if size.strip()]
    chosen = (
        args.systems.split(",")
        if args.systems
        else (QUICK_SYSTEMS if args.quick else DEFAULT_SYSTEMS)
    )
    unknown = [name for name in chosen if name not in SYSTEMS]
    if unknown:
        parser.error(f"unknown system {unknown[0]!r}; choose from {', '.join(SYSTEMS)}")
    args.system_list = list(chosen)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    machine = describe_machine()
    needs_peers = any(package_of(system) for system in args.system_list)
    peers = ensure_peer_env(work, install=needs_peers and not args.no_install, log=log)
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    for n in args.size_list:
        data = prepare_data(work, n, args.queries, args.tune_queries, args.k)
        for system in args.system_list:
            python, reason = choose_python(system, peers)
            if python is None:
                results.append(
                    {"system": system, "n": n, "status": "not installed", "reason": reason}
                )
                continue
            log(f"{system} at {n:,} vectors ...")
            result = run_worker(system, python, data, args, n)
            log(f"  {result.get('status')}: {result.get('reason') or format_brief(result)}")
            results.append(result)
    images: dict[str, Any] = {}
    if args.images > 0:
        install = not args.no_install
        images = run_image_peers(work, args.images, install, args.timeout, log)
    report = {
        "benchmark": "peers",
        "machine": {**machine, "loadavg_end": load_average()},
        "store_version": describe_store_version(),
        "settings": {
            "dim": DIM,
            "clusters": CLUSTERS,
            "seed": SEED,
            "k": args.k,
            "queries": args.queries,
            "tune_queries": args.tune_queries,
            "target_recall": args.target_recall,
            "threads": args.threads,
            "batch": BATCH,
            "sizes": args.size_list,
            "quick": args.quick,
        },
        "peer_env": {
            "python": str(peers.python) if peers.python else None,
            "packages": {
                package: peers.packages.get(package, "not requested") for package in PEER_PACKAGES
            },
        },
        "versions": {r["library"]: r["version"] for r in results if r.get("status") == "ok"},
        "results": results,
        "images": images,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.merge_into:
        report = merge_reports(
            json.loads(Path(args.merge_into).read_text(encoding="utf-8")), report
        )
        results = report["results"]
    out = Path(args.out or args.merge_into or default_out(args.quick))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_table(results))
    if images:
        print(f"\nImage ingestion, {args.images} JPEGs, {images.get('model', '')}:")
        print(format_image_table(images))
    print(f"\nwrote {out}")
    return 0


def merge_reports(previous: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``previous`` with the rows of ``new`` replacing those of the same system and size.

    For re-measuring a few systems (say, after the store changed) without
    re-running the slow peers; the merged report lists every run it holds.
    """
    fresh = {(row["system"], row["n"]) for row in new["results"]}
    kept = [row for row in previous["results"] if (row["system"], row["n"]) not in fresh]
    runs = previous.get("runs") or [
        {key: previous.get(key) for key in ("machine", "store_version", "settings")}
    ]
    runs.append({key: new.get(key) for key in ("machine", "store_version", "settings")})
    for row in new["results"]:
        row["run"] = len(runs) - 1
    order = {name: i for i, name in enumerate(SYSTEMS)}
    rows = sorted(kept + new["results"], key=lambda row: (row["n"], order.get(row["system"], 99)))
    merged = {**previous, "results": rows, "runs": runs}
    merged["store_version"] = new["store_version"]
    merged["versions"] = {**previous.get("versions", {}), **new.get("versions", {})}
    if new.get("images"):
        merged["images"] = new["images"]
    return merged


def format_brief(result: dict[str, Any]) -> str:
    if "recall" not in result:
        return f"build {result.get('build_s', 0):.1f} s"
    build, p50, recall = result["build_s"], result["p50_ms"], result["recall"]
    return f"build {build:.1f} s, p50 {p50:.2f} ms, recall {recall:.3f}"


def default_out(quick: bool) -> Path:
    day = datetime.date.today().isoformat()
    return BENCH / "results" / f"peers-{day}{'-quick' if quick else ''}.json"


if __name__ == "__main__":
    raise SystemExit(main())
