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
import pytest

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
    for key in ("cpu", "cores", "ram_gib", "versions", "git_commit", "date", "loadavg_end"):
        assert key in report["machine"]
    assert {"python", "numpy", "same-same"} <= set(report["machine"]["versions"])
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


def test_clustered_vectors_are_deterministic_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    from clustered import make_clustered_rows, make_clustered_vectors, make_queries

    small = make_clustered_vectors(300, dim=32, clusters=10, seed=3)
    large = make_clustered_vectors(5000, dim=32, clusters=10, seed=3)
    assert small.dtype == np.float32 and small.shape == (300, 32)
    # bit for bit: a row never depends on how many rows are made with it
    np.testing.assert_array_equal(small, large[:300])
    middle, labels = make_clustered_rows(4000, 4500, dim=32, clusters=10, seed=3)  # 2 chunks
    np.testing.assert_array_equal(middle, large[4000:4500])
    assert labels.shape == (500,) and set(labels.tolist()) <= set(range(10))
    np.testing.assert_allclose(np.linalg.norm(large, axis=1), 1.0, atol=1e-5)
    assert not np.array_equal(large, make_clustered_vectors(5000, dim=32, clusters=10, seed=4))

    queries = make_queries(50, dim=32, clusters=10, seed=3)
    np.testing.assert_array_equal(queries, make_queries(50, dim=32, clusters=10, seed=3))
    assert not np.array_equal(queries, make_queries(50, dim=32, clusters=10, seed=3, query_seed=1))


@pytest.mark.parametrize("blocks", [None, (16, 700)])
def test_exact_top_k_finds_the_best_rows_in_order(
    monkeypatch: pytest.MonkeyPatch, blocks: tuple[int, int] | None
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import clustered

    if blocks is not None:  # many blocks of queries and of rows, merged
        monkeypatch.setattr(clustered, "_QUERY_BLOCK", blocks[0])
        monkeypatch.setattr(clustered, "_ROW_BLOCK", blocks[1])
    vectors = clustered.make_clustered_vectors(5000, dim=32, clusters=10, seed=3)
    queries = clustered.make_queries(50, dim=32, clusters=10, seed=3)

    truth = clustered.exact_top_k(vectors, queries, k=5)
    assert truth.shape == (50, 5) and truth.dtype == np.int64
    # against float64 scores: float32 products may swap rows whose scores differ by less
    exact = queries.astype(np.float64) @ vectors.astype(np.float64).T
    best = -np.sort(-exact, axis=1)[:, :5]
    np.testing.assert_allclose(np.take_along_axis(exact, truth, axis=1), best, atol=1e-6)

    mask = np.zeros(len(vectors), dtype=bool)
    mask[[7, 700, 4999]] = True
    masked = clustered.exact_top_k(vectors, queries, k=5, mask=mask)
    assert (masked[:, 3:] == -1).all()  # fewer rows than k pass: -1 pads
    for row, scores in zip(masked[:, :3], exact, strict=True):
        assert sorted(row.tolist()) == [7, 700, 4999]
        assert list(scores[row]) == sorted(scores[row], reverse=True)
