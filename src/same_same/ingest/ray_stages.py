"""The two stages that run on the Ray cluster: preparing files (tasks) and embedding (actors).

Both take and return Ray Data batches in the numpy format (a dict of columns). A row
keeps the index of its job in the driver's plan, so results may come back in any
order. Files travel as paths (bytes, so any file name survives); pixels travel from
the tasks to the actors; only vectors and file facts travel back to the driver.
"""

from __future__ import annotations

import json
import os
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..embedders import is_image_embedder
from ..errors import SpaceMismatchError, UnsupportedModalityError
from ..imaging import ImageDecodeError
from ..imaging.exif import read_photo_metadata
from ..imaging.prepare import Preprocess
from ..records import EmbeddingSpace
from .model_input import prepare_for_model
from .ray_options import EmbedderRecipe

Batch = dict[str, np.ndarray]

FACT_COLUMNS = ("index", "sha256", "width", "height", "bytes", "frames", "reason", "photo")
"""What the driver needs of each file, besides its vector (``photo``: its EXIF fields,
``imaging.exif``, as a JSON object)."""


@dataclass(frozen=True)
class FilePreparer:
    """A Ray task per batch of files: read, hash, decode and preprocess each one.

    A file whose hash is in ``known_hashes`` (stored before the run) is not decoded:
    the driver reuses the stored vector. A bad file gets its reason, never an error.
    Pixels travel in a fixed shape, so an animation is embedded from its first frame
    that is not blank here, not from the mean of sampled frames as in a local ingest.
    """

    preprocess: Preprocess
    min_side: int
    pixel_shape: tuple[int, int, int]
    known_hashes: AbstractSet[str]

    def __call__(self, batch: Batch) -> Batch:
        count = len(batch["index"])
        pixels = np.zeros((count, *self.pixel_shape), dtype=np.float32)
        has_pixels = np.zeros(count, dtype=bool)
        facts: dict[str, list[Any]] = {name: [] for name in FACT_COLUMNS[1:]}
        for row, raw_path in enumerate(batch["path"]):
            try:
                prepared = prepare_for_model(
                    Path(os.fsdecode(bytes(raw_path))),
                    self.preprocess,
                    self.min_side,
                    self.known_hashes,
                    samples=1,
                )
            except ImageDecodeError as exc:
                _add_facts(facts, "", 0, 0, 0, 1, exc.reason, "{}")
                continue
            path = Path(os.fsdecode(bytes(raw_path)))
            photo = read_photo_metadata(path, float(batch["mtime"][row]))
            _add_facts(
                facts,
                prepared.sha256,
                prepared.width,
                prepared.height,
                prepared.size_bytes,
                prepared.frames,
                "",
                json.dumps(photo),
            )
            if prepared.pixels is not None:
                pixels[row] = prepared.pixels
                has_pixels[row] = True
        return {
            "index": np.asarray(batch["index"], dtype=np.int64),
            **_fact_arrays(facts),
            "has_pixels": has_pixels,
            "pixels": pixels,
        }


class EmbeddingActor:
    """One model per actor, built from the driver's recipe; embeds the rows with pixels."""

    def __init__(self, recipe: EmbedderRecipe, space: EmbeddingSpace) -> None:
        embedder = recipe.build()
        if not is_image_embedder(embedder):
            raise UnsupportedModalityError(f"embedder {embedder.name!r} embeds text only")
        if embedder.space != space:
            raise SpaceMismatchError(
                f"the cluster built {embedder.space.describe()}, the driver {space.describe()}",
                hint="give the same model files and settings on every node",
            )
        embedder.load()
        self.embedder = embedder
        self.dim = space.dim

    def __call__(self, batch: Batch) -> Batch:
        has_pixels = np.asarray(batch["has_pixels"], dtype=bool)
        vectors = np.zeros((len(has_pixels), self.dim), dtype=np.float32)
        if has_pixels.any():
            pixels = np.asarray(batch["pixels"], dtype=np.float32)[has_pixels]
            vectors[has_pixels] = self.embedder.embed_preprocessed(pixels)
        out = {name: batch[name] for name in FACT_COLUMNS}
        out["has_vector"] = has_pixels
        out["vector"] = vectors
        return out


def _add_facts(
    facts: dict[str, list[Any]],
    sha256: str,
    width: int,
    height: int,
    size: int,
    frames: int,
    reason: str,
    photo: str,
) -> None:
    values = (sha256, width, height, size, frames, reason, photo)
    for name, value in zip(FACT_COLUMNS[1:], values, strict=True):
        facts[name].append(value)


def _fact_arrays(facts: dict[str, list[Any]]) -> Batch:
    return {
        "sha256": np.asarray(facts["sha256"], dtype=object),
        "width": np.asarray(facts["width"], dtype=np.int64),
        "height": np.asarray(facts["height"], dtype=np.int64),
        "bytes": np.asarray(facts["bytes"], dtype=np.int64),
        "frames": np.asarray(facts["frames"], dtype=np.int64),
        "reason": np.asarray(facts["reason"], dtype=object),
        "photo": np.asarray(facts["photo"], dtype=object),
    }
