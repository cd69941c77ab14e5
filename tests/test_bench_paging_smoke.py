"""bench/paging.py keeps working on a small size: checks its JSON's shape and that both
walks saw every record, never the timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_paging_benchmark_walks_every_record_both_ways(tmp_path: Path) -> None:
    out = tmp_path / "paging.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "paging.py"), "--data-dir", str(tmp_path / "d"),
         "--count", "2500", "--dim", "16", "--page-size", "300", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert (result["count"], result["page_size"]) == (2500, 300)
    assert set(result["rows_per_s"]) == {"offset", "cursor"} == set(result["last_page_s"])
    assert result["cursor_vs_offset"] > 0
    assert "cpu" in json.dumps(result["machine"]).lower()
