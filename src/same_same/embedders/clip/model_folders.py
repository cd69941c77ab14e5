"""The models folder: local copies of named CLIP models, found before any download.

``MODELS_DIR/<model>/<tag>/`` holds a named model with its pretrained tag
(``ViT-B-32/openai``), ``MODELS_DIR/hf-hub/<org>/<repo>/`` a hub model
(``hf-hub:org/repo``), each as the hub's open_clip repositories lay them out:
``open_clip_config.json``, the weights and, for models with a Hugging Face
tokenizer, its files. ``MODELS_DIR/tokenizers/<org>/<repo>/`` keeps tokenizers on
their own (``tokenizers``). ``MODELS_DIR`` is ``$SAME_SAME_MODELS_DIR``, else
``models`` in the data directory. ``same-same models import`` and ``models pull``
fill it; copying a folder there by hand works the same.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...config import default_data_dir
from .weights import HUB_CONFIG_NAME

MODELS_DIR_ENV = "SAME_SAME_MODELS_DIR"
HF_HUB_PREFIX = "hf-hub:"
HUB_FOLDER = "hf-hub"
RANDOM_WEIGHTS = ("none", "random")


def models_dir(data_dir: Path | None = None) -> Path:
    """Where local copies of named models live: ``$SAME_SAME_MODELS_DIR``, else
    ``models`` in ``data_dir`` (None: the default data directory)."""
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return (data_dir if data_dir is not None else default_data_dir()) / "models"


def local_model_folder(models_folder: Path, model: str, pretrained: str) -> Path:
    """Where ``model``/``pretrained`` (or ``hf-hub:org/repo``, without a tag) is kept."""
    if model.startswith(HF_HUB_PREFIX):
        repo_id = model[len(HF_HUB_PREFIX) :].strip("/")
        return models_folder / HUB_FOLDER / Path(*repo_id.split("/"))
    return models_folder / model.replace("/", "-") / pretrained


def find_local_model(model: str, pretrained: str, data_dir: Path | None = None) -> Path | None:
    """The models folder's copy of ``model``/``pretrained`` when it holds one, else None."""
    if not model.startswith(HF_HUB_PREFIX) and (
        not pretrained or pretrained in RANDOM_WEIGHTS or Path(pretrained).name != pretrained
    ):
        return None
    folder = local_model_folder(models_dir(data_dir), model, pretrained)
    return folder if (folder / HUB_CONFIG_NAME).is_file() else None
