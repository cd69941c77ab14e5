"""Decode one image file into an upright RGB PIL image, or say in a few words why not.

Every failure becomes an ``ImageDecodeError`` whose ``reason`` is meant for a
"skipping LOCATION: REASON" line: empty, truncated, corrupt, not an image, too many
pixels, permission denied. Only formats a photo collection plausibly holds are
opened, so a file with an image extension never reaches a riskier Pillow plugin.
"""

from __future__ import annotations

import errno
import io
import os
import re
import warnings
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageFile, UnidentifiedImageError

from .color import convert_to_rgb
from .errors import ImageDecodeError, TooManyPixelsError
from .reduce import reduce_factor, reduce_to_rgb

MAX_IMAGE_PIXELS = 12_000 * 12_000
"""Larger images are refused as possible decompression bombs.

Room for 100-megapixel camera files and panoramas; a 12000x12000 RGB image still
decodes in about 430 MB.
"""

Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
# Pillow only warns between MAX_IMAGE_PIXELS and twice that; an oversized image is an
# error here, reported once like any other bad file rather than as a stray warning.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

REDUCE_ABOVE_PIXELS = 4096 * 4096
"""Bigger decoded images are shrunk by an integer factor before they become RGB.

Only when the caller says how small the image may get (``min_side``): the shorter
side stays at least ``2 * min_side``, so a model's own resize still starts from twice
the pixels it keeps (the idea of Pillow's ``reducing_gap``) and its vector barely
moves, while a 144-megapixel PNG never has a full-size RGB copy (see ``reduce``).
Smaller images take the exact path they always took.
"""

SUPPORTED_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "DIB", "WEBP", "TIFF")
"""Pillow formats ``decode_image`` opens (JPEG includes MPO, the multi-picture JPEG of cameras)."""

_DRAFT_FORMATS = frozenset({"JPEG", "MPO"})

# EXIF orientation -> the transpose that makes the image upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ORIENTATION_TAG = 0x0112


@dataclass
class DecodedImage:
    """An upright RGB image and the size of the file's full-resolution picture.

    ``width``/``height`` are those of the upright original even when ``image`` was
    decoded at reduced size.
    """

    image: Image.Image
    width: int
    height: int
    format: str


def load_image(path: str | os.PathLike[str], max_side: int | None = None) -> Image.Image:
    """The image at ``path`` as upright RGB, its longer side at most ``max_side``.

    Raises ImageDecodeError with a short reason for any file that cannot be used.
    """
    return decode_image(path, max_side=max_side).image


def decode_image(
    path: str | os.PathLike[str],
    *,
    min_side: int | None = None,
    max_side: int | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> DecodedImage:
    """Decode the file at ``path``; see ``decode_image_bytes`` for the options."""
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size == 0:
                raise ImageDecodeError("empty file (0 bytes)")
            return _decode_stream(
                stream, min_side=min_side, max_side=max_side, size=size, max_pixels=max_pixels
            )
    except OSError as exc:
        raise ImageDecodeError(describe_failure(exc)) from exc


def decode_image_bytes(
    data: bytes,
    *,
    min_side: int | None = None,
    max_side: int | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> DecodedImage:
    """Decode an image file's bytes into a ``DecodedImage``.

    ``min_side``: decode big JPEGs at a reduced scale (1/2, 1/4 or 1/8, done inside
    libjpeg, several times faster) while both sides stay at least this long, and
    shrink other images over ``REDUCE_ABOVE_PIXELS`` while the shorter side stays at
    least twice this long; a model that resizes to N pixels passes N. ``max_side``:
    shrink the result so its longer side is at most this long (thumbnails).
    ``max_pixels``: refuse bigger images (TooManyPixelsError) before decoding them;
    it cannot raise the decompression-bomb limit ``MAX_IMAGE_PIXELS``. Transparency
    is flattened onto white, EXIF orientation applied, animations give their first
    frame.
    """
    if not data:
        raise ImageDecodeError("empty file (0 bytes)")
    return _decode_stream(
        io.BytesIO(data), min_side=min_side, max_side=max_side, size=len(data),
        max_pixels=max_pixels,
    )


def read_image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of the upright image, from the header alone (no decoding)."""
    try:
        with open(path, "rb") as stream, _open_image(stream) as image:
            return _upright_size(image)
    except ImageDecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - any header failure is a reason to skip
        raise ImageDecodeError(describe_failure(exc)) from exc


def _decode_stream(
    stream: BinaryIO,
    *,
    min_side: int | None,
    max_side: int | None,
    size: int = 0,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> DecodedImage:
    try:
        image = _open_image(stream, max_pixels)
        full_size = image.size
        target = min_side or max_side
        if image.format in _DRAFT_FORMATS:
            if target:
                image.draft("RGB", (target, target))
            # One call into libjpeg for the whole file instead of one per 64 KB: each
            # call takes the GIL back, and decode threads that queue for it stall
            # the other threads of an ingest (the model's, the other decoders').
            if isinstance(image, ImageFile.ImageFile):
                image.decodermaxblock = max(image.decodermaxblock, size)
        # Load before reading EXIF: PNG keeps it after the pixels, and reading it
        # first would load inside getexif(), where a decode error would be lost.
        image.load()
        orientation = _orientation(image)
        width, height = _turn_size(full_size, orientation)
        fmt = image.format or ""
        factor = _reduction(image.size, min_side)
        if factor > 1:
            # shrink in the file's own mode first, then turn: nothing full-size is copied
            rgb = reduce_to_rgb(image, factor)
            if orientation != 1:
                rgb = rgb.transpose(_UPRIGHT[orientation])
        else:
            if orientation != 1:
                image = image.transpose(_UPRIGHT[orientation])
            rgb = convert_to_rgb(image)
    except ImageDecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bad file must never stop the caller
        raise ImageDecodeError(describe_failure(exc)) from exc
    if max_side and max(rgb.size) > max_side:
        rgb = rgb.copy() if rgb is image else rgb
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return DecodedImage(rgb, width, height, fmt)


def _reduction(size: tuple[int, int], min_side: int | None) -> int:
    if not min_side or size[0] * size[1] <= REDUCE_ABOVE_PIXELS:
        return 1
    return reduce_factor(size, 2 * min_side)


def _open_image(stream: BinaryIO, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    try:
        image = Image.open(stream, formats=SUPPORTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise TooManyPixelsError(
            describe_failure(exc),
            pixels=int(found.group(1)) if found else None,
            limit=min(max_pixels, MAX_IMAGE_PIXELS),
        ) from exc
    # Pillow's own check may be disabled by another library (MAX_IMAGE_PIXELS = None).
    limit = min(max_pixels, MAX_IMAGE_PIXELS)
    pixels = image.size[0] * image.size[1]
    if pixels > limit:
        raise TooManyPixelsError(
            _describe_too_large(image.size, limit), pixels=pixels, limit=limit, size=image.size
        )
    return image


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - broken EXIF: show the picture as stored
        return 1
    return value if isinstance(value, int) and value in _UPRIGHT else 1


def _upright_size(image: Image.Image) -> tuple[int, int]:
    return _turn_size(image.size, _orientation(image))


def _turn_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _describe_too_large(size: tuple[int, int], limit: int) -> str:
    megapixels = size[0] * size[1] / 1e6
    return (
        f"too many pixels: {size[0]}x{size[1]} ({megapixels:.0f} MP, limit "
        f"{limit / 1e6:.0f} MP), possible decompression bomb"
    )


def describe_failure(exc: BaseException) -> str:
    """A few words for a "skipping FILE: REASON" line."""
    text = str(exc)
    if isinstance(exc, ImageDecodeError):
        return exc.reason
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return "too many pixels, possible decompression bomb" + _limit_detail(text)
    if isinstance(exc, UnidentifiedImageError):
        return "not an image (or not a supported format: JPEG, PNG, GIF, BMP, WebP, TIFF)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return "symlink loop"
    if isinstance(exc, MemoryError):
        return "not enough memory to decode"
    if isinstance(exc, EOFError) or "truncated" in text.lower():
        return "truncated (the file ends before the image does)"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"cannot read file: {exc.strerror or text}"
    if isinstance(exc, (OSError, SyntaxError, ValueError, zlib.error)):
        return f"corrupt image data ({text or type(exc).__name__})"
    return f"cannot decode ({type(exc).__name__}: {text})"


def _limit_detail(text: str) -> str:
    # Pillow's message: "Image size (N pixels) exceeds limit of M pixels, ..."
    found = re.search(r"\((\d+) pixels\)", text)
    if not found:
        return ""
    return f" ({int(found.group(1)) / 1e6:.0f} MP, limit {MAX_IMAGE_PIXELS / 1e6:.0f} MP)"
