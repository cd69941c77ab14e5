"""Cutting text tokens after the last end-of-text token gives exactly open_clip's vectors."""

from __future__ import annotations

import numpy as np
import pytest

from clip_fixtures import shared_tiny_embedder, torch
from same_same.embedders.clip.text import can_truncate, encode_text_tokens, needed_length

open_clip = pytest.importorskip("open_clip")

BATCHES = [
    ["a red circle"],
    ["a", "two blue squares on the left", "three yellow stars at the top on a black background"],
    ["", "x"],
    ["word " * 120, "a short one"],  # longer than the context: the tokenizer cuts it at 77
    ["ünïcödé ✓ emoji 🎉", "Numbers 12345 and punctuation!?"],
]


def full_encode(model: torch.nn.Module, tokens: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return model.encode_text(tokens).numpy()


def cut_encode(model: torch.nn.Module, tokens: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return encode_text_tokens(model, tokens).numpy()


def random_vit_b_32() -> tuple[torch.nn.Module, object]:
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None).eval()
    return model, open_clip.get_tokenizer("ViT-B-32")


@pytest.fixture(scope="module")
def tiny() -> tuple[torch.nn.Module, object]:
    backend = shared_tiny_embedder().backend
    return backend.model, backend.tokenizer


@pytest.mark.parametrize("texts", BATCHES, ids=range(len(BATCHES)))
def test_tiny_model_matches_full_encode_text(tiny: tuple, texts: list[str]) -> None:
    model, tokenizer = tiny
    tokens = tokenizer(texts)
    np.testing.assert_allclose(cut_encode(model, tokens), full_encode(model, tokens),
                               rtol=1e-5, atol=1e-5)


def test_vit_b_32_matches_full_encode_text() -> None:
    """A full-size, 12-layer text tower (random weights: the arithmetic is what matters)."""
    model, tokenizer = random_vit_b_32()
    for texts in BATCHES:
        tokens = tokenizer(texts)  # type: ignore[operator]
        np.testing.assert_allclose(cut_encode(model, tokens), full_encode(model, tokens),
                                   rtol=1e-4, atol=1e-5)


def test_short_queries_are_actually_cut(tiny: tuple) -> None:
    model, tokenizer = tiny
    assert can_truncate(model)
    tokens = tokenizer(["a red circle"])
    # start-of-text, three words, end-of-text
    assert needed_length(model, tokens) == 5
    mixed = tokenizer(["a", "two blue squares on the left"])
    assert needed_length(model, mixed) == 2 + len(tokenizer.encode("two blue squares on the left"))
    assert needed_length(model, tokenizer(["word " * 120])) == tokens.shape[-1]


def test_bidirectional_towers_are_not_cut() -> None:
    """Without a causal mask every position sees the padding, so cutting would change
    the result: such towers go through encode_text whole."""
    torch.manual_seed(0)
    model = open_clip.CLIP(
        embed_dim=16,
        vision_cfg={"image_size": 32, "patch_size": 16, "width": 32, "layers": 1, "head_width": 16},
        text_cfg={"width": 32, "heads": 2, "layers": 1, "no_causal_mask": True},
    ).eval()
    tokens = open_clip.get_tokenizer("ViT-B-32")(["a red circle"])
    assert not can_truncate(model)
    assert needed_length(model, tokens) == tokens.shape[-1]
    np.testing.assert_array_equal(cut_encode(model, tokens), full_encode(model, tokens))


def test_embedder_rows_stay_with_their_texts() -> None:
    """embed_texts sorts by length to batch similar texts; each row must still be its text."""
    embedder = shared_tiny_embedder()
    texts = ["three yellow stars at the top on a black background", "a", "two blue squares",
             "", "a red circle on the left"]
    together = embedder.embed_texts(texts)
    for text, row in zip(texts, together, strict=True):
        np.testing.assert_allclose(row, embedder.embed(text), atol=1e-5)
