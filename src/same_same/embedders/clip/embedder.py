"""The OpenCLIP embedder: text and images into one vector space.

>>> embedder = CLIPEmbedder("ViT-B-32", "openai")     # doctest: +SKIP
>>> text_vec = embedder.embed("a photo of a cat")      # doctest: +SKIP
>>> image_vec = embedder.embed_image("./cat.jpg")      # doctest: +SKIP (or bytes, or PIL)
>>> float(text_vec @ image_vec)                        # doctest: +SKIP

Constructing one is cheap: names are validated and the space (with its dimension)
is known at once, but the weights are loaded on the first ``embed*`` call (or
``load()``), once per process, and shared by every embedder of the same model.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import InvalidInputError, MissingDependencyError
from ...normalization import normalized_rows
from ...records import EmbeddingSpace, NamespaceInfo
from ...storage.writers import check_writer, namespace_precision, vector_precision
from ..base import (
    EmbedderOptions,
    ImageEmbedderBase,
    ImageInput,
    cut_for_tokenizer,
)
from .auto_backend import AUTO, resolve_auto_backend
from .backends import backend_device, check_backend_name, default_batch_size, load_clip_backend
from .batch_fitting import cuda_batch_size
from .device import check_device_name
from .names import DEFAULT_MODEL, ModelChoice, default_pretrained_for, resolve_model_choice
from .preprocess import PreprocessConfig
from .runner import BackendSettings, CLIPBackend

MODEL_ENV = "SAME_SAME_CLIP_MODEL"
PRETRAINED_ENV = "SAME_SAME_CLIP_PRETRAIN"
REQUIRED_MODULES = ("torch", "torchvision", "open_clip")


def ensure_clip_installed() -> None:
    """MissingDependencyError unless the [clip] extra is importable (imports nothing)."""
    for module in REQUIRED_MODULES:
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError("-e clip", "clip")


class CLIPEmbedder(ImageEmbedderBase):
    """An OpenCLIP model as an embedder; vectors are L2-normalised float32.

    ``model``: an open_clip architecture (``ViT-B-32``), ``hf-hub:org/repo``, a model
    folder, a model config ``.json`` or ``same-same-tiny-clip``. ``pretrained``: a tag
    of that architecture (``openai``), a local checkpoint file, or ``none`` for seeded
    random weights; None means ``openai`` (the bundled weights for the tiny model).
    ``device``: ``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda``, ``cuda:N``, ``mps``.
    ``batch_size``: None picks one for the device. ``backend``: ``auto``, ``torch``,
    ``onnx`` or ``onnx-int8`` (None: ``$SAME_SAME_CLIP_BACKEND``, else ``auto``: the
    fastest installed backend that passes its agreement check with torch, see
    ``auto_backend``); all give vectors of the same space. ``data_dir``: the store's
    data directory, whose ``models`` folder holds local model copies and whose ``onnx``
    folder keeps exported models (None: the default data directory).
    """

    name = "clip"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        pretrained: str | None = None,
        device: str = "auto",
        batch_size: int | None = None,
        backend: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        ensure_clip_installed()
        self.backend_name = check_backend_name(backend)
        if batch_size is not None and batch_size < 1:
            raise InvalidInputError(f"batch size must be at least 1, got {batch_size}")
        self._batch_size = None if batch_size is None else int(batch_size)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.requested_device = check_device_name(device)
        # The onnx backends never run torch: a cached resolution spares them importing it.
        settings = BackendSettings(data_dir=self.data_dir)
        choices_dir = settings.onnx_dir if self.backend_name != "torch" else None
        self._precision: str | None = None  # auto: the precision class of the namespace
        self._resolved: str | None = None if self.backend_name == AUTO else self.backend_name
        self.choice: ModelChoice = resolve_model_choice(
            model, pretrained, choices_dir, data_dir=self.data_dir
        )
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
            options.pretrained or os.environ.get(PRETRAINED_ENV) or default_pretrained_for(model)
        )
        return cls(
            model=model,
            pretrained=pretrained,
            device=options.device,
            batch_size=options.batch_size,
            backend=options.backend,
            data_dir=options.data_dir,
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
        return backend_device(self._resolved or self.backend_name, self.requested_device)

    @property
    def writer(self) -> str:
        """The concrete backend that embeds (``auto`` resolved), as namespaces record it."""
        if self._resolved is None:
            self._resolved = resolve_auto_backend(
                self.choice, self._settings(), self._precision
            ).backend
        return self._resolved

    def follow_namespace(self, info: NamespaceInfo) -> None:
        """Keep to the precision of what already wrote ``info``: ``auto`` picks a backend
        of that class; another backend of the other class is refused (SpaceMismatchError)."""
        precision = namespace_precision(info.writers)
        if precision is None:
            return
        if self.backend_name != AUTO:
            check_writer(info.name, info.writers, self.backend_name)
            return
        self._precision = precision
        if self._resolved is not None and vector_precision(self._resolved) != precision:
            self._resolved = None
            self._backend = None  # loaded for another class: resolve and load again

    @property
    def wants_cores_to_itself(self) -> bool:
        """Whether work on other threads should pause while this model runs (image ingest).

        Every backend on a CPU. torch splits each operator over all cores with OpenMP,
        whose threads wait for each other: a decode thread taking one core stalls them
        all. ONNX Runtime hands work to whichever thread is free and suffers less, but
        taking turns still measured faster (docs/performance-notes.md has the
        figures). A GPU needs no cores at all, so decoding runs beside it.
        """
        return self.device == "cpu"

    @property
    def batch_size(self) -> int:
        """Images or texts per forward pass: as given, else larger on a GPU than on a CPU
        (on CUDA, from the GPU's free memory: ``batch_fitting.cuda_batch_size``)."""
        if self._batch_size is None:
            device = self.device
            self._batch_size = default_batch_size(device)
            if device.startswith("cuda"):
                side = max(self.choice.preprocess.height, self.choice.preprocess.width)
                self._batch_size = cuda_batch_size(
                    self.choice.open_clip_name, side, device, self._batch_size
                )
        return self._batch_size

    @property
    def preprocess_config(self) -> PreprocessConfig:
        """How images must be prepared for ``embed_preprocessed``; needs no weights.

        Needs neither torch nor the weights: the ingest's decode threads call
        ``preprocess_image`` with it.
        """
        if self._backend is not None:
            return self._backend.preprocess
        return self.choice.preprocess

    @property
    def is_loaded(self) -> bool:
        return self._backend is not None

    @property
    def backend(self) -> CLIPBackend:
        """The loaded model runner (``TorchCLIP``, ``OnnxCLIP``); loads it."""
        return self._load_backend()

    def load(self) -> None:
        """Load the weights (and open an ONNX image session) now instead of on first use.

        Fails fast, e.g. offline. An image ingest calls it in a background thread while
        the first files decode.
        """
        self._load_backend().open_image_tower()

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
            # the tokenizer's cost grows with a text's length, the model reads 77 tokens
            out[rows] = backend.encode_texts([cut_for_tokenizer(texts[i]) for i in rows])
        return normalized_rows(out)

    def embed_images(self, images: Sequence[ImageInput]) -> np.ndarray:
        self._load_backend()  # the loaded model's own preprocessing, not the predicted one
        return super().embed_images(images)

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
        return normalized_rows(out)

    def _load_backend(self) -> CLIPBackend:
        if self._backend is None:
            self._backend = load_clip_backend(self.writer, self.choice, self._settings())
        return self._backend

    def _settings(self) -> BackendSettings:
        return BackendSettings(self.requested_device, self.batch_size, self.data_dir)

    def __repr__(self) -> str:
        return (
            f"CLIPEmbedder({self.choice.model!r}, {self.choice.pretrained!r}, "
            f"device={self.requested_device!r}, batch_size={self.batch_size}, "
            f"backend={self.backend_name!r})"
        )
