"""Camera RAW files as a picture: the JPEG preview the camera embedded, else a demosaic.

Through rawpy (LibRaw, in the ``photos`` extra), imported late. A RAW file's own
preview is what the camera showed on its screen: full size or nearly, already
colour-graded, and decoded in milliseconds, where demosaicing the sensor data takes
seconds. Files without a JPEG preview are demosaiced at half size
(``postprocess(half_size=True)``), plenty for a model that looks at 224 pixels.
When LibRaw cannot open a file at all (a newer camera than it knows), the largest
JPEG embedded anywhere in it is used: most RAW containers carry one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .errors import ImageDecodeError
from .formats import PHOTOS_EXTRA

_SOI = b"\xff\xd8\xff"
MAX_EMBEDDED_CANDIDATES = 64
"""JPEG start markers tried when scanning a file LibRaw cannot open."""

# LibRaw's ``flip`` -> the EXIF orientation that turns the picture upright.
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}


@dataclass
class RawPicture:
    """A RAW file's picture, not yet turned upright.

    ``image`` is a lazily opened JPEG (so the caller may draft-decode it small) or an
    RGB image; ``full_size`` is the sensor picture's size as stored (before turning),
    ``orientation`` the EXIF orientation that makes it upright.
    """

    image: Image.Image
    full_size: tuple[int, int]
    orientation: int = 1


def import_rawpy() -> Any:
    try:
        import rawpy
    except ImportError:
        raise ImageDecodeError(
            f"camera RAW files need rawpy: pip install 'same-same[{PHOTOS_EXTRA}]'"
        ) from None
    return rawpy


def open_raw_picture(data: bytes) -> RawPicture:
    """The picture of a RAW file's bytes (ImageDecodeError with a reason when none)."""
    rawpy = import_rawpy()
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            sizes = raw.sizes
            orientation = _FLIP_TO_ORIENTATION.get(int(sizes.flip), 1)
            full_size = (int(sizes.width), int(sizes.height))  # as stored, not turned
            image = _extract_preview(rawpy, raw)
            if image is None:
                rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
                # postprocess has already turned the picture upright
                upright = Image.fromarray(np.ascontiguousarray(rgb))
                return RawPicture(upright, _turned(full_size, orientation))
            return RawPicture(image, full_size, orientation)
    except rawpy.LibRawError as exc:
        embedded = find_largest_embedded_jpeg(data)
        if embedded is None:
            raise ImageDecodeError(
                f"not a camera RAW file LibRaw can read ({_libraw_message(exc)}) "
                "and no embedded JPEG preview"
            ) from exc
        return RawPicture(embedded, embedded.size)


def read_raw_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` of the upright sensor picture, without decoding it."""
    picture = open_raw_picture(data)
    return _turned(picture.full_size, picture.orientation)


def _turned(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _extract_preview(rawpy: Any, raw: Any) -> Image.Image | None:
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        try:
            return Image.open(io.BytesIO(thumb.data), formats=("JPEG",))
        except Exception:  # noqa: BLE001 - a damaged preview: demosaic instead
            return None
    if thumb.format == rawpy.ThumbFormat.BITMAP:
        return Image.fromarray(np.ascontiguousarray(thumb.data))
    return None


def find_largest_embedded_jpeg(data: bytes) -> Image.Image | None:
    """The embedded JPEG with the most pixels that Pillow can decode, or None."""
    candidates: list[tuple[int, int]] = []  # (pixels, offset)
    start = data.find(_SOI)
    while start >= 0 and len(candidates) < MAX_EMBEDDED_CANDIDATES:
        try:
            with Image.open(io.BytesIO(data[start:]), formats=("JPEG",)) as header:
                candidates.append((header.size[0] * header.size[1], start))
        except Exception:  # noqa: BLE001 - not a JPEG after all (a marker inside other data)
            pass
        start = data.find(_SOI, start + len(_SOI))
    for _, offset in sorted(candidates, reverse=True):
        try:
            image = Image.open(io.BytesIO(data[offset:]), formats=("JPEG",))
            image.load()  # lossless-JPEG sensor data opens but does not decode
            return image
        except Exception:  # noqa: BLE001 - try the next largest
            continue
    return None


def _libraw_message(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else type(exc).__name__
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).rstrip(".")
