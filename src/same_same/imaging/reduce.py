"""Shrink a big decoded image by an integer factor on the way to RGB, a strip at a time.

A 12000x12000 1-bit PNG decodes to 144 MB in Pillow (a byte a pixel); converting it
to RGB first, as ``convert_to_rgb`` would, allocates another 576 MB (RGB is four
bytes a pixel), and a model then shrinks it to 224 pixels anyway. Here each strip of
rows is converted and box-reduced on its own, so beside the decoded image only one
strip and the small result are ever held.

Box reduction works on aligned ``factor x factor`` blocks, so reducing strips whose
height is a multiple of ``factor`` gives exactly what reducing the whole converted
image would (``convert_to_rgb(image).reduce(factor)``).
"""

from __future__ import annotations

from PIL import Image

from .color import convert_to_rgb, full_scale, scale_to_8bit

STRIP_PIXELS = 1 << 20
"""About this many source pixels are converted at a time (4 MB of RGB)."""

_GREY_MODES = frozenset({"1", "L"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_NATIVE_MODES = frozenset({"I", "F"})  # reduced as they are: scaling to 8 bits needs the range


def reduce_factor(size: tuple[int, int], keep_side: int) -> int:
    """The largest integer factor that keeps the shorter side at least ``keep_side``."""
    return max(1, min(size) // max(1, keep_side))


def reduce_to_rgb(image: Image.Image, factor: int) -> Image.Image:
    """``convert_to_rgb(image)`` reduced ``factor`` times, without a full-size RGB copy.

    ``factor`` 1 is a plain ``convert_to_rgb``.
    """
    if factor <= 1:
        return convert_to_rgb(image)
    width, height = image.size
    working_mode = _working_mode(image)
    reduced = Image.new(working_mode, (-(-width // factor), -(-height // factor)))
    rows = max(1, STRIP_PIXELS // max(1, width) // factor) * factor
    for top in range(0, height, rows):
        strip = image.crop((0, top, width, min(height, top + rows)))
        reduced.paste(_to_working_mode(strip, working_mode).reduce(factor), (0, top // factor))
    if working_mode in _NATIVE_MODES:
        # white is where it is in the original: averaging lowers the peak it is judged by
        peak = 0.0 if image.mode in _SIXTEEN_BIT_MODES else _largest_value(image)
        return scale_to_8bit(reduced, full_scale(image.mode, peak)).convert("RGB")
    return convert_to_rgb(reduced)


def _working_mode(image: Image.Image) -> str:
    if image.mode in _SIXTEEN_BIT_MODES:
        return "I"
    if image.mode in _NATIVE_MODES:
        return image.mode
    if image.mode in _GREY_MODES and "transparency" not in image.info:
        return "L"  # a third of RGB's work; grey to RGB afterwards is exact
    return "RGB"


def _to_working_mode(strip: Image.Image, working_mode: str) -> Image.Image:
    if strip.mode == working_mode:
        return strip
    if working_mode == "RGB":
        return convert_to_rgb(strip)
    return strip.convert(working_mode)


def _largest_value(image: Image.Image) -> float:
    top = image.getextrema()[1]  # one band: (low, high)
    return float(top) if isinstance(top, (int, float)) else 0.0
