"""Batches that fit the device: halving a batch that ran out of memory, and a batch size
chosen from a GPU's free memory.

A CUDA out-of-memory is answered the way the troubleshooting guide tells a person to:
a smaller batch. ``FittingBatches`` splits the batch that failed in halves (down to a
single item, which fails with the usual ``DeviceOutOfMemoryError`` and its hint),
remembers the size that fits for the batches that follow, and says so in one line on
stderr. Rows come back in their input order, none lost.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .device import is_out_of_memory, out_of_memory_error, release_cached_memory

EncodeRows = Callable[[int, int], np.ndarray]
"""Encodes rows ``start:stop`` of the caller's batch; ``(stop - start, dim)`` features."""

MEMORY_BATCH_CAP = 512
"""Above this a GPU is no busier (ViT-B-32 in fp16 saturates an H100 well before), and
each committed batch, and the read-ahead of decoded pixels, only get longer."""
MEMORY_SHARE = 0.5
"""The part of the free memory the activations of one batch may take: room for the
allocator's fragmentation, the weights (when measured before loading) and whatever
else shares the GPU."""
HALF_PRECISION_BYTES = 2
ACTIVATION_SLACK = 2
"""The estimate below counts the tensors alive in one transformer block at once;
layer norms upcast to fp32 and the allocator rounds up, so twice that is budgeted."""


def tell_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class FittingBatches:
    """Runs a batch through ``encode`` in pieces the device can hold."""

    def __init__(
        self, device: str, label: str, tell: Callable[[str], None] = tell_on_stderr
    ) -> None:
        self.device = device
        self.label = label
        self.tell = tell
        self.fitting: int | None = None
        """The largest piece known to fit since a batch ran out of memory (None: any)."""

    def encode(self, encode_rows: EncodeRows, count: int) -> np.ndarray:
        """All ``count`` rows, in order, in pieces of at most ``fitting`` rows."""
        parts: list[np.ndarray] = []
        start = 0
        while start < count:
            stop = min(count, start + (self.fitting or count))
            parts.extend(self._encode_piece(encode_rows, start, stop))
            start = stop
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _encode_piece(self, encode_rows: EncodeRows, start: int, stop: int) -> list[np.ndarray]:
        size = stop - start
        try:
            return [encode_rows(start, stop)]
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
        # outside the except block: the error's frames (and the tensors they hold) are
        # gone before the cache is emptied and the halves are tried
        release_cached_memory(self.device)
        if size == 1:
            raise out_of_memory_error(self.device, self.label, 1)
        half = (size + 1) // 2
        if self.fitting is None or half < self.fitting:
            self.fitting = half
            self.tell(f"{self.device}: out of memory at batch {size}, continuing with {half}")
        middle = start + half
        return [
            *self._encode_piece(encode_rows, start, middle),
            *self._encode_piece(encode_rows, middle, stop),
        ]


@dataclass(frozen=True)
class VisionShape:
    """What decides the activation memory of a ViT image tower per image."""

    image_size: int
    width: int
    patch_size: int = 16

    @property
    def tokens(self) -> int:
        return (self.image_size // max(self.patch_size, 1)) ** 2 + 1


def image_activation_bytes(shape: VisionShape) -> int:
    """Peak activation memory of one image in one transformer block, fp16, with slack.

    Alive at once: the residual stream and its layer norm (2 x tokens x width), the
    query/key/value projection (3x), the attention output (1x), the MLP's hidden
    layer before and after its activation (2 x 4x), and the attention scores and
    their softmax (2 x heads x tokens^2, one head per 64 channels); plus the pixels
    on the device in fp32 and fp16.
    """
    tokens, width = shape.tokens, shape.width
    heads = max(1, width // 64)
    per_block = 14 * tokens * width + 2 * heads * tokens * tokens
    pixels = 3 * shape.image_size * shape.image_size * (4 + HALF_PRECISION_BYTES)
    return ACTIVATION_SLACK * HALF_PRECISION_BYTES * per_block + pixels


def batch_size_for_memory(
    free_bytes: int, image_size: int, width: int, patch_size: int = 16,
    cap: int = MEMORY_BATCH_CAP,
) -> int:  # fmt: skip
    """The largest power of two whose activations fit ``MEMORY_SHARE`` of ``free_bytes``,
    at most ``cap`` and at least 1."""
    per_image = image_activation_bytes(VisionShape(image_size, width, patch_size))
    affordable = int(free_bytes * MEMORY_SHARE) // per_image
    size = 1
    while size * 2 <= min(affordable, cap):
        size *= 2
    return size


def vision_shape_of(open_clip_name: str, image_size: int) -> VisionShape | None:
    """The ViT image tower of a registered open_clip config, or None (ResNet, timm)."""
    import open_clip

    config = open_clip.get_model_config(open_clip_name) or {}
    vision = config.get("vision_cfg") or {}
    width, layers, patch = vision.get("width"), vision.get("layers"), vision.get("patch_size")
    if vision.get("timm_model_name") or not isinstance(layers, int) or not isinstance(width, int):
        return None  # a ResNet's layers are a tuple; timm towers say nothing here
    return VisionShape(image_size, width, patch if isinstance(patch, int) else 16)


def cuda_batch_size(open_clip_name: str, image_size: int, device: str, fallback: int) -> int:
    """A batch size for the model on ``device`` from the GPU's free memory now;
    ``fallback`` for towers whose shape is unknown."""
    import torch

    shape = vision_shape_of(open_clip_name, image_size)
    if shape is None:
        return fallback
    free_bytes, _total = torch.cuda.mem_get_info(torch.device(device))
    return batch_size_for_memory(free_bytes, shape.image_size, shape.width, shape.patch_size)
