"""An ingest stand-in that writes into a namespace until told to stop, in its own process.

    python bench/background_writer.py --data-dir DIR [--store SPEC] --namespace NS \
        --dim 512 --stop-file FILE --out FILE.json [--batch 100] [--rows-per-s 200] \
        [--started-file FILE]

Upserts batches of ``--batch`` records at ``--rows-per-s`` (0: as fast as it can):
random unit vectors, ids ``bg-00000000``..., ``filter_cases.NO_MATCH_METADATA`` (so
no filter of the benchmark matches them), through
the store API, as ``same-same ingest`` does (a batch of 8 or more records is a bulk
write: it takes the namespace's writer lease), until ``--stop-file`` exists. Then it
writes ``{"rows", "seconds", "rows_per_s", "batches"}`` to ``--out`` and deletes what
it wrote (not timed), so the namespace holds what it held before.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from filter_cases import NO_MATCH_METADATA  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--store", default=None)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--dim", type=int, required=True)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rows-per-s", type=float, default=0.0, help="pace; 0: flat out")
    parser.add_argument("--stop-file", type=Path, required=True)
    parser.add_argument("--started-file", type=Path, default=None, help="made after batch 1")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    from same_same.records import Record
    from same_same.storage import open_store

    rng = np.random.default_rng(7)
    written: list[str] = []
    batches = 0
    with open_store(args.data_dir, args.store) as store:
        started = time.perf_counter()
        while not args.stop_file.exists():
            if args.rows_per_s > 0:  # the next batch is due when the pace allows it
                due = started + len(written) / args.rows_per_s
                time.sleep(max(0.0, due - time.perf_counter()))
            vectors = rng.standard_normal((args.batch, args.dim), dtype=np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            ids = [f"bg-{len(written) + j:08d}" for j in range(args.batch)]
            store.upsert(
                args.namespace,
                [Record(ids[j], vectors[j], metadata=NO_MATCH_METADATA) for j in range(len(ids))],
            )
            written.extend(ids)
            batches += 1
            if batches == 1 and args.started_file is not None:
                args.started_file.touch()
        seconds = time.perf_counter() - started
        report = {
            "rows": len(written),
            "batches": batches,
            "batch": args.batch,
            "target_rows_per_s": args.rows_per_s,
            "seconds": seconds,
            "rows_per_s": len(written) / seconds if seconds > 0 else 0.0,
        }
        args.out.write_text(json.dumps(report), encoding="utf-8")
        for first in range(0, len(written), 5000):
            store.delete(args.namespace, written[first : first + 5000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
