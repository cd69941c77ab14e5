"""CLIP image preprocessing with PIL and numpy only, for decode threads that never need torch.

``preprocess_image`` reproduces open_clip's evaluation transform (resize, centre crop
or pad, RGB, scale to [0, 1], normalise) step for step, using the same PIL calls
torchvision makes for PIL input, so its output matches open_clip's ``preprocess`` to
float rounding. ``PreprocessConfig`` is a small frozen dataclass: it compares by value,
is safe to share between threads, and pickles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from ...errors import InvalidInputError

# open_clip's defaults (open_clip.constants.OPENAI_DATASET_MEAN/STD), repeated here so
# this module never imports open_clip or torch
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

RESIZE_MODES = ("shortest", "longest", "squash")


@dataclass(frozen=True)
class PreprocessConfig:
    """What a model expects its images to look like: ``(3, height, width)`` floats."""

    height: int = 224
    width: int = 224
    mean: tuple[float, float, float] = OPENAI_MEAN
    std: tuple[float, float, float] = OPENAI_STD
    resize_mode: str = "shortest"
    interpolation: str = "bicubic"
    fill_color: int = 0

    def __post_init__(self) -> None:
        if self.resize_mode not in RESIZE_MODES:
            raise InvalidInputError(
                f"unknown resize mode {self.resize_mode!r}; known: {', '.join(RESIZE_MODES)}"
            )

    @property
    def shape(self) -> tuple[int, int, int]:
        return (3, self.height, self.width)

    @classmethod
    def from_open_clip(cls, cfg: Mapping[str, Any]) -> PreprocessConfig:
        """From open_clip's preprocess dict (``visual.preprocess_cfg``)."""
        size = cfg.get("size", 224)
        height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        return cls(
            height=int(height),
            width=int(width),
            mean=_three_floats(cfg.get("mean", OPENAI_MEAN)),
            std=_three_floats(cfg.get("std", OPENAI_STD)),
            resize_mode=str(cfg.get("resize_mode") or "shortest"),
            # open_clip maps anything but "bilinear" (e.g. "random") to bicubic at eval time
            interpolation="bilinear" if cfg.get("interpolation") == "bilinear" else "bicubic",
            fill_color=int(cfg.get("fill_color") or 0),
        )


def preprocess_image(image: Image.Image, config: PreprocessConfig) -> np.ndarray:
    """One PIL image to a ``(3, H, W)`` float32 array, as open_clip's ``preprocess`` does."""
    resample = _pil_resample(config.interpolation)
    target_h, target_w = config.height, config.width
    if config.resize_mode == "squash":
        image = _resize(image, (target_h, target_w), resample)
    elif config.resize_mode == "longest":
        image = _resize(image, _keep_ratio_size(image, target_h, target_w, longest=True), resample)
        image = _center_crop_or_pad(image, target_h, target_w, config.fill_color)
    elif target_h == target_w:
        image = _resize(image, _shortest_edge_size(image, target_h), resample)
        image = _center_crop_or_pad(image, target_h, target_w, 0)
    else:
        # open_clip's non-square "shortest" path uses ResizeKeepRatio's default, bicubic
        size = _keep_ratio_size(image, target_h, target_w, longest=False)
        image = _resize(image, size, Image.Resampling.BICUBIC)
        image = _center_crop_or_pad(image, target_h, target_w, 0)
    if image.mode != "RGB":
        image = image.convert("RGB")
    pixels = np.asarray(image, dtype=np.uint8).astype(np.float32) / np.float32(255.0)
    mean = np.asarray(config.mean, dtype=np.float32)
    std = np.asarray(config.std, dtype=np.float32)
    return np.ascontiguousarray(((pixels - mean) / std).transpose(2, 0, 1))


def preprocess_images(images: Sequence[Image.Image], config: PreprocessConfig) -> np.ndarray:
    """A batch ``(N, 3, H, W)`` float32."""
    out = np.empty((len(images), *config.shape), dtype=np.float32)
    for index, image in enumerate(images):
        out[index] = preprocess_image(image, config)
    return out


def _three_floats(value: Any) -> tuple[float, float, float]:
    if isinstance(value, (int, float)):
        return (float(value), float(value), float(value))
    values = [float(v) for v in value]
    return (values[0], values[1], values[2])


def _pil_resample(interpolation: str) -> Image.Resampling:
    if interpolation == "bilinear":
        return Image.Resampling.BILINEAR
    return Image.Resampling.BICUBIC


def _resize(
    image: Image.Image, size_hw: tuple[int, int], resample: Image.Resampling
) -> Image.Image:
    # torchvision returns the image untouched when the size already matches
    if (image.height, image.width) == size_hw:
        return image
    return image.resize((size_hw[1], size_hw[0]), resample)


def _shortest_edge_size(image: Image.Image, short_target: int) -> tuple[int, int]:
    return shortest_edge_size(image.height, image.width, short_target)


def shortest_edge_size(h: int, w: int, short_target: int) -> tuple[int, int]:
    """torchvision's ``Resize(int)``: shortest edge to ``short_target``, long edge truncated."""
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = short_target, int(short_target * long / short)
    return (new_long, new_short) if w <= h else (new_short, new_long)


def _keep_ratio_size(
    image: Image.Image, target_h: int, target_w: int, longest: bool
) -> tuple[int, int]:
    return keep_ratio_size(image.height, image.width, target_h, target_w, longest)


def keep_ratio_size(h: int, w: int, target_h: int, target_w: int, longest: bool) -> tuple[int, int]:
    """open_clip's ``ResizeKeepRatio.get_params`` without the random parts."""
    ratio_h, ratio_w = h / target_h, w / target_w
    ratio = max(ratio_h, ratio_w) if longest else min(ratio_h, ratio_w)
    return (round(h / ratio), round(w / ratio))


def _center_crop_or_pad(image: Image.Image, crop_h: int, crop_w: int, fill: int) -> Image.Image:
    """torchvision's ``center_crop`` (open_clip's ``center_crop_or_pad`` for ``fill``)."""
    h, w = image.height, image.width
    if crop_w > w or crop_h > h:
        left = (crop_w - w) // 2 if crop_w > w else 0
        top = (crop_h - h) // 2 if crop_h > h else 0
        right = (crop_w - w + 1) // 2 if crop_w > w else 0
        bottom = (crop_h - h + 1) // 2 if crop_h > h else 0
        padded = Image.new(image.mode, (w + left + right, h + top + bottom), _fill_for(image, fill))
        padded.paste(image, (left, top))
        image = padded
        h, w = image.height, image.width
        if (h, w) == (crop_h, crop_w):
            return image
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    return image.crop((left, top, left + crop_w, top + crop_h))


def _fill_for(image: Image.Image, fill: int) -> int | tuple[int, ...]:
    bands = len(image.getbands())
    return fill if bands == 1 else (fill,) * bands
