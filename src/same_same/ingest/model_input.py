"""How image files become model input for one embedder: the decode size, the
preprocessing each worker applies, where JPEGs are decoded, and the memory a
decoded file holds."""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from ..embedders import ImageEmbedder
from ..embedders.clip.preprocess import PreprocessConfig, preprocess_image
from ..errors import MissingDependencyError
from ..imaging import ImageDecodeError
from ..imaging.frames import ANIMATION_SAMPLES
from ..imaging.gpu_decode import DeviceJpegDecoder
from ..imaging.prepare import PreparedImage, Preprocess, prepare_image_file
from .options import GPU_DECODE_AUTO, GPU_DECODE_OFF


def draft_side(config: PreprocessConfig) -> int:
    """The side JPEGs are draft-decoded to for a model of ``config`` (its larger input side).

    libjpeg then decodes at the smallest of 1/8, 1/4, 1/2, 1/1 scale that keeps both
    sides at least this long (a 3000x2000 photo at 1/8: 375x250): several times
    faster, and the model's own resize still only ever shrinks.
    """
    return max(int(config.height), int(config.width))


def choose_decode_device(gpu_decode: str, model_device: str, torchvision: bool) -> str | None:
    """Where JPEGs are decoded for ``--gpu-decode`` (None: with PIL in the decode workers).

    ``auto``: on the model's GPU when it is a CUDA one and torchvision is installed;
    ``on``: on the model's CUDA GPU, else with torchvision on the CPU (the same code
    path, for checking it anywhere); ``off``: never.
    """
    if gpu_decode == GPU_DECODE_OFF:
        return None
    on_cuda = model_device.startswith("cuda")
    if gpu_decode == GPU_DECODE_AUTO:
        return model_device if on_cuda and torchvision else None
    if not torchvision:
        raise MissingDependencyError("--gpu-decode on", "clip")
    return model_device if on_cuda else "cpu"


def torchvision_installed() -> bool:
    return importlib.util.find_spec("torchvision") is not None


@dataclass(frozen=True)
class ModelInput:
    """What the decode workers produce for ``embedder``, and how a batch is embedded."""

    embedder: ImageEmbedder
    preprocess: Preprocess
    min_side: int
    item_bytes: int
    """Memory one decoded file holds until it is embedded (sizes the read-ahead)."""
    device_decoder: DeviceJpegDecoder | None = None
    """Decodes JPEGs on a device in batches (None: every file with PIL in the workers)."""

    @classmethod
    def for_embedder(cls, embedder: ImageEmbedder, gpu_decode: str = GPU_DECODE_OFF) -> ModelInput:
        config = embedder.preprocess_config
        preprocess = functools.partial(preprocess_image, config=config)
        min_side = draft_side(config)
        decoder = None
        device = (
            None
            if gpu_decode == GPU_DECODE_OFF
            else choose_decode_device(gpu_decode, embedder.device, torchvision_installed())
        )
        if device is not None:
            from ..embedders.clip.tensor_preprocess import preprocess_tensors

            decoder = DeviceJpegDecoder(
                device, preprocess, functools.partial(preprocess_tensors, config=config), min_side
            )
        return cls(
            embedder=embedder,
            preprocess=preprocess,
            min_side=min_side,
            item_bytes=4 * int(np.prod(config.shape)),
            device_decoder=decoder,
        )

    def prepare(
        self, path: str | os.PathLike[str], known_hashes: AbstractSet[str]
    ) -> PreparedImage:
        """A decode worker's work on one file; any failure is an ImageDecodeError."""
        decoder = self.device_decoder
        if decoder is None:
            return prepare_for_model(path, self.preprocess, self.min_side, known_hashes)
        try:
            return decoder.prepare(path, known_hashes)
        except ImageDecodeError:
            raise
        except Exception as exc:  # noqa: BLE001 - one odd file must not end the ingest
            raise ImageDecodeError(f"cannot prepare image ({type(exc).__name__}: {exc})") from exc

    def finish(self, prepared: Sequence[PreparedImage]) -> dict[int, str]:
        """Decode what the workers left for the device; the reason for each unusable one."""
        if self.device_decoder is None:
            return {}
        return self.device_decoder.finish(prepared)

    def embed(self, prepared: Sequence[PreparedImage]) -> np.ndarray:
        """One vector per file; an animation's is the mean of its sampled frames'."""
        pixels = [p.pixels for p in prepared if p.pixels is not None]
        assert len(pixels) == len(prepared), "every file was preprocessed"
        if all(item.ndim == 3 for item in pixels):
            return self.embedder.embed_preprocessed(np.stack(pixels))
        counts = [1 if item.ndim == 3 else len(item) for item in pixels]
        rows = np.concatenate([item[np.newaxis] if item.ndim == 3 else item for item in pixels])
        return average_frames(self.embedder.embed_preprocessed(rows), counts)


def average_frames(vectors: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """One unit-length row per file from ``counts[i]`` consecutive rows of frame vectors.

    The mean of unit vectors is shorter than one (the more the frames differ, the
    shorter); made unit length again it scores like any other record's vector. A
    mean that comes out zero is left so: ingest refuses unusable vectors.
    """
    ends = np.cumsum(counts)
    means = np.stack(
        [vectors[end - count : end].mean(axis=0) for end, count in zip(ends, counts, strict=True)]
    )
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return (means / np.where(norms > 0, norms, 1.0)).astype(vectors.dtype, copy=False)


def prepare_for_model(
    path: str | os.PathLike[str],
    preprocess: Preprocess,
    min_side: int,
    known_hashes: AbstractSet[str],
    samples: int = ANIMATION_SAMPLES,
) -> PreparedImage:
    """Read, hash, decode and preprocess one file with PIL; any failure is an ImageDecodeError.

    ``samples``: frames of an animation preprocessed (see ``imaging.frames``)."""
    try:
        return prepare_image_file(
            path,
            preprocess=preprocess,
            min_side=min_side,
            known_hashes=known_hashes,
            samples=samples,
        )
    except ImageDecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - one odd file must not end the ingest
        raise ImageDecodeError(f"cannot prepare image ({type(exc).__name__}: {exc})") from exc
