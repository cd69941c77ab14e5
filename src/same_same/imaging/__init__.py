"""Image files to RGB PIL images: decode, orient, flatten, and say why when a file is bad."""

from __future__ import annotations

from .color import convert_to_rgb
from .decode import (
    MAX_IMAGE_PIXELS,
    SUPPORTED_FORMATS,
    DecodedImage,
    decode_image,
    decode_image_bytes,
    describe_failure,
    load_image,
    read_image_size,
)
from .errors import ImageDecodeError, TooManyPixelsError

__all__ = [
    "MAX_IMAGE_PIXELS",
    "SUPPORTED_FORMATS",
    "TooManyPixelsError",
    "DecodedImage",
    "ImageDecodeError",
    "convert_to_rgb",
    "decode_image",
    "decode_image_bytes",
    "describe_failure",
    "load_image",
    "read_image_size",
]
