"""What every CLIP backend shares: the settings a loader gets and the runner it returns.

Kept apart from the registry (``backends``) and from the backends themselves, so a
backend module imports only this and the registry imports the backends late.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .preprocess import PreprocessConfig

ONNX_FOLDER = "onnx"
"""Exported models, auto's checks and remembered model resolutions live in DATA_DIR/onnx."""
ONNX_DIR_ENV = "SAME_SAME_ONNX_DIR"
"""Another folder for them, e.g. one shared by several data directories (the tests use one)."""


@dataclass(frozen=True)
class BackendSettings:
    """What a loader needs besides the model: where to run it and where to keep files.

    ``data_dir``: the store's data directory; exported models go to its ``onnx``
    folder (None: the default data directory), or to ``$SAME_SAME_ONNX_DIR`` when set.
    """

    device: str = "auto"
    batch_size: int = 32
    data_dir: Path | None = None

    @property
    def onnx_dir(self) -> Path:
        shared = os.environ.get(ONNX_DIR_ENV, "").strip()
        if shared:
            return Path(shared).expanduser()
        if self.data_dir is not None:
            return Path(self.data_dir) / ONNX_FOLDER
        from ...config import default_data_dir

        return default_data_dir() / ONNX_FOLDER

    @property
    def models_folder(self) -> Path:
        """Local model copies and imported tokenizers (``names.models_dir``)."""
        from .model_folders import models_dir

        return models_dir(self.data_dir)


class CLIPBackend(Protocol):
    """A loaded CLIP model: token-free inputs in, raw (unnormalised) float32 features out.

    The embedder does batching and normalisation.
    """

    @property
    def device(self) -> str: ...

    @property
    def preprocess(self) -> PreprocessConfig: ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray: ...

    def open_image_tower(self) -> None:
        """Get the image side ready now (an ingest does it while its first files decode)."""
        ...
