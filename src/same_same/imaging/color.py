"""Any Pillow colour mode to 8-bit RGB, the way a person would expect to see it.

Pillow's own ``convert("RGB")`` clips 16-bit greys (so most of a 16-bit photo turns
white), drops transparency onto black and gives up on some modes; these cases are
handled here.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .errors import ImageDecodeError

WHITE = (255, 255, 255)

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})


def convert_to_rgb(image: Image.Image, background: tuple[int, int, int] = WHITE) -> Image.Image:
    """An RGB view of ``image``: transparency composited on ``background``, deep greys scaled."""
    mode = image.mode
    if mode == "RGB" and "transparency" not in image.info:
        return image
    if mode in _WIDE_MODES:
        return scale_to_8bit(image).convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in image.info:
        return composite_on(image.convert("RGBA"), background)
    try:
        return image.convert("RGB")
    except ValueError as exc:  # LAB and other modes Pillow cannot turn into RGB
        raise ImageDecodeError(f"unsupported colour mode {mode}") from exc


def composite_on(rgba: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Flatten an RGBA image onto a solid colour (white by default, like a page)."""
    flat = Image.new("RGB", rgba.size, background)
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def scale_to_8bit(image: Image.Image, top: float | None = None) -> Image.Image:
    """A 16-bit, 32-bit or float grey image as 8-bit grey ("L"), keeping its contrast.

    ``top`` is the value that becomes white; None works it out from ``image``
    (``full_scale``).
    """
    values = np.asarray(image).astype(np.float64)
    if top is None:
        top = full_scale(image.mode, float(values.max()) if values.size else 0.0)
    scaled = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
    return Image.fromarray(scaled)  # 2-D uint8 is mode "L"


def full_scale(mode: str, peak: float) -> float:
    """The value that is white in a wide grey image of ``mode`` whose largest value is ``peak``."""
    if mode.startswith("I;16"):
        return 65535.0
    # "I" and "F" carry no declared range: assume 8 or 16 bits when the values fit.
    top = 1.0 if mode == "F" and peak <= 1.0 else 255.0 if peak <= 255 else 65535.0
    return max(top, peak)
