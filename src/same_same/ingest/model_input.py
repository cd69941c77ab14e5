"""How image files become model input for one embedder: the decode size, the
preprocessing each worker applies, and the memory a decoded file holds."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..embedders import ImageEmbedder
from ..embedders.clip.preprocess import PreprocessConfig, preprocess_image
from ..imaging.prepare import PreparedImage, Preprocess


def draft_side(config: PreprocessConfig) -> int:
    """The side JPEGs are draft-decoded to for a model of ``config`` (its larger input side).

    libjpeg then decodes at the smallest of 1/8, 1/4, 1/2, 1/1 scale that keeps both
    sides at least this long (a 3000x2000 photo at 1/8: 375x250): several times
    faster, and the model's own resize still only ever shrinks.
    """
    return max(int(config.height), int(config.width))


@dataclass(frozen=True)
class ModelInput:
    """What the decode workers produce for ``embedder``, and how a batch is embedded."""

    embedder: ImageEmbedder
    preprocess: Preprocess
    min_side: int
    item_bytes: int
    """Memory one decoded file holds until it is embedded (sizes the read-ahead)."""

    @classmethod
    def for_embedder(cls, embedder: ImageEmbedder) -> ModelInput:
        config = embedder.preprocess_config
        return cls(
            embedder=embedder,
            preprocess=functools.partial(preprocess_image, config=config),
            min_side=draft_side(config),
            item_bytes=4 * int(np.prod(config.shape)),
        )

    def embed(self, prepared: Sequence[PreparedImage]) -> np.ndarray:
        pixels = [p.pixels for p in prepared if p.pixels is not None]
        assert len(pixels) == len(prepared), "every file was preprocessed"
        return self.embedder.embed_preprocessed(np.stack(pixels))
