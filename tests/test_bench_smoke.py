"""bench/query.py keeps working: a tiny run end to end (real servers on 127.0.0.1, the real
store, the index on for the larger size, text search through the tiny CLIP model with
random weights). Checks the JSON it writes, never its timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from same_same.storage.index_settings import MIN_VECTORS_ENV

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.clip


def test_the_query_benchmark_runs_and_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "query.py"),
            "--quick",
            "--sizes",
            "400,1200",
            "--queries",
            "12",
            "--text-size",
            "300",
            "--text-model",
            "same-same-tiny-clip",
            "--text-queries",
            "4",
            "--text-backends",
            "torch,onnx-int8",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", MIN_VECTORS_ENV: "1000"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "vector search over HTTP" in done.stdout and "text search over HTTP" in done.stdout
    (report_path,) = out.glob("query-*.json")
    report = json.loads(report_path.read_text())

    machine = report["machine"]
    assert machine["cores"] >= 1 and machine["cpu"] and machine["ram_gib"] > 0
    assert {"python", "numpy", "torch", "usearch"} <= set(machine["versions"])
    assert report["note"] and report["index_settings"]["min_vectors"] == 1000
    assert report["generator"].startswith("bench/clustered.py")  # the benchmarks' one generator

    small, large = report["vector_search"]
    assert (small["size"], large["size"]) == (400, 1200)
    assert (small["index_used"], large["index_used"]) == (False, True)
    for run in (small, large):
        for key in (
            "c1_p50_ms",
            "c1_p99_ms",
            "c8_p50_ms",
            "c8_p99_ms",
            "exact_p50_ms",
            "filter_1pct_p50_ms",
            "filter_50pct_p50_ms",
            "start_s",
            "health_s",
            "load_s",
            "index_s",
            "bytes_per_vector",
        ):
            assert isinstance(run[key], float), key
        for key in ("recall_at_10", "exact_recall_at_10", "filter_50pct_recall_at_10"):
            assert 0.0 <= run[key] <= 1.0, key
        assert run["exact_recall_at_10"] == 1.0  # exact search is exact

    texts = report["text_search"]
    assert [text["backend"] for text in texts] == ["torch", "onnx-int8"]
    for text in texts:
        assert text["size"] == 300 and text["model"].startswith("same-same-tiny-clip")
        for key in ("first_query_ms", "new_p50_ms", "cached_p50_ms", "cached_c8_p50_ms"):
            assert isinstance(text[key], float), key
