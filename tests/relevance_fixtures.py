"""The demo photos (generated scenes) ingested with the bundled tiny CLIP model, once per module.

``ingest_demo_photos(data_dir)`` makes the store with the real CLI (``same-same ingest
-e clip ... images:DIR``), which also calibrates relevance, and returns the photos' folder.
"""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli
from same_same.demo import DEMO_NAMESPACE, write_demo_photos
from same_same.embedders.clip import tiny_model_paths


def tiny_model_args() -> list[str]:
    config, weights = tiny_model_paths()
    return ["--clip-model", str(config), "--clip-pretrain", str(weights), "--backend", "torch"]


def ingest_demo_photos(data_dir: Path) -> Path:
    photos = data_dir.parent / "photos"
    write_demo_photos(photos, real_photos=False)
    done = run_cli(
        "ingest", "-e", "clip", *tiny_model_args(), "-n", DEMO_NAMESPACE, "-q",
        f"images:{photos}", data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return photos
