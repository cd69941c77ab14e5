"""One image file made ready for a model: read once, hashed, decoded small, preprocessed.

This is the work an ingest hands to its decode workers. It needs only PIL and numpy
(never torch), holds no shared state and releases the GIL in its heavy parts (file
reads, hashing, JPEG decoding and resizing in Pillow, numpy arithmetic), so several
run side by side in threads: beside a model on a GPU, between the batches of a model
on a CPU (see ``ingest.scheduling.takes_turns_with_decoding``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Container
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .decode import decode_image_bytes, describe_failure, read_image_header
from .errors import ImageDecodeError
from .frames import ANIMATION_SAMPLES

Preprocess = Callable[[Image.Image], np.ndarray]
"""A model's image preprocessing: upright RGB PIL image -> ``(3, H, W)`` float32."""


@dataclass
class PreparedImage:
    """What an ingest needs from one file.

    ``pixels`` (preprocessed) is set unless the content was already known (``known``):
    its vector is reused, so nothing was decoded. It is ``(3, H, W)``, or
    ``(F, 3, H, W)`` for the F frames sampled from an animation, whose vector is the
    mean of theirs (see ``frames``). ``frames`` counts the file's frames (1: a still).
    """

    sha256: str
    size_bytes: int
    width: int
    height: int
    pixels: np.ndarray | None = None
    known: bool = False
    frames: int = 1


MAX_ASPECT_RATIO = 16
"""Longer images are centre-cropped to this ratio before preprocessing.

CLIP's resize-shortest-side-then-centre-crop would first blow a 1x5000 spacer GIF
up to 224x1120000 pixels (750 MB); cropping the middle first keeps the same centre
square and bounds the memory.
"""


def limit_aspect_ratio(image: Image.Image, ratio: int = MAX_ASPECT_RATIO) -> Image.Image:
    width, height = image.size
    if width > ratio * height:
        keep = ratio * height
        left = (width - keep) // 2
        return image.crop((left, 0, left + keep, height))
    if height > ratio * width:
        keep = ratio * width
        top = (height - keep) // 2
        return image.crop((0, top, width, top + keep))
    return image


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def prepare_image_file(
    path: str | os.PathLike[str],
    *,
    preprocess: Preprocess,
    min_side: int | None,
    known_hashes: Container[str] = (),
    samples: int = ANIMATION_SAMPLES,
) -> PreparedImage:
    """Read, hash, decode and preprocess ``path``.

    ``min_side`` lets big JPEGs decode at reduced scale (see ``decode_image_bytes``).
    Content whose hash is in ``known_hashes`` is not decoded, only its header read.
    ``samples``: frames of an animation preprocessed for its vector (1: its first
    frame that is not blank only). Raises ImageDecodeError with a one-line reason for
    any unusable file.
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        raise ImageDecodeError(describe_failure(exc)) from exc
    digest = hash_bytes(data)
    if digest in known_hashes:
        return prepare_known_file(path, digest, len(data))
    return prepare_image_bytes(
        data,
        digest,
        preprocess=preprocess,
        min_side=min_side,
        extension=os.path.splitext(path)[1],
        samples=samples,
    )


def prepare_known_file(path: str | os.PathLike[str], digest: str, size: int) -> PreparedImage:
    """A file whose content is stored already: its header facts, no pixels."""
    width, height, frames = read_image_header(path)
    return PreparedImage(digest, size, width, height, known=True, frames=frames)


def prepare_image_bytes(
    data: bytes,
    digest: str,
    *,
    preprocess: Preprocess,
    min_side: int | None,
    extension: str | None = None,
    samples: int = ANIMATION_SAMPLES,
) -> PreparedImage:
    """Decode and preprocess a file's bytes (hashed to ``digest``) on the CPU; any
    unusable file is an ImageDecodeError. ``extension`` is the file's (it picks the
    decoder, see ``decode_image_bytes``)."""
    size_bytes = len(data)
    decoded = decode_image_bytes(data, min_side=min_side, extension=extension, samples=samples)
    prepared = PreparedImage(
        digest, size_bytes, decoded.width, decoded.height, frames=decoded.frames
    )
    pictures = decoded.samples or [decoded.image]
    try:
        inputs = [preprocess(limit_aspect_ratio(picture)) for picture in pictures]
        prepared.pixels = inputs[0] if len(inputs) == 1 else np.stack(inputs)
    except (ValueError, OSError, MemoryError) as exc:  # e.g. a 1-pixel-wide image
        raise ImageDecodeError(f"cannot prepare for the model: {exc}") from exc
    return prepared
