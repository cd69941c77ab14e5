"""The ingest benchmark in a tiny mode: the bundled tiny CLIP model, a few small JPEGs.

It runs everything the full benchmark runs (photo generation, decode-only and
model-only measurements in a child process, an ONNX export, real ``same-same
ingest`` subprocesses) and checks the table and the JSON's shape, never timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from same_same.embedders.clip.onnx_backend import FILE_TAGS

pytest.importorskip("onnxruntime", reason="needs the [onnx] extra")
pytest.importorskip("open_clip", reason="needs the [clip] extra")
pytestmark = pytest.mark.clip

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "src" / "same_same" / "models" / "tiny-clip"


def test_tiny_run_writes_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "ingest.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "ingest.py"),
            "--model-config",
            str(TINY / "same-same-tiny-clip.json"),
            "--weights",
            str(TINY / "same-same-tiny-clip.safetensors"),
            "--backends",
            "torch,onnx-int8,auto",
            "--sizes",
            "200x150,120x90",
            "--count",
            "5",
            "--batch-size",
            "2",
            "--model-seconds",
            "0.2",
            f"--work-dir={tmp_path / 'work'}",
            f"--out={out}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))

    assert report["benchmark"] == "ingest"
    for key in ("cpu", "cores", "ram_gib", "versions", "date", "git_commit", "simd"):
        assert key in report["machine"]
    assert len(report["machine"]["git_commit"]) == 40
    assert "shared" in report["note"]
    assert report["settings"]["sizes"] == ["200x150", "120x90"]
    assert report["settings"]["clip_model"].endswith("same-same-tiny-clip.json")

    rows = report["results"]
    assert [(r["size"], r["backend"]) for r in rows] == [
        ("200x150", "torch"),
        ("200x150", "onnx-int8"),
        ("200x150", "auto"),
        ("120x90", "torch"),
        ("120x90", "onnx-int8"),
        ("120x90", "auto"),
    ]
    # auto names what it ran: the tiny model's int8 export fails the top-5 check
    assert [r["resolved_backend"] for r in rows] == ["torch", "onnx-int8", "onnx"] * 2
    for row in rows:
        assert row["images"] == 5 and row["batch_size"] == 2
        for key in ("seconds", "rate", "model_rate", "decode_rate", "ceiling", "efficiency"):
            assert row[key] > 0, key
        assert row["ceiling"] < min(row["model_rate"], row["decode_rate"])
        assert row["efficiency"] == pytest.approx(row["rate"] / row["ceiling"], rel=0.01, abs=1e-3)
        assert 0 <= row["startup_s"] < row["seconds"]
    torch_row, int8_row = rows[0], rows[1]
    assert torch_row["ratio_vs_torch"] == 1.0 and torch_row["export_s"] is None
    assert int8_row["ratio_vs_torch"] == pytest.approx(
        int8_row["rate"] / torch_row["rate"], rel=0.01, abs=1e-3
    )
    # the tiny model was exported once into the benchmark's cache (export_s itself is a
    # time, reported only above a threshold, so it is not checked here)
    cached = sorted(p.name for p in (tmp_path / "work" / "onnx-cache").rglob("*") if p.is_file())
    exported = [name for name in cached if name.endswith(".onnx")]
    int8_tag = f"-{FILE_TAGS['int8']}-"
    assert len(exported) == 4 and sum(int8_tag in name for name in exported) == 2
    assert sum(name.endswith("-auto-cpu.json") for name in cached) == 1  # auto's check, kept

    table = done.stdout
    assert "backend" in table and "ceiling" in table and "onnx-int8" in table
    assert "auto:onnx" in table
    assert str(out) in table
    # photos are cached for the next run; the run's own folders are gone
    assert (tmp_path / "work" / "photos-v1-200x150-q90-seed20261127").is_dir()
    assert not list((tmp_path / "work").glob("run-*"))
