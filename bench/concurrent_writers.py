"""Concurrent writers: several `same-same ingest` processes into one namespace, at once and
one after another, side by side in one run.

    python bench/concurrent_writers.py [--writers 3] [--rows 20000]
    python bench/concurrent_writers.py --source /tmp/old/src   # an older checkout's code

Each writer ingests its own JSONL file of ``--rows`` distinct texts with the ``local``
embedder into the namespace ``shared`` of a fresh data directory (past the 10,000-vector
index threshold, so the ANN index is maintained as batches commit). The same files are
ingested concurrently (all started together) and sequentially (one after another), each
in its own data directory; the report gives both wall times, their ratio, and checks
that every row was stored. Prints a table and writes
bench/results/concurrent-writers-<date>.json with the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import REPO, describe_machine  # noqa: E402


def write_sources(folder: Path, writers: int, rows: int) -> list[Path]:
    paths = []
    for writer in range(writers):
        path = folder / f"writer{writer}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for row in range(rows):
                text = f"writer {writer} row {row}: note {row * 7919 % 10007} about {row % 97}"
                out.write(json.dumps({"id": f"w{writer}-{row}", "text": text}) + "\n")
        paths.append(path)
    return paths


def ingest_command(source: Path, data_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "same_same", "ingest", "--data-dir", str(data_dir),
        "-e", "local", "-n", "shared", f"jsonl:{source}",
    ]  # fmt: skip


def stored_rows(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "same-same.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])


def run(sources: list[Path], data_dir: Path, concurrent: bool, code: str | None) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if code:
        env["PYTHONPATH"] = code
    started = time.perf_counter()
    if concurrent:
        procs = [
            subprocess.Popen(ingest_command(s, data_dir), env=env, stderr=subprocess.PIPE)
            for s in sources
        ]
        for proc in procs:
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"ingest failed ({proc.returncode}): {err.decode()[-500:]}")
    else:
        for source in sources:
            subprocess.run(ingest_command(source, data_dir), env=env, check=True,
                           stderr=subprocess.PIPE)  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--source", help="run the ingests from this src folder (PYTHONPATH)")
    args = parser.parse_args()
    machine = describe_machine(["numpy", "usearch"])
    report: dict[str, Any] = {
        "machine": machine, "writers": args.writers, "rows": args.rows, "source": args.source,
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-writers-") as tmp:
        folder = Path(tmp)
        sources = write_sources(folder, args.writers, args.rows)
        for mode in ("sequential", "concurrent"):
            data_dir = folder / mode
            seconds = run(sources, data_dir, concurrent=mode == "concurrent", code=args.source)
            report[mode] = {"seconds": round(seconds, 1), "stored": stored_rows(data_dir)}
            print(f"{mode:>10}: {seconds:6.1f} s, {report[mode]['stored']:,} rows stored")
    expected = args.writers * args.rows
    modes = ("sequential", "concurrent")
    report["all_stored"] = all(report[mode]["stored"] == expected for mode in modes)
    report["concurrent_over_sequential"] = round(
        report["concurrent"]["seconds"] / report["sequential"]["seconds"], 2
    )
    print(f"concurrent / sequential: {report['concurrent_over_sequential']}x; "
          f"every row stored: {report['all_stored']}")  # fmt: skip
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d-%H%M%S")
    out = REPO / "bench" / "results" / f"concurrent-writers-{stamp}.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
