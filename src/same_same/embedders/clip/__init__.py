"""OpenCLIP embedder (``-e clip``): text and images in one vector space.

Importing this package does not import torch or open_clip; they load with the first
``CLIPEmbedder``. ``preprocess_image`` and ``PreprocessConfig`` need only PIL and
numpy: the ingest's decode threads run them without loading a model.
"""

from __future__ import annotations

from .device import DeviceOutOfMemoryError
from .embedder import MODEL_ENV, PRETRAINED_ENV, CLIPEmbedder, ensure_clip_installed
from .names import (
    DEFAULT_MODEL,
    DEFAULT_PRETRAINED,
    TINY_MODEL_NAME,
    ModelChoice,
    resolve_model_choice,
    tiny_model_paths,
)
from .preprocess import PreprocessConfig, preprocess_image, preprocess_images

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PRETRAINED",
    "MODEL_ENV",
    "PRETRAINED_ENV",
    "TINY_MODEL_NAME",
    "CLIPEmbedder",
    "DeviceOutOfMemoryError",
    "ModelChoice",
    "PreprocessConfig",
    "ensure_clip_installed",
    "preprocess_image",
    "preprocess_images",
    "resolve_model_choice",
    "tiny_model_paths",
]
