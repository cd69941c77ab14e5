"""Measure one system on one data set, in a process of its own; write the result as JSON.

    python bench/peers_worker.py --system faiss-hnsw --data DIR --work DIR --out FILE

DIR holds vectors.npy, queries.npy, truth.npy (exact top-k of each query),
tune.npy and tune_truth.npy (a separate query set for choosing search knobs).
Run by bench/peers.py with the interpreter that has the system's library; a
process per system keeps one library's memory out of another's numbers.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers_systems import SYSTEMS, System, clear_directory, directory_bytes  # noqa: E402

WARMUP_QUERIES = 20
# Knobs are chosen on a separate query set, whose recall differs from the measured
# set's by sampling noise (~0.005 for 500 queries): aim a little higher so the
# measured recall lands at or above the target.
TUNE_MARGIN = 0.005


def read_memory_kib() -> dict[str, int]:
    """Current and peak resident memory of this process (Linux /proc)."""
    values: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def measure_recall(found: list[list[int]], truth: np.ndarray) -> float:
    k = truth.shape[1]
    hits = sum(
        len(set(row[:k]) & set(expected.tolist()))
        for row, expected in zip(found, truth, strict=True)
    )
    return hits / (k * len(truth))


def run_queries(system: System, queries: np.ndarray, k: int) -> tuple[list[list[int]], np.ndarray]:
    found: list[list[int]] = []
    seconds = np.empty(len(queries))
    clock = time.perf_counter
    for i, query in enumerate(queries):
        start = clock()
        found.append(system.search(query, k))
        seconds[i] = clock() - start
    return found, seconds


def tune(
    system: System, queries: np.ndarray, truth: np.ndarray, target: float
) -> tuple[Any, list[dict[str, Any]]]:
    """Cheapest knob value reaching ``target`` (+ margin) on the tuning set, else the last."""
    curve: list[dict[str, Any]] = []
    chosen: Any = None
    for value in system.knobs:
        system.set_knob(value)
        run_queries(system, queries[:WARMUP_QUERIES], truth.shape[1])
        found, seconds = run_queries(system, queries, truth.shape[1])
        recall = measure_recall(found, truth)
        curve.append({"knob": value, "recall": recall, "p50_ms": 1e3 * float(np.median(seconds))})
        chosen = value
        if recall >= target + TUNE_MARGIN:
            break
    return chosen, curve


def measure(system: System, args: argparse.Namespace) -> dict[str, Any]:
    data = Path(args.data)
    vectors = np.ascontiguousarray(np.load(data / "vectors.npy"), dtype=np.float32)
    queries = np.load(data / "queries.npy")
    truth = np.load(data / "truth.npy")
    k = truth.shape[1]
    n = len(vectors)
    result: dict[str, Any] = {"n": n, "dim": int(vectors.shape[1]), "k": k}
    if system.sample and n > system.sample:
        result.update(sampled=system.sample)
        vectors = vectors[: system.sample].copy()
    work = Path(args.work)
    clear_directory(work)
    gc.collect()
    before = read_memory_kib()
    start = time.perf_counter()
    phases = system.build(vectors, work)
    build_s = time.perf_counter() - start
    if "sampled" in result:
        result.update(build_s=build_s * n / len(vectors), build_extrapolated=True, phases=phases)
        result["disk_bytes"] = directory_bytes(work)
        result["disk_bytes_per_vector"] = result["disk_bytes"] / len(vectors)
        return result
    result.update(build_s=build_s, phases=phases)
    run_queries(system, queries[:WARMUP_QUERIES], k)
    gc.collect()
    after = read_memory_kib()
    result["rss_delta_bytes"] = 1024 * (after["VmRSS"] - before["VmRSS"])
    result["rss_delta_bytes_per_vector"] = result["rss_delta_bytes"] / n
    result["peak_rss_delta_bytes"] = 1024 * max(0, after["VmHWM"] - before["VmRSS"])
    result["disk_bytes"] = directory_bytes(work)
    result["disk_bytes_per_vector"] = result["disk_bytes"] / n
    if system.knobs:
        tune_queries = np.load(data / "tune.npy")
        tune_truth = np.load(data / "tune_truth.npy")
        chosen, curve = tune(system, tune_queries, tune_truth, args.target_recall)
        system.set_knob(chosen)
        result.update(knob_name=system.knob_name, knob=chosen, tuning=curve)
    if system.max_queries:
        queries, truth = queries[: system.max_queries], truth[: system.max_queries]
    run_queries(system, queries[:WARMUP_QUERIES], k)
    found, seconds = run_queries(system, queries, k)
    result["recall"] = measure_recall(found, truth)
    if system.knobs:
        # Still short of the target on the measured set (the tuning set's recall
        # was luckier): take the next knob values until it is reached, and say so.
        knobs = list(system.knobs)
        position = knobs.index(result["knob"])
        while result["recall"] < args.target_recall and position + 1 < len(knobs):
            position += 1
            system.set_knob(knobs[position])
            run_queries(system, queries[:WARMUP_QUERIES], k)
            found, seconds = run_queries(system, queries, k)
            result.update(knob=knobs[position], raised_on_measured_set=True)
            result["recall"] = measure_recall(found, truth)
    milliseconds = 1e3 * seconds
    result["queries"] = len(queries)
    result["p50_ms"] = float(np.percentile(milliseconds, 50))
    result["p99_ms"] = float(np.percentile(milliseconds, 99))
    result["mean_ms"] = float(milliseconds.mean())
    return result


def describe_version(system: System) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(system.library)
    except PackageNotFoundError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", required=True, choices=sorted(SYSTEMS))
    parser.add_argument("--data", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--target-recall", type=float, default=0.98)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    system = SYSTEMS[args.system]()
    start = time.perf_counter()
    system.load(args.threads)
    result: dict[str, Any] = {
        "system": system.name,
        "library": system.library,
        "version": describe_version(system),
        "import_s": time.perf_counter() - start,
    }
    result.update(measure(system, args))
    result.update(params=system.params(), notes=system.notes, status="ok")
    system.close()
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
