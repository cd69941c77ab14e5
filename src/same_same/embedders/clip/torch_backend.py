"""Running a CLIP model with PyTorch: loading it once per process, encoding batches.

``TorchCLIP`` is a ``runner.CLIPBackend``, like the ONNX backend's runner.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ModelUnavailableError, SameSameError
from .batch_fitting import FittingBatches
from .device import is_out_of_memory, out_of_memory_error, precision_for
from .names import ModelChoice
from .preprocess import PreprocessConfig
from .staging import HostStaging
from .text import encode_text_tokens
from .tokenizers import load_clip_tokenizer
from .weights import (
    HUB_SAFE_WEIGHTS_NAME,
    HUB_WEIGHTS_NAME,
    fetch_hub_file,
    first_line,
    locate_tag_weights,
)

# random initialisation is seeded so "--clip-pretrain none" means the same model in
# every process, and a namespace written with it can still be queried
RANDOM_INIT_SEED = 0


class TorchCLIP:
    """An open_clip model on one device, in eval mode, with its tokenizer."""

    def __init__(
        self, model: Any, tokenizer: Any, device: str, preprocess: PreprocessConfig, label: str
    ) -> None:
        import torch

        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.preprocess = preprocess
        self.label = label
        self.dtype = torch.float16 if precision_for(device) == "fp16" else torch.float32
        self.staging = HostStaging(device, self.dtype)
        # an out-of-memory halves the batch and the smaller size is kept (batch_fitting)
        self.image_batches = FittingBatches(device, label)
        self.text_batches = FittingBatches(device, label)
        # the staging buffer is reused: one batch at a time passes through it
        self._staging_lock = threading.Lock() if self.staging.buffered else None

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        tokens = self.tokenizer(list(texts))

        def encode_rows(start: int, stop: int) -> np.ndarray:
            with torch.inference_mode():
                features = encode_text_tokens(self.model, tokens[start:stop].to(self.device))
            return features.float().cpu().numpy()

        return self.text_batches.encode(encode_rows, len(texts))

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        encode_rows = functools.partial(self._encode_rows, pixels)
        with self._staging_lock or contextlib.nullcontext():
            return self.image_batches.encode(encode_rows, len(pixels))

    def _encode_rows(self, pixels: np.ndarray, start: int, stop: int) -> np.ndarray:
        import torch

        with torch.inference_mode():
            features = self.model.encode_image(self.staging.to_device(pixels[start:stop]))
            # reading the features back waits for the copy out of the staging buffer
            return features.float().cpu().numpy()

    def open_image_tower(self) -> None:
        """Nothing to do: one torch model holds both towers, loaded already."""


_LOADED: dict[tuple[str, ...], TorchCLIP] = {}
_LOAD_LOCK = threading.Lock()


def load_torch_clip(
    choice: ModelChoice, device: str, batch_size: int = 32, models_folder: Path | None = None
) -> TorchCLIP:
    """The model of ``choice`` on ``device``, built on first use and then shared.

    ``models_folder``: where imported tokenizers are looked for (``tokenizers``)."""
    key = (*choice.identity, device)
    with _LOAD_LOCK:
        loaded = _LOADED.get(key)
        if loaded is None:
            loaded = _build(choice, device, batch_size, models_folder)
            _LOADED[key] = loaded
        return loaded


def build_torch_clip(choice: ModelChoice, device: str = "cpu") -> TorchCLIP:
    """A fresh model of ``choice``, not shared and not kept, without a tokenizer (for an
    ONNX export, which needs the towers only)."""
    return _build(choice, device, batch_size=1, models_folder=None, with_tokenizer=False)


def _build(
    choice: ModelChoice,
    device: str,
    batch_size: int,
    models_folder: Path | None,
    with_tokenizer: bool = True,
) -> TorchCLIP:
    import open_clip
    from open_clip.model import get_model_preprocess_cfg

    checkpoint = _locate_weights(choice)
    seeded = choice.weights == "random"
    try:
        with _quiet_open_clip_logging(), _seeded_rng(seeded):
            # first: a tokenizer that cannot be had fails before a large model is built
            tokenizer = load_clip_tokenizer(choice, models_folder) if with_tokenizer else None
            model = open_clip.create_model(
                choice.open_clip_name,
                pretrained=checkpoint,
                precision=precision_for(device),
                device=device,
                force_quick_gelu=choice.quick_gelu,
                force_preprocess_cfg=choice.preprocess_overrides or None,
                # the whole CLIP checkpoint is loaded; never fetch separate tower weights
                pretrained_text=False,
            )
    except SameSameError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated into one line for the user
        if is_out_of_memory(exc):
            raise out_of_memory_error(device, choice.describe(), batch_size) from None
        raise ModelUnavailableError(
            f"cannot load CLIP model {choice.describe()}: {first_line(exc)}"
        ) from exc
    model.eval()
    model.requires_grad_(False)
    preprocess = PreprocessConfig.from_open_clip(get_model_preprocess_cfg(model))
    return TorchCLIP(model, tokenizer, device, preprocess, choice.describe())


def _locate_weights(choice: ModelChoice) -> str | None:
    """A local checkpoint path for create_model, or None (random, or the folder has it)."""
    import open_clip

    if choice.weights == "tag":
        cfg = open_clip.get_pretrained_cfg(choice.open_clip_name, choice.pretrained)
        return locate_tag_weights(choice.open_clip_name, choice.pretrained, dict(cfg))
    if choice.weights == "file":
        return choice.weights_file
    if choice.hub_repo:
        # lands next to the already fetched open_clip_config.json, where local-dir: looks
        fetch_hub_file(
            choice.hub_repo, [HUB_SAFE_WEIGHTS_NAME, HUB_WEIGHTS_NAME], f"weights {choice.model}"
        )
    return None


@contextlib.contextmanager
def _seeded_rng(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        yield


@contextlib.contextmanager
def _quiet_open_clip_logging() -> Iterator[None]:
    """open_clip logs through the root logger's module functions, which install a
    stderr handler (``basicConfig``) when none exists and then print "No pretrained
    weights loaded" style lines into the CLI's output. A temporary NullHandler keeps
    the root logger configured as the application left it."""
    root = logging.getLogger()
    if root.handlers:
        yield
        return
    handler = logging.NullHandler()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
