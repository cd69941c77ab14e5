"""``/metrics``'s ingest counters, told by a watch's passes: a real store, real JPEG files and
the bundled tiny CLIP model (the real OpenCLIP code path). Each pass is called by the test,
as tests/test_watch_sync.py does, so nothing waits on a watcher thread."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("open_clip", reason="needs the [clip] extra")

from PIL import Image  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from same_same.embedder_cache import EmbedderCache  # noqa: E402
from same_same.embedders import EmbedderOptions, create_embedder, is_image_embedder  # noqa: E402
from same_same.embedders.clip import tiny_model_paths  # noqa: E402
from same_same.ingest import IngestOptions  # noqa: E402
from same_same.server.metrics import ServerMetrics  # noqa: E402
from same_same.storage import open_store  # noqa: E402
from same_same.watch import WatchOptions, open_watched_folder  # noqa: E402
from same_same.watch.sync import FolderSyncer  # noqa: E402

NS = "watched"


def write_jpeg(path: Path, seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())


def ingest_counts(metrics: ServerMetrics) -> dict[str, float]:
    text = metrics.render().decode("utf-8")
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "same_same_ingest_files_total" and sample.labels["namespace"] == NS
    }


def test_watch_passes_move_the_ingest_counters(tmp_path: Path) -> None:
    config, weights = tiny_model_paths()
    embedder = create_embedder(
        "clip", EmbedderOptions(model=str(config), pretrained=str(weights), backend="torch")
    )
    assert is_image_embedder(embedder)
    folder = tmp_path / "photos"
    folder.mkdir()
    for index, name in enumerate(["a.jpg", "b.jpg", "c.jpg"]):
        write_jpeg(folder / name, index)
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    options = WatchOptions(ingest=IngestOptions(namespace=NS, workers=0))
    with open_store(tmp_path / "store") as store:
        metrics = ServerMetrics(store, EmbedderCache())
        syncer = FolderSyncer(
            store,
            embedder,
            open_watched_folder(f"images:{folder}"),
            options,
            io.StringIO(),
            observer=metrics,
        )
        syncer.full_pass()
        first = ingest_counts(metrics)
        assert first["seen"] == 4
        assert first["added"] == 3
        assert first["skipped"] == 1  # broken.jpg, told and skipped
        assert first["updated"] == first["removed"] == 0

        write_jpeg(folder / "b.jpg", 99)  # rewritten
        os.remove(folder / "c.jpg")
        syncer.targeted_pass({str(folder / "b.jpg")}, {str(folder / "c.jpg")})
        second = ingest_counts(metrics)
        assert second["seen"] == 5
        assert second["updated"] == 1
        assert second["removed"] == 1
        assert second["added"] == 3

        syncer.full_pass()  # nothing changed: seen and unchanged move, nothing else
        third = ingest_counts(metrics)
        assert third["unchanged"] >= 2
        assert third["updated"] == 1 and third["removed"] == 1 and third["added"] == 3
        text = metrics.render().decode("utf-8")
        assert f'same_same_ingest_passes_total{{namespace="{NS}"}} 3.0' in text
