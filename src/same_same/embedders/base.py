"""The embedder contract: what ingest and search may ask of an embedder, and nothing more.

Two protocols name every member a caller uses: :class:`Embedder` (text) and
:class:`ImageEmbedder` (text and images in one space). Callers depend on these,
never on a concrete class, and never probe for attributes; mypy checks the seam.
:class:`EmbedderBase` and :class:`ImageEmbedderBase` are optional helpers that fill
in the members derived from the few each embedder must write itself.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeGuard, Union

import numpy as np

from ..errors import InvalidInputError
from ..limits import TOKENIZER_PREFIX_CHARS
from ..records import EmbeddingSpace, NamespaceInfo

if TYPE_CHECKING:
    from PIL import Image

    from .clip.preprocess import PreprocessConfig

ImageInput = Union[str, "os.PathLike[str]", bytes, "Image.Image"]
"""What the image methods take: a file path, the bytes of an image file, or a PIL image."""

DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True)
class EmbedderOptions:
    """Everything the CLI, the server or a Python caller may pass to an embedder factory.

    ``model``/``pretrained``: None means "the embedder's default". ``batch_size``:
    None means the embedder picks one for its device. ``data_dir``: the store's data
    directory; model copies (``models/``) and exported models (``onnx/``) live there
    (None: the default data directory). ``backend``: an inference backend by name
    (clip: torch, onnx, onnx-int8). ``dim``: for embedders whose size is a setting
    (``local``), the size to build. ``quiet``: no progress output of the embedder's
    own libraries (model downloads, loading bars).
    """

    model: str | None = None
    pretrained: str | None = None
    device: str = "auto"
    backend: str | None = None
    batch_size: int | None = None
    data_dir: Path | None = None
    dim: int | None = None
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.batch_size is not None and (
            isinstance(self.batch_size, bool)
            or not isinstance(self.batch_size, int)
            or self.batch_size < 1
        ):
            raise InvalidInputError(f"batch size must be at least 1, got {self.batch_size!r}")
        if self.data_dir is not None and not isinstance(self.data_dir, Path):
            object.__setattr__(self, "data_dir", Path(self.data_dir))


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of one embedding space."""

    @property
    def name(self) -> str:
        """Registry name, e.g. ``local`` or ``clip``."""
        ...

    @property
    def space(self) -> EmbeddingSpace:
        """The identity recorded in each namespace this embedder writes."""
        ...

    @property
    def supports_images(self) -> bool:
        """True for an :class:`ImageEmbedder`."""
        ...

    @property
    def batch_size(self) -> int:
        """Items per forward pass (and per committed batch of an ingest)."""
        ...

    @property
    def writer(self) -> str | None:
        """What a namespace records as having written the vectors stored from this
        embedder: its inference backend (clip: ``torch``, ``onnx``, ``onnx-int8``), or
        None for embedders with one way of running."""
        ...

    def follow_namespace(self, info: NamespaceInfo) -> None:
        """Before storing into ``info``: keep to the precision its writers used (clip's
        ``auto`` picks a backend of that class), or refuse (SpaceMismatchError)."""
        ...

    def load(self) -> None:
        """Load the weights now, so a missing model fails before anything is written."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32, each row L2-normalised."""
        ...

    def embed(self, text: str) -> np.ndarray:
        """One text to one vector."""
        ...


class ImageEmbedder(Embedder, Protocol):
    """An embedder whose images and texts share one space (CLIP)."""

    @property
    def device(self) -> str:
        """Where the model runs (or will run): ``cpu``, ``cuda``, ``cuda:1``, ``mps``."""
        ...

    @property
    def wants_cores_to_itself(self) -> bool:
        """Whether work on other threads should pause while the model runs (a CPU model)."""
        ...

    @property
    def preprocess_config(self) -> PreprocessConfig:
        """How ``preprocess_image`` prepares pixels for ``embed_preprocessed``; loads nothing."""
        ...

    def embed_preprocessed(self, batch: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` float32 from ``preprocess_image`` to ``(N, dim)`` unit vectors."""
        ...

    def embed_images(self, images: Sequence[ImageInput]) -> np.ndarray:
        """``(len(images), dim)`` unit vectors from paths, file bytes or PIL images."""
        ...

    def embed_image(self, image: ImageInput) -> np.ndarray:
        """One image (path, file bytes or PIL image) to one vector."""
        ...


def is_image_embedder(embedder: Embedder) -> TypeGuard[ImageEmbedder]:
    return embedder.supports_images


class EmbedderBase(ABC):
    """Fills in ``embed``, ``load`` and ``batch_size`` for a text embedder."""

    name: str = ""
    supports_images: bool = False

    @property
    @abstractmethod
    def space(self) -> EmbeddingSpace: ...

    @property
    def batch_size(self) -> int:
        return DEFAULT_BATCH_SIZE

    @property
    def writer(self) -> str | None:
        return None

    def follow_namespace(self, info: NamespaceInfo) -> None:  # noqa: B027 - one backend
        """Nothing to follow: an embedder with one backend writes one kind of vector."""

    def load(self) -> None:  # noqa: B027 - nothing to load for model-free embedders
        """Nothing to load."""

    @abstractmethod
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed(self, text: str) -> np.ndarray:
        result: np.ndarray = self.embed_texts([text])[0]
        return result


class ImageEmbedderBase(EmbedderBase):
    """Fills in ``embed_images`` and ``embed_image`` from ``preprocess_config`` and
    ``embed_preprocessed``."""

    supports_images = True

    @property
    @abstractmethod
    def preprocess_config(self) -> PreprocessConfig: ...

    @abstractmethod
    def embed_preprocessed(self, batch: np.ndarray) -> np.ndarray: ...

    def embed_images(self, images: Sequence[ImageInput]) -> np.ndarray:
        from .clip.preprocess import preprocess_images

        if isinstance(images, (str, bytes, os.PathLike)) or _is_pil_image(images):
            raise TypeError("embed_images takes a list of images; use embed_image() for one")
        config = self.preprocess_config
        parts = [np.zeros((0, self.space.dim), dtype=np.float32)]
        for start in range(0, len(images), self.batch_size):
            chunk = [open_image_input(item) for item in images[start : start + self.batch_size]]
            parts.append(self.embed_preprocessed(preprocess_images(chunk, config)))
        return np.concatenate(parts, axis=0)

    def embed_image(self, image: ImageInput) -> np.ndarray:
        result: np.ndarray = self.embed_images([image])[0]
        return result


def open_image_input(image: ImageInput) -> Image.Image:
    """A path, the bytes of an image file or a PIL image as an upright RGB PIL image.

    TypeError for anything else; ImageDecodeError for a file that is not a usable image.
    """
    from ..imaging import decode_image_bytes, load_image

    if _is_pil_image(image):
        from ..imaging.color import convert_to_rgb

        return convert_to_rgb(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image_bytes(bytes(image)).image
    if isinstance(image, (str, os.PathLike)):
        return load_image(Path(image))
    raise TypeError(
        f"an image is a file path, the bytes of an image file or a PIL image, "
        f"not {type(image).__name__}"
    )


def _is_pil_image(value: object) -> TypeGuard[Image.Image]:
    from PIL import Image

    return isinstance(value, Image.Image)


def cut_for_tokenizer(text: str) -> str:
    """The start of ``text`` a 77-token tokenizer needs (``limits.TOKENIZER_PREFIX_CHARS``).

    The vector of a normal text does not change; the tokenizer no longer reads, nor pays
    for, what lies beyond the tokens the model sees.
    """
    return text if len(text) <= TOKENIZER_PREFIX_CHARS else text[:TOKENIZER_PREFIX_CHARS]
