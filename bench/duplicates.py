"""How long ``find_duplicates`` takes on N records, and whether it finds the planted copies.

The records are clustered embedding-like vectors (``clustered.py``); a share of them get a
near copy (the vector plus a little noise, as a resized JPEG's embedding is) and some a
byte-identical one (same content hash). The store indexes namespaces past its index
threshold as it always does, so at 100k the finder's one search per record goes through
the approximate index: the issue's "100k records in minutes on 2 cores, not O(n^2)".

    python bench/duplicates.py --sizes 20000 100000 --out bench/results/duplicates.json

It reports, per size: seconds to write and index the records, seconds to find the groups,
records per second, and the recall and precision of the planted pairs. Run it alone on
the machine: it times wall clock.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clustered import make_clustered_vectors  # noqa: E402
from machine import describe_machine  # noqa: E402

from same_same.duplicates import DuplicateOptions, find_duplicates  # noqa: E402
from same_same.records import EmbeddingSpace, Record  # noqa: E402
from same_same.storage import open_store  # noqa: E402

DIM = 512
SPACE = EmbeddingSpace("bench", "clustered-512", "", DIM)
COPY_SHARE = 0.05
TWIN_SHARE = 0.01
COPY_NOISE = 0.004
"""Per-dimension noise of a near copy: its cosine to the original is about 0.996."""
THRESHOLD = 0.98
BATCH = 5000


def make_records(n: int, seed: int = 0) -> tuple[list[Record], set[frozenset[str]]]:
    """``n`` originals plus their planted copies, and the planted pairs."""
    vectors = make_clustered_vectors(n, DIM, seed=seed)
    rng = np.random.default_rng([seed, 99])
    records = [Record(f"r{i:07d}", vectors[i], content_hash=f"h{i}") for i in range(n)]
    pairs: set[frozenset[str]] = set()
    copied = rng.choice(n, size=int(n * COPY_SHARE), replace=False)
    for index in copied:
        noisy = vectors[index] + rng.normal(scale=COPY_NOISE, size=DIM).astype(np.float32)
        copy_id = f"c{index:07d}"
        records.append(Record(copy_id, noisy / np.linalg.norm(noisy), content_hash=f"c{index}"))
        pairs.add(frozenset((f"r{index:07d}", copy_id)))
    for index in rng.choice(n, size=int(n * TWIN_SHARE), replace=False):
        twin_id = f"t{index:07d}"
        records.append(Record(twin_id, vectors[index], content_hash=f"h{index}"))
        pairs.add(frozenset((f"r{index:07d}", twin_id)))
    return records, pairs


def found_pairs(report: Any) -> set[frozenset[str]]:
    pairs = set()
    for group in report.groups:
        ids = [group.keeper.id, *(member.id for member in group.members)]
        pairs.update(frozenset((a, b)) for i, a in enumerate(ids) for b in ids[i + 1 :])
    return pairs


def bench_size(n: int) -> dict[str, Any]:
    records, planted = make_records(n)
    with tempfile.TemporaryDirectory(prefix="same-same-dup-bench-") as folder:
        with open_store(Path(folder)) as store:
            started = time.perf_counter()
            store.ensure_namespace("photos", SPACE)
            for start in range(0, len(records), BATCH):
                store.upsert("photos", records[start : start + BATCH])
            written_s = time.perf_counter() - started
            started = time.perf_counter()
            report = find_duplicates(
                store, "photos", DuplicateOptions(threshold=THRESHOLD, limit=10**7)
            )
            found_s = time.perf_counter() - started
    found = found_pairs(report)
    true = len(found & planted)
    return {
        "records": len(records),
        "planted_pairs": len(planted),
        "write_and_index_s": round(written_s, 2),
        "find_s": round(found_s, 2),
        "records_per_s": round(len(records) / found_s, 1),
        "recall": round(true / len(planted), 4),
        "precision": round(true / len(found), 4) if found else None,
        "groups": report.total_groups,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        row = bench_size(n)
        rows.append(row)
        print(
            f"{row['records']:>8} records: write+index {row['write_and_index_s']:>7.1f} s, "
            f"find {row['find_s']:>7.1f} s ({row['records_per_s']:.0f}/s), "
            f"recall {row['recall']:.3f}, precision {row['precision']}",
            flush=True,
        )
    result = {"machine": describe_machine(["numpy", "usearch"]), "threshold": THRESHOLD}
    result["results"] = rows
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
