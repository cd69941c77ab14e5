"""The syncer a watch applies its batches with, called in this process as a Python caller
would: a real store, real JPEG files and the bundled tiny CLIP model (the real OpenCLIP
code path). No watcher runs here: each pass is called by the test, so nothing waits."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("open_clip", reason="needs the [clip] extra")

from PIL import Image  # noqa: E402

from same_same.embedders import (  # noqa: E402
    EmbedderOptions,
    ImageEmbedder,
    create_embedder,
    is_image_embedder,
)
from same_same.embedders.clip import tiny_model_paths  # noqa: E402
from same_same.ingest import IngestOptions  # noqa: E402
from same_same.storage import open_store  # noqa: E402
from same_same.watch import WatchOptions, open_watched_folder  # noqa: E402
from same_same.watch.sync import FolderSyncer  # noqa: E402

NS = "synced"


@pytest.fixture(scope="module")
def embedder() -> ImageEmbedder:
    config, weights = tiny_model_paths()
    model = create_embedder(
        "clip", EmbedderOptions(model=str(config), pretrained=str(weights), backend="torch")
    )
    assert is_image_embedder(model)
    return model


def write_jpeg(path: Path, seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())


def test_passes_tell_each_change_once(tmp_path: Path, embedder: ImageEmbedder) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for index, name in enumerate(["a.jpg", "b.jpg", "c.jpg"]):
        write_jpeg(folder / name, index)
    (folder / "notes.txt").write_text("not an image")
    stream = io.StringIO()
    options = WatchOptions(ingest=IngestOptions(namespace=NS, workers=0))
    with open_store(tmp_path / "store") as store:
        syncer = FolderSyncer(
            store, embedder, open_watched_folder(f"images:{folder}"), options, stream
        )
        shown = str(folder)
        assert [str(c) for c in syncer.full_pass()] == [
            f"added {shown}/a.jpg",
            f"added {shown}/b.jpg",
            f"added {shown}/c.jpg",
        ]
        assert syncer.full_pass() == []  # nothing changed: nothing told, nothing embedded
        records = {r.metadata["path"]: r for r in store.list_records(NS, with_vectors=True)}
        vector_of_a = records["a.jpg"].vector

        # a moved over b: b's record takes a's vector, a's record goes
        os.replace(folder / "a.jpg", folder / "b.jpg")
        changes = syncer.targeted_pass({str(folder / "b.jpg")}, {str(folder / "a.jpg")})
        assert [str(c) for c in changes] == [f"moved {shown}/a.jpg -> {shown}/b.jpg"]
        records = {r.metadata["path"]: r for r in store.list_records(NS, with_vectors=True)}
        assert set(records) == {"b.jpg", "c.jpg"}
        assert np.array_equal(records["b.jpg"].vector, vector_of_a)

        # a copy is added beside its original; a deleted file is removed
        shutil.copy(folder / "c.jpg", folder / "c-copy.jpg")
        (folder / "b.jpg").unlink()
        changes = syncer.targeted_pass({str(folder / "c-copy.jpg")}, {str(folder / "b.jpg")})
        assert [str(c) for c in changes] == [  # in path order
            f"removed {shown}/b.jpg",
            f"added {shown}/c-copy.jpg",
        ]

        # a path that was never an image, or no longer exists, changes nothing
        gone = str(folder / "never.jpg")
        assert syncer.targeted_pass({str(folder / "notes.txt"), gone}, {gone}) == []

        # a file left out of a full pass (still being written) is not read
        write_jpeg(folder / "writing.jpg", 9)
        assert syncer.full_pass(left_out=[str(folder / "writing.jpg")]) == []
        assert [str(c) for c in syncer.full_pass()] == [f"added {shown}/writing.jpg"]
    assert stream.getvalue() == ""  # no skip lines: every file was good
