"""JPEG decoding on the model's device: ``torchvision.io.decode_jpeg`` on batches of files.

With the model on a CUDA GPU, decoding is what the CPU cores spend an ingest on. For
JPEGs that a GPU decodes exactly as the PIL path would, the decode workers only
read and hash the file and check its header (``prepare``); the files are then
decoded in batches on the device and preprocessed there with torch ops (``finish``).
Everything else takes the PIL path in the worker, under the same rules:

* not a plain JPEG (PNG, WebP, ..., a multi-picture MPO), a colour mode other than
  YCbCr/RGB (greyscale, CMYK), a progressive JPEG, an EXIF orientation other than
  upright, an extreme aspect ratio, too many pixels, or a file that does not end
  with the JPEG end marker (a truncated file): the worker decodes it with PIL;
* a batch the device refuses is decoded file by file on the device, and a file it
  still refuses is decoded with PIL, whose reason ("corrupt image data", ...) then
  becomes the usual "skipping FILE: REASON".

torch and torchvision are imported late: ``finish`` runs only when a caller chose
this path (``device="cpu"`` runs the same code on the CPU, as the tests do).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .decode import MAX_IMAGE_PIXELS, describe_failure
from .errors import ImageDecodeError
from .prepare import (
    MAX_ASPECT_RATIO,
    PreparedImage,
    Preprocess,
    hash_bytes,
    prepare_image_bytes,
    prepare_known_file,
)

PreprocessTensors = Callable[[Sequence[Any]], Any]
"""``(3, h, w)`` uint8 tensors on the device -> one ``(N, 3, H, W)`` float32 batch."""

DEVICE_DECODE_CHUNK = 64
"""Files per ``decode_jpeg`` call: their full-size pixels are on the device together
(64 x 12 MP x 3 bytes = 2.3 GB at most)."""
DEVICE_DECODE_MAX_PIXELS = 12_000_000
"""Bigger JPEGs decode on the CPU, where libjpeg's reduced-scale draft decoding of a
24-megapixel photo is faster than a full-size decode anywhere."""
_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_ORIENTATION_TAG = 0x0112


@dataclass
class DeferredJpeg(PreparedImage):
    """A JPEG read and hashed, whose decoding waits for a batch on the device."""

    data: bytes = b""


def device_decodable_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` when the device decodes ``data`` as the PIL path would, else None."""
    if not data.startswith(_JPEG_START) or not data.endswith(_JPEG_END):
        return None
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG",)) as image:
            if image.format != "JPEG" or image.mode != "RGB":
                return None
            if image.info.get("progressive") or image.info.get("progression"):
                return None
            if image.getexif().get(_ORIENTATION_TAG, 1) != 1:
                return None
            width, height = image.size
    except Exception:  # noqa: BLE001 - anything odd takes the PIL path, which says why
        return None
    short, long = min(width, height), max(width, height)
    if short < 2 or long > MAX_ASPECT_RATIO * short:
        return None
    if width * height > min(DEVICE_DECODE_MAX_PIXELS, MAX_IMAGE_PIXELS):
        return None
    return width, height


@dataclass(frozen=True)
class DeviceJpegDecoder:
    """Decodes the JPEGs of an ingest on ``device``; the rest on the CPU with ``preprocess``."""

    device: str
    preprocess: Preprocess
    """The PIL path's preprocessing, for the files the device does not take."""
    preprocess_tensors: PreprocessTensors
    min_side: int

    def prepare(
        self, path: str | os.PathLike[str], known_hashes: Container[str] = ()
    ) -> PreparedImage:
        """A decode worker's part: read and hash; a device JPEG is left for ``finish``."""
        try:
            with open(path, "rb") as stream:
                data = stream.read()
        except OSError as exc:
            raise ImageDecodeError(describe_failure(exc)) from exc
        digest = hash_bytes(data)
        if digest in known_hashes:
            return prepare_known_file(path, digest, len(data))
        size = device_decodable_size(data)
        if size is None:
            return prepare_image_bytes(
                data,
                digest,
                preprocess=self.preprocess,
                min_side=self.min_side,
                extension=os.path.splitext(path)[1],
            )
        return DeferredJpeg(digest, len(data), size[0], size[1], data=data)

    def finish(self, prepared: Sequence[PreparedImage]) -> dict[int, str]:
        """Decode the deferred JPEGs among ``prepared`` into their ``pixels``, in batches.

        Returns the reason for each position whose file turned out unusable.
        """
        failed: dict[int, str] = {}
        deferred = [
            (index, item) for index, item in enumerate(prepared) if isinstance(item, DeferredJpeg)
        ]
        for start in range(0, len(deferred), DEVICE_DECODE_CHUNK):
            chunk = deferred[start : start + DEVICE_DECODE_CHUNK]
            for (index, item), result in zip(
                chunk, self._decode_chunk([item for _, item in chunk]), strict=True
            ):
                if isinstance(result, str):
                    failed[index] = result
                else:
                    item.pixels = result
                item.data = b""  # the compressed bytes are not needed any more
        return failed

    def _decode_chunk(self, items: Sequence[DeferredJpeg]) -> list[np.ndarray | str]:
        batch = self._decode_on_device(items)
        if batch is not None:
            return list(batch)
        # one bad file fails the whole call: each file on its own, then with PIL
        return [self._decode_one(item) for item in items]

    def _decode_one(self, item: DeferredJpeg) -> np.ndarray | str:
        batch = self._decode_on_device([item])
        if batch is not None:
            return np.asarray(batch[0])
        try:
            cpu = prepare_image_bytes(
                item.data, item.sha256, preprocess=self.preprocess, min_side=self.min_side
            )
        except ImageDecodeError as exc:
            return exc.reason
        except Exception as exc:  # noqa: BLE001 - one odd file must not end the ingest
            return f"cannot prepare image ({type(exc).__name__}: {exc})"
        assert cpu.pixels is not None
        return cpu.pixels

    def _decode_on_device(self, items: Sequence[DeferredJpeg]) -> np.ndarray | None:
        """``(N, 3, H, W)`` float32 on the host, or None when the device refused a file."""
        import torch
        from torchvision.io import ImageReadMode, decode_jpeg

        encoded = [
            torch.from_numpy(np.frombuffer(item.data, dtype=np.uint8).copy()) for item in items
        ]
        try:
            with torch.inference_mode():
                images = decode_jpeg(encoded, mode=ImageReadMode.RGB, device=self.device)
                return np.asarray(self.preprocess_tensors(images).cpu().numpy())
        except Exception:  # noqa: BLE001 - corrupt data, or no room on the device: retried
            return None
