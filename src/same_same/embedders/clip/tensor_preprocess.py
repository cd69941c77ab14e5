"""CLIP preprocessing in torch ops, for images decoded on the model's device.

``preprocess_tensor`` is ``preprocess.preprocess_image`` for a ``(3, h, w)`` uint8
tensor: the same sizes (the helpers are shared), the same resize filter (torch's
antialiased bicubic and bilinear follow Pillow's), rounding to 8 bits after the
resize as Pillow does, the same crop or pad, then scaling and normalising. It runs
wherever the tensor is: on the GPU after ``decode_jpeg(device="cuda")``, on the CPU
in tests, which compare it with the PIL path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .preprocess import PreprocessConfig, keep_ratio_size, shortest_edge_size


def preprocess_tensor(image: Any, config: PreprocessConfig) -> Any:
    """A ``(3, h, w)`` uint8 RGB tensor to ``(3, H, W)`` float32, as ``preprocess_image``."""
    pixels = image.unsqueeze(0).float()
    height, width = int(pixels.shape[-2]), int(pixels.shape[-1])
    target_h, target_w = config.height, config.width
    mode = config.interpolation
    if config.resize_mode == "squash":
        pixels = _resize(pixels, (target_h, target_w), mode)
    elif config.resize_mode == "longest":
        size = keep_ratio_size(height, width, target_h, target_w, longest=True)
        pixels = _center_crop_or_pad(
            _resize(pixels, size, mode), target_h, target_w, config.fill_color
        )
    elif target_h == target_w:
        size = shortest_edge_size(height, width, target_h)
        pixels = _center_crop_or_pad(_resize(pixels, size, mode), target_h, target_w, 0)
    else:
        # as the PIL path: open_clip's non-square "shortest" resize is always bicubic
        size = keep_ratio_size(height, width, target_h, target_w, longest=False)
        pixels = _center_crop_or_pad(_resize(pixels, size, "bicubic"), target_h, target_w, 0)
    mean = pixels.new_tensor(config.mean).view(1, 3, 1, 1)
    std = pixels.new_tensor(config.std).view(1, 3, 1, 1)
    return ((pixels / 255.0 - mean) / std)[0].contiguous()


def preprocess_tensors(images: Sequence[Any], config: PreprocessConfig) -> Any:
    """A ``(N, 3, H, W)`` float32 batch on the images' device."""
    import torch

    return torch.stack([preprocess_tensor(image, config) for image in images])


def _resize(pixels: Any, size_hw: tuple[int, int], mode: str) -> Any:
    import torch.nn.functional as functional

    if (int(pixels.shape[-2]), int(pixels.shape[-1])) == size_hw:
        return pixels  # as torchvision (and the PIL path): the same size is left alone
    resized = functional.interpolate(
        pixels,
        size=size_hw,
        mode="bilinear" if mode == "bilinear" else "bicubic",
        align_corners=False,
        antialias=True,
    )
    # Pillow resizes 8-bit images into 8-bit images
    return resized.round_().clamp_(0.0, 255.0)


def _center_crop_or_pad(pixels: Any, crop_h: int, crop_w: int, fill: int) -> Any:
    import torch.nn.functional as functional

    h, w = int(pixels.shape[-2]), int(pixels.shape[-1])
    if crop_w > w or crop_h > h:
        left = (crop_w - w) // 2 if crop_w > w else 0
        top = (crop_h - h) // 2 if crop_h > h else 0
        right = (crop_w - w + 1) // 2 if crop_w > w else 0
        bottom = (crop_h - h + 1) // 2 if crop_h > h else 0
        pixels = functional.pad(pixels, (left, right, top, bottom), value=float(fill))
        h, w = int(pixels.shape[-2]), int(pixels.shape[-1])
        if (h, w) == (crop_h, crop_w):
            return pixels
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    return pixels[..., top : top + crop_h, left : left + crop_w]
