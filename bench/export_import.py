"""Export a namespace of N vectors to each format and import it back, with peak memory.

    python bench/export_import.py --data-dir DIR [--count 1000000] [--dim 512] \
        [--page-size 1000] [--formats parquet,npy,jsonl] [--out FILE.json]

Fills ``bench-export`` with ``--count`` random unit vectors (once: a second run reuses
them), then per format times ``export_namespace`` and ``import_file`` (into a fresh
namespace) and reports rows/s, the file size and the process's peak RSS growth (the first
format's includes importing its library), which stays near a page's worth however large
``--count`` is. Not run by the tests: a million
512-d vectors is 2 GB of float32 and minutes of disk.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

from same_same.exchange import ExportOptions, ImportOptions, export_namespace, import_file
from same_same.records import EmbeddingSpace, Record
from same_same.storage import VectorStore, open_store

NAMESPACE = "bench-export"
EXTENSIONS = {"parquet": ".parquet", "npy": ".npy", "jsonl": ".jsonl"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill(store: VectorStore, count: int, dim: int) -> None:
    space = EmbeddingSpace("bench", "random", "", dim)
    store.ensure_namespace(NAMESPACE, space)
    have = store.count(NAMESPACE)
    rng = np.random.default_rng(0)
    for start in range(have, count, 10_000):
        size = min(10_000, count - start)
        matrix = rng.standard_normal((size, dim)).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        records = [
            Record(f"r{start + i:09d}", matrix[i], metadata={"i": start + i}) for i in range(size)
        ]
        store.upsert(NAMESPACE, records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--formats", default="parquet,npy,jsonl")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    results = []
    with open_store(args.data_dir) as store:
        fill(store, args.count, args.dim)
        for name in args.formats.split(","):
            path = args.data_dir / f"export{EXTENSIONS[name]}"
            before = peak_rss_mb()
            started = time.perf_counter()
            export_namespace(store, NAMESPACE, path, ExportOptions(page_size=args.page_size))
            exported = time.perf_counter() - started
            target = f"{NAMESPACE}-{name}"
            if store.find_namespace(target) is not None:
                store.delete_namespace(target)
            started = time.perf_counter()
            import_file(store, path, target, ImportOptions(batch_size=args.page_size))
            imported = time.perf_counter() - started
            results.append(
                {
                    "format": name,
                    "count": args.count,
                    "export_rows_per_s": round(args.count / exported),
                    "import_rows_per_s": round(args.count / imported),
                    "file_mb": round(path.stat().st_size / 2**20, 1),
                    "peak_rss_growth_mb": round(peak_rss_mb() - before, 1),
                }
            )
            store.delete_namespace(target)
            print(json.dumps(results[-1]), file=sys.stderr)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
