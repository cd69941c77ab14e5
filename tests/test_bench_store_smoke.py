"""bench/store.py keeps working: 2,000 vectors on every side (embedded over HTTP, the Milvus
store over HTTP, pymilvus), on the session's Milvus server. Checks the table and the JSON's
shape, never the timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from same_same.storage.index_settings import MIN_VECTORS_ENV

REPO = Path(__file__).resolve().parents[1]


def test_the_store_benchmark_runs_every_side(tmp_path: Path, milvus_address: str) -> None:
    out = tmp_path / "store.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "store.py"),
            "--sizes",
            "2000",
            "--queries",
            "12",
            "--tuning-queries",
            "10",
            "--prefix",
            "bench_store_smoke",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "SAME_SAME_BENCH_MILVUS": milvus_address,
            MIN_VECTORS_ENV: "1000",  # the embedded store's index is used at 2,000
        },
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "embedded-http" in done.stdout and "pymilvus" in done.stdout
    report = json.loads(out.read_text())
    assert report["machine"]["cores"] >= 1 and "pymilvus" in report["machine"]["versions"]
    (run,) = report["runs"]
    assert run["size"] == 2000
    assert run["embedded"]["vectors_per_s"] > 0 and run["milvus"]["vectors_per_s"] > 0
    assert run["milvus"]["index"]["indexed_rows"] >= 2000
    assert run["milvus"]["dropped"]  # the benchmark's collections are gone again
    sides = {(row["side"], row["consistency"]) for row in run["rows"]}
    assert sides >= {
        ("embedded-http", "-"),
        ("milvus-http", "Strong"),
        ("milvus-http", "Bounded"),
        ("pymilvus", "Strong"),
        ("pymilvus", "Bounded"),
    }
    for row in run["rows"]:
        for key in ("c1_p50_ms", "c1_p99_ms", "c8_p50_ms", "c8_p99_ms", "c8_qps"):
            assert isinstance(row[key], float) and row[key] > 0, (row["side"], key)
        assert 0.5 <= row["recall_at_10"] <= 1.0, row
