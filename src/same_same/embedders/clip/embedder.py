"""The OpenCLIP embedder: text and images into one vector space.

>>> embedder = CLIPEmbedder("ViT-B-32", "openai")     # doctest: +SKIP
>>> text_vec = embedder.embed("a photo of a cat")      # doctest: +SKIP
>>> image_vec = embedder.embed_image("./cat.jpg")      # doctest: +SKIP
>>> float(text_vec @ image_vec)                        # doctest: +SKIP

Constructing one is cheap: names are validated and the space (with its dimension)
is known at once, but the weights are loaded on the first ``embed*`` call (or
``load()``), once per process, and shared by every embedder of the same model.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ...errors import InvalidInputError, MissingDependencyError, UnknownNameError
from ...records import EmbeddingSpace
from ..base import Embedder, EmbedderOptions, normalize_rows
from .device import check_device_name
from .names import DEFAULT_MODEL, ModelChoice, default_pretrained_for, resolve_model_choice
from .preprocess import PreprocessConfig, preprocess_images

if TYPE_CHECKING:
    from PIL import Image

    from .torch_backend import CLIPBackend

MODEL_ENV = "SAME_SAME_CLIP_MODEL"
PRETRAINED_ENV = "SAME_SAME_CLIP_PRETRAIN"
BACKENDS = ("torch",)
REQUIRED_MODULES = ("torch", "torchvision", "open_clip")


def ensure_clip_installed() -> None:
    """MissingDependencyError unless the [clip] extra is importable (imports nothing)."""
    for module in REQUIRED_MODULES:
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError("-e clip", "clip")


class CLIPEmbedder(Embedder):
    """An OpenCLIP model as an embedder; vectors are L2-normalised float32.

    ``model``: an open_clip architecture (``ViT-B-32``), ``hf-hub:org/repo``, a model
    folder, a model config ``.json`` or ``same-same-tiny-clip``. ``pretrained``: a tag
    of that architecture (``openai``), a local checkpoint file, or ``none`` for seeded
    random weights; None means ``openai`` (the bundled weights for the tiny model).
    ``device``: ``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda``, ``cuda:N``, ``mps``.
    """

    name = "clip"
    supports_images = True

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        pretrained: str | None = None,
        device: str = "auto",
        batch_size: int = 32,
        backend: str | None = None,
    ) -> None:
        ensure_clip_installed()
        if backend not in (None, *BACKENDS):
            raise UnknownNameError("CLIP backend", str(backend), list(BACKENDS))
        if batch_size < 1:
            raise InvalidInputError(f"batch size must be at least 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.backend_name = backend or "torch"
        self.requested_device = check_device_name(device)
        self.choice: ModelChoice = resolve_model_choice(model, pretrained)
        self._space = EmbeddingSpace(
            embedder=self.name,
            model=self.choice.model,
            pretrained=self.choice.pretrained,
            dim=self.choice.embed_dim,
        )
        self._backend: CLIPBackend | None = None

    @classmethod
    def from_options(cls, options: EmbedderOptions) -> CLIPEmbedder:
        """Model and weights from options, else $SAME_SAME_CLIP_MODEL/$SAME_SAME_CLIP_PRETRAIN."""
        model = options.model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
        pretrained = (
            options.pretrained
            or os.environ.get(PRETRAINED_ENV)
            or default_pretrained_for(model)
        )
        return cls(
            model=model,
            pretrained=pretrained,
            device=options.device,
            batch_size=options.batch_size,
            backend=options.backend,
        )

    @property
    def space(self) -> EmbeddingSpace:
        return self._space

    @property
    def dim(self) -> int:
        return self._space.dim

    @property
    def device(self) -> str:
        """The device the model runs (or will run) on, e.g. ``cuda`` or ``cpu``."""
        if self._backend is not None:
            return self._backend.device
        from .device import resolve_device

        return resolve_device(self.requested_device)

    @property
    def preprocess_config(self) -> PreprocessConfig:
        """How images must be prepared for ``embed_preprocessed``; needs no weights.

        Picklable: hand it to worker processes that call ``preprocess_image``.
        """
        if self._backend is not None:
            return self._backend.preprocess
        return self.choice.preprocess

    @property
    def is_loaded(self) -> bool:
        return self._backend is not None

    @property
    def backend(self) -> CLIPBackend:
        """The loaded model runner (a ``TorchCLIP`` for the torch backend); loads it."""
        return self._load_backend()

    def load(self) -> CLIPEmbedder:
        """Load the weights now instead of on the first call (fails fast, e.g. offline)."""
        self._load_backend()
        return self

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise InvalidInputError("embed_texts takes a list of texts; use embed() for one")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        backend = self._load_backend()
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # texts of similar length share a batch, so each batch is cut short (see text.py)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = backend.encode_texts([texts[i] for i in rows])
        return normalize_rows(out)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        config = self._load_backend().preprocess
        parts = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            parts.append(self.embed_preprocessed(preprocess_images(chunk, config)))
        return np.concatenate(parts, axis=0)

    def embed_preprocessed(self, batch: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` float32 from ``preprocess_image`` to ``(N, dim)`` unit vectors."""
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim == 4 and len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        backend = self._load_backend()
        expected = backend.preprocess.shape
        if batch.ndim != 4 or tuple(batch.shape[1:]) != expected:
            raise InvalidInputError(
                f"preprocessed batch has shape {tuple(batch.shape)}; this model needs "
                f"(N, {', '.join(map(str, expected))})"
            )
        out = np.empty((len(batch), self.dim), dtype=np.float32)
        for start in range(0, len(batch), self.batch_size):
            out[start : start + self.batch_size] = backend.encode_pixels(
                batch[start : start + self.batch_size]
            )
        return normalize_rows(out)

    def _load_backend(self) -> CLIPBackend:
        if self._backend is None:
            from .device import resolve_device
            from .torch_backend import load_torch_clip

            device = resolve_device(self.requested_device)
            self._backend = load_torch_clip(self.choice, device, self.batch_size)
        return self._backend

    def __repr__(self) -> str:
        return (
            f"CLIPEmbedder({self.choice.model!r}, {self.choice.pretrained!r}, "
            f"device={self.requested_device!r}, batch_size={self.batch_size})"
        )
