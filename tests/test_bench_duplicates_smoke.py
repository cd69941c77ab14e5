"""bench/duplicates.py keeps working on a small size: checks its JSON's shape and that the
planted copies are found, never the timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_duplicates_benchmark_finds_the_planted_copies(tmp_path: Path) -> None:
    out = tmp_path / "duplicates.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "duplicates.py"),
            "--sizes",
            "1500",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    (row,) = result["results"]
    assert row["records"] == 1500 + 75 + 15 and row["planted_pairs"] == 90
    assert row["recall"] >= 0.95 and row["precision"] >= 0.95
    assert "cpu" in json.dumps(result["machine"]).lower()
