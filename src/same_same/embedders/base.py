"""The embedder interface: text (and, for multimodal models, images) to unit vectors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UnsupportedModalityError
from ..records import EmbeddingSpace

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class EmbedderOptions:
    """Everything the CLI or the server may pass to an embedder factory.

    ``model``/``pretrained`` of None mean "the embedder's default".
    """

    model: str | None = None
    pretrained: str | None = None
    device: str = "auto"
    backend: str | None = None
    batch_size: int = 32
    extra: tuple[tuple[str, Any], ...] = ()


class Embedder(ABC):
    """Turns content into L2-normalised float32 vectors of one embedding space."""

    #: registry name, e.g. ``local`` or ``clip``
    name: str = ""
    #: True when ``embed_images`` works
    supports_images: bool = False

    @property
    @abstractmethod
    def space(self) -> EmbeddingSpace:
        """The identity recorded in each namespace this embedder writes."""

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Load weights now, so a missing model fails before anything is written."""

    @abstractmethod
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32, each row L2-normalised."""

    def embed(self, text: str) -> np.ndarray:
        """One text to one vector."""
        return self.embed_texts([text])[0]

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """``(len(images), dim)`` float32 from decoded RGB PIL images."""
        raise UnsupportedModalityError(
            f"embedder {self.name!r} embeds text only",
            hint="use -e clip for images",
        )

    def embed_image(self, path: str | Path) -> np.ndarray:
        """One image file to one vector (EXIF orientation applied)."""
        from ..imaging import load_image

        return self.embed_images([load_image(Path(path))])[0]

    def embed_image_files(self, paths: Sequence[str | Path]) -> np.ndarray:
        from ..imaging import load_image

        return self.embed_images([load_image(Path(p)) for p in paths])


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """L2-normalise each row; all-zero rows stay zero."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)
