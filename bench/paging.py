"""Walking a whole namespace by offset pages vs by id cursor pages, side by side.

    python bench/paging.py --data-dir DIR [--count 100000] [--dim 512] \
        [--page-size 1000] [--rounds 2] [--milvus] [--out FILE.json]

Fills ``bench-export`` (as bench/export_import.py does, reused on a second run), then per
round walks it twice, in alternating order: ``list_records(offset=k * page)`` page after
page (what export and duplicates did before) and ``iter_records`` (each page after the
last id: what they do now), in the SQLite store or, with ``--milvus``, the Milvus store
(on $SAME_SAME_BENCH_MILVUS's server, else one started here). Reports the best round's
rows/s of each, their ratio, and the time of one page at the namespace's end read each
way, with the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from export_import import NAMESPACE, fill
from machine import describe_machine

from same_same.storage import VectorStore, open_store

Walk = Callable[[VectorStore, int], int]


def by_offset(store: VectorStore, page: int) -> int:
    seen, offset = 0, 0
    while rows := store.list_records(NAMESPACE, offset=offset, limit=page, with_vectors=True):
        seen += len(rows)
        offset += len(rows)
    return seen


def by_cursor(store: VectorStore, page: int) -> int:
    return sum(len(rows) for rows in store.iter_records(NAMESPACE, page, with_vectors=True))


def timed(walk: Walk, store: VectorStore, page: int, count: int) -> float:
    started = time.perf_counter()
    seen = walk(store, page)
    elapsed = time.perf_counter() - started
    if seen != count:
        raise SystemExit(f"walked {seen} records, the namespace has {count}")
    return elapsed


def last_page_seconds(store: VectorStore, count: int, page: int) -> dict[str, float]:
    offset = max(count - page, 0)
    (before_last,) = store.list_records(NAMESPACE, offset=max(offset - 1, 0), limit=1)
    started = time.perf_counter()
    store.list_records(NAMESPACE, offset=offset, limit=page, with_vectors=True)
    by_offset_s = time.perf_counter() - started
    started = time.perf_counter()
    store.list_records(NAMESPACE, limit=page, with_vectors=True, after_id=before_last.id)
    return {"offset": round(by_offset_s, 4), "cursor": round(time.perf_counter() - started, 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--milvus", action="store_true", help="the Milvus store")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        spec = None
        if args.milvus:
            from store_sides import milvus_server

            address, _ = stack.enter_context(milvus_server())
            spec = f"milvus://{address}/?prefix=bench_paging"
        result = walk_both(args, spec)
    print(json.dumps({key: value for key, value in result.items() if key != "machine"}))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def walk_both(args: argparse.Namespace, spec: str | None) -> dict[str, Any]:
    machine = describe_machine(["pymilvus"] if spec else [])
    best = {"offset": float("inf"), "cursor": float("inf")}
    with open_store(args.data_dir, spec) as store:
        fill(store, args.count, args.dim)
        count = store.count(NAMESPACE)
        walks: dict[str, Walk] = {"offset": by_offset, "cursor": by_cursor}
        for round_number in range(args.rounds):
            order = ["offset", "cursor"] if round_number % 2 == 0 else ["cursor", "offset"]
            for name in order:
                best[name] = min(best[name], timed(walks[name], store, args.page_size, count))
        last_page = last_page_seconds(store, count, args.page_size)
    return {
        "store": "milvus" if spec else "sqlite",
        "count": count,
        "dim": args.dim,
        "page_size": args.page_size,
        "rounds": args.rounds,
        "rows_per_s": {name: round(count / seconds) for name, seconds in best.items()},
        "cursor_vs_offset": round(best["offset"] / best["cursor"], 2),
        "last_page_s": last_page,
        "machine": machine,
    }


if __name__ == "__main__":
    sys.exit(main())
