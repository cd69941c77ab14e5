"""The torch-free image preprocessing matches open_clip's own transform on real photos."""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from PIL import Image

from clip_fixtures import real_photo_paths, tiny_embedder
from same_same.embedders.clip import PreprocessConfig, preprocess_image, preprocess_images

open_clip_transform = pytest.importorskip("open_clip.transform")

CONFIGS: list[dict[str, Any]] = [
    {"size": 224},  # ViT-B-32/openai
    {"size": 64, "interpolation": "bilinear"},
    {"size": (224, 160)},  # non-square "shortest" takes ResizeKeepRatio's path
    {"size": 224, "resize_mode": "longest", "fill_color": 7},  # letterbox with padding
    {"size": (100, 240), "resize_mode": "squash"},
    {"size": (200, 120), "resize_mode": "longest"},
    {"size": 256, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)},
]


def open_clip_preprocess(cfg: dict[str, Any]) -> Any:
    full = open_clip_transform.PreprocessCfg(**cfg)
    return open_clip_transform.image_transform_v2(full, is_train=False)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_matches_open_clip_on_real_photos(cfg: dict[str, Any]) -> None:
    reference = open_clip_preprocess(cfg)
    config = PreprocessConfig.from_open_clip(cfg)
    photos = real_photo_paths()
    assert len(photos) >= 5
    modes = set()
    for path in photos:
        with Image.open(path) as image:
            image.load()
            modes.add(image.mode)
            expected = reference(image).numpy()
            got = preprocess_image(image, config)
        assert got.dtype == np.float32
        assert got.shape == expected.shape == config.shape
        np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=str(path))
    # the photos cover colour, grey and transparent images
    assert {"RGB", "L"} <= modes


def test_small_and_odd_sized_images_match() -> None:
    """Images smaller than the crop get padded; odd sizes round the crop offset."""
    reference = open_clip_preprocess({"size": 64, "resize_mode": "longest"})
    config = PreprocessConfig.from_open_clip({"size": 64, "resize_mode": "longest"})
    rng = np.random.default_rng(0)
    for width, height in [(1, 1), (3, 50), (65, 64), (64, 64), (201, 7)]:
        image = Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8))
        np.testing.assert_allclose(
            preprocess_image(image, config), reference(image).numpy(), atol=1e-5
        )


def test_batch_is_stacked_rows() -> None:
    config = PreprocessConfig(height=32, width=32)
    images = [Image.open(p).convert("RGB") for p in real_photo_paths()[:3]]
    batch = preprocess_images(images, config)
    assert batch.shape == (3, 3, 32, 32)
    np.testing.assert_array_equal(batch[1], preprocess_image(images[1], config))


def test_config_pickles_and_compares_by_value() -> None:
    config = PreprocessConfig.from_open_clip({"size": (96, 128), "interpolation": "random"})
    assert config.interpolation == "bicubic"  # open_clip evaluates "random" as bicubic
    assert pickle.loads(pickle.dumps(config)) == config
    assert config.shape == (3, 96, 128)


def test_preprocessing_imports_no_torch() -> None:
    """Worker processes of the ingest pipeline preprocess without paying for torch."""
    code = (
        "import sys, numpy as np\n"
        "from PIL import Image\n"
        "from same_same.embedders.clip import PreprocessConfig, preprocess_image\n"
        "out = preprocess_image(Image.new('RGB', (50, 40)), PreprocessConfig(height=8, width=8))\n"
        "assert out.shape == (3, 8, 8)\n"
        "bad = [m for m in ('torch', 'open_clip', 'torchvision') if m in sys.modules]\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_embedder_predicts_the_loaded_models_config() -> None:
    """``preprocess_config`` is known before the weights load, and it is the right one."""
    embedder = tiny_embedder()
    predicted = embedder.preprocess_config
    assert predicted == PreprocessConfig(height=64, width=64)
    embedder.load()
    assert embedder.preprocess_config == predicted


def test_tag_preprocess_is_taken_from_open_clip_tables() -> None:
    """A pretrained tag's mean/std/resize mode (not open_clip's defaults) reach the config,
    without downloading anything."""
    from same_same.embedders.clip import CLIPEmbedder

    config = CLIPEmbedder("ViT-B-16-SigLIP-256", "webli").preprocess_config
    assert config == PreprocessConfig(
        height=256, width=256, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), resize_mode="squash"
    )
