"""Shared pieces of the CLIP tests: the bundled tiny model loaded the way a user loads a
local checkpoint, real photos shipped with scikit-image/matplotlib, held-out scenes.

Import what you need: ``from clip_fixtures import tiny_embedder, real_photo_paths``.
Nothing here downloads anything; the CLIP tests run the real OpenCLIP code path.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="needs the [clip] extra")
pytest.importorskip("open_clip", reason="needs the [clip] extra")

# several people share two cores; CLIP tests stay polite
torch.set_num_threads(min(2, torch.get_num_threads()))

from same_same.embedders.clip import CLIPEmbedder, tiny_model_paths  # noqa: E402

# the training script used seed 0 for its stream and 20240601 for its own evaluation;
# the tests look at scenes neither saw
HELD_OUT_SEED = 777


def tiny_embedder(batch_size: int = 32) -> CLIPEmbedder:
    """The tiny model through the user's path: ``--clip-model CONFIG.json --clip-pretrain FILE``.

    The torch backend, pinned: these tests look inside the reference model (``auto``, the
    default, may pick ONNX; tests of that choice build their own embedder)."""
    config, weights = tiny_model_paths()
    return CLIPEmbedder(
        str(config), str(weights), device="cpu", batch_size=batch_size, backend="torch"
    )


@functools.lru_cache(maxsize=1)
def shared_tiny_embedder() -> CLIPEmbedder:
    """One loaded tiny embedder for the whole session (loading is the slow part)."""
    embedder = tiny_embedder()
    embedder.load()
    return embedder


def real_photo_paths() -> list[Path]:
    """Real photographs and drawings in several modes (RGB, L, RGBA), from installed packages."""
    import matplotlib.cbook
    import skimage.data

    skimage_dir = Path(os.path.dirname(skimage.data.__file__))
    names = ["astronaut.png", "coffee.png", "chelsea.png", "camera.png", "logo.png", "rocket.jpg"]
    paths = [skimage_dir / name for name in names]
    paths.append(Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    return [p for p in paths if p.is_file()]


__all__ = [
    "HELD_OUT_SEED",
    "real_photo_paths",
    "shared_tiny_embedder",
    "tiny_embedder",
    "tiny_model_paths",
    "torch",
]


def write_hub_style_folder(folder: Path) -> Path:
    """The tiny model in the layout of an open_clip repo on the hub: open_clip_config.json
    + weights (also the layout of a model copy in DATA_DIR/models/<model>/<tag>/)."""
    import json

    config, weights = tiny_model_paths()
    folder.mkdir(parents=True, exist_ok=True)
    model_cfg = json.loads(config.read_text())
    (folder / "open_clip_config.json").write_text(
        json.dumps(
            {
                "model_cfg": model_cfg,
                "preprocess_cfg": {
                    "mean": [0.48145466, 0.4578275, 0.40821073],
                    "std": [0.26862954, 0.26130258, 0.27577711],
                },
            }
        )
    )
    (folder / "open_clip_model.safetensors").write_bytes(weights.read_bytes())
    return folder
