"""The peer benchmark's quick mode, for same-same's own worker only.

No peer virtualenv is created here (--no-install and an empty work dir): a peer
must then show up as "not installed" instead of stopping the run. Timings are
not checked, only that the run finishes and its JSON has the promised shape.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"


def test_quick_run_writes_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "peers.json"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "peers.py"),
            "--quick",
            "--systems=same-same,faiss-hnsw",
            "--no-install",
            f"--work-dir={tmp_path / 'work'}",
            f"--out={out}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text(encoding="utf-8"))

    assert report["benchmark"] == "peers"
    for key in ("cpu", "cores", "ram_gib", "python", "numpy", "date"):
        assert key in report["machine"]
    assert len(report["store_version"]["commit"]) == 40
    assert report["settings"]["quick"] is True
    assert report["settings"]["sizes"] == [5000]

    by_system = {result["system"]: result for result in report["results"]}
    assert set(by_system) == {"same-same", "faiss-hnsw"}
    ours = by_system["same-same"]
    assert ours["status"] == "ok"
    assert ours["n"] == 5000 and ours["dim"] == 512 and ours["k"] == 10
    assert ours["queries"] == report["settings"]["queries"]
    # exact search below the index threshold: every true neighbour is found
    assert ours["recall"] == 1.0
    for key in ("build_s", "p50_ms", "p99_ms", "rss_delta_bytes_per_vector", "disk_bytes"):
        assert ours[key] >= 0
    assert ours["p99_ms"] >= ours["p50_ms"]
    assert ours["disk_bytes"] > 5000 * 512 * 4  # every float32 vector is on disk
    assert report["versions"]["same-same"] == ours["version"]

    peer = by_system["faiss-hnsw"]
    assert peer["status"] == "not installed"
    assert "--no-install" in peer["reason"]

    table = done.stdout
    assert "recall@10" in table and "same-same" in table
    assert "faiss-hnsw" in table and "not installed" in table


def test_clustered_vectors_are_deterministic_prefixes() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from clustered import exact_top_k, make_clustered_vectors, make_queries
    finally:
        sys.path.remove(str(BENCH))

    small = make_clustered_vectors(300, dim=32, clusters=10, seed=3)
    large = make_clustered_vectors(5000, dim=32, clusters=10, seed=3)
    assert small.dtype == np.float32 and small.shape == (300, 32)
    np.testing.assert_array_equal(small, large[:300])
    np.testing.assert_allclose(np.linalg.norm(large, axis=1), 1.0, atol=1e-5)
    assert not np.array_equal(large, make_clustered_vectors(5000, dim=32, clusters=10, seed=4))

    queries = make_queries(50, dim=32, clusters=10, seed=3)
    np.testing.assert_array_equal(queries, make_queries(50, dim=32, clusters=10, seed=3))
    assert not np.array_equal(queries, make_queries(50, dim=32, clusters=10, seed=3, query_seed=1))

    truth = exact_top_k(large, queries, k=5)
    brute = np.argsort(-(queries @ large.T), axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(truth, brute)
