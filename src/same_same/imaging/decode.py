"""Decode one image file into an upright RGB PIL image, or say in a few words why not.

Every failure becomes an ``ImageDecodeError`` whose ``reason`` is meant for a
"skipping LOCATION: REASON" line: empty, truncated, corrupt, not an image, too many
pixels, permission denied, a decoder whose extra is missing. Only the formats in
``formats.IMAGE_FORMATS`` are opened, so a file with an image extension never reaches
a riskier Pillow plugin; camera RAW files (by extension) go to rawpy (``raw``), and
animations give their first frame that is not blank plus, when asked, a few sampled
frames (``frames``).
"""

from __future__ import annotations

import errno
import io
import os
import re
import warnings
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from PIL import Image, ImageFile, UnidentifiedImageError

from .color import convert_to_rgb
from .errors import ImageDecodeError, TooManyPixelsError
from .formats import (
    ImageFormat,
    describe_missing_decoder,
    find_extension_format,
    find_image_format,
    list_animated_pillow_formats,
    list_families,
)
from .formats import list_pillow_formats as _list_pillow_formats
from .frames import count_frames, pick_animation_frames
from .plugins import list_openable_formats
from .raw import open_raw_picture, read_raw_size
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

SUPPORTED_FORMATS = _list_pillow_formats()
"""Pillow formats ``decode_image`` may open, from ``formats.IMAGE_FORMATS`` (JPEG includes
MPO, the multi-picture JPEG of cameras; HEIF only with pillow-heif installed)."""

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
    decoded at reduced size (for a RAW file: the sensor picture's, whatever was
    decoded). ``frames`` counts an animation's frames (1 for a still image);
    ``samples`` are the frames sampled to stand for it when the caller asked for
    them (``samples`` > 1), else empty.
    """

    image: Image.Image
    width: int
    height: int
    format: str
    frames: int = 1
    samples: list[Image.Image] = field(default_factory=list)


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
    samples: int = 1,
) -> DecodedImage:
    """Decode the file at ``path``; see ``decode_image_bytes`` for the options."""
    entry = find_image_format(path)
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size == 0:
                raise ImageDecodeError("empty file (0 bytes)")
            if entry is not None and entry.decoder == "rawpy":
                return _decode_raw(stream.read(), min_side, max_side, max_pixels)
            return _decode_stream(
                stream,
                min_side=min_side,
                max_side=max_side,
                size=size,
                max_pixels=max_pixels,
                entry=entry,
                samples=samples,
            )
    except OSError as exc:
        raise ImageDecodeError(describe_failure(exc)) from exc


def decode_image_bytes(
    data: bytes,
    *,
    min_side: int | None = None,
    max_side: int | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
    extension: str | None = None,
    samples: int = 1,
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
    frame that is not blank. ``extension`` (the file's, e.g. ``".cr2"``) picks the
    decoder from the format table: camera RAW goes to rawpy, a format whose extra is
    missing is refused with the pip command; None: Pillow guesses from the bytes.
    ``samples``: for an animation, also decode up to this many evenly spaced frames
    that are not blank into ``DecodedImage.samples`` (see ``frames``).
    """
    if not data:
        raise ImageDecodeError("empty file (0 bytes)")
    entry = find_extension_format(extension) if extension else None
    if entry is not None and entry.decoder == "rawpy":
        return _decode_raw(data, min_side, max_side, max_pixels)
    return _decode_stream(
        io.BytesIO(data),
        min_side=min_side,
        max_side=max_side,
        size=len(data),
        max_pixels=max_pixels,
        entry=entry,
        samples=samples,
    )


def read_image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of the upright image, from the header alone (no decoding)."""
    width, height, _ = read_image_header(path)
    return width, height


def read_image_header(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """``(width, height, frames)`` of the upright image, without decoding its pixels
    (an animation's frames are counted, a RAW file's preview is not decoded)."""
    entry = find_image_format(path)
    try:
        with open(path, "rb") as stream:
            if entry is not None and entry.decoder == "rawpy":
                return (*read_raw_size(stream.read()), 1)
            with _open_image(stream, entry=entry) as image:
                frames = count_frames(image) if entry is not None and entry.animates else 1
                return (*_upright_size(image), frames)
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
    entry: ImageFormat | None = None,
    samples: int = 1,
) -> DecodedImage:
    try:
        image = _open_image(stream, max_pixels, entry)
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
        frames = count_frames(image) if entry is None or entry.animates else 1
        sampled: list[Image.Image] = []
        if frames > 1 and fmt in _ANIMATED_FORMATS:
            # every frame is copied out: the next seek overwrites the current one
            rgb, sampled = pick_animation_frames(
                image, samples, lambda frame: _upright_copy(frame, orientation, min_side)
            )
        else:
            frames = 1
            rgb = _upright_rgb(image, orientation, min_side)
    except ImageDecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bad file must never stop the caller
        raise ImageDecodeError(describe_failure(exc)) from exc
    return DecodedImage(_fit(rgb, image, max_side), width, height, fmt, frames, sampled)


_ANIMATED_FORMATS = frozenset(list_animated_pillow_formats())
"""Pillow formats whose frames are an animation (a multi-page TIFF or an MPO's second
picture is not one: those give their first picture)."""


def _fit(rgb: Image.Image, source: Image.Image, max_side: int | None) -> Image.Image:
    """``rgb`` shrunk to ``max_side`` (a copy when it is still the decoder's ``source``)."""
    if max_side and max(rgb.size) > max_side:
        rgb = rgb.copy() if rgb is source else rgb
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return rgb


def _upright_rgb(image: Image.Image, orientation: int, min_side: int | None) -> Image.Image:
    factor = _reduction(image.size, min_side)
    if factor > 1:
        # shrink in the file's own mode first, then turn: nothing full-size is copied
        rgb = reduce_to_rgb(image, factor)
        return rgb.transpose(_UPRIGHT[orientation]) if orientation != 1 else rgb
    if orientation != 1:
        image = image.transpose(_UPRIGHT[orientation])
    return convert_to_rgb(image)


def _upright_copy(frame: Image.Image, orientation: int, min_side: int | None) -> Image.Image:
    rgb = _upright_rgb(frame, orientation, min_side)
    return rgb.copy() if rgb is frame else rgb


def _decode_raw(
    data: bytes, min_side: int | None, max_side: int | None, max_pixels: int
) -> DecodedImage:
    """A camera RAW file through its embedded preview (or a demosaic, see ``raw``)."""
    try:
        picture = open_raw_picture(data)
        image = picture.image
        _check_pixels(image.size, min(max_pixels, MAX_IMAGE_PIXELS))
        target = min_side or max_side
        if image.format in _DRAFT_FORMATS and target:
            image.draft("RGB", (target, target))
        image.load()
        width, height = _turn_size(picture.full_size, picture.orientation)
        rgb = _upright_rgb(image, picture.orientation, min_side)
    except ImageDecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bad file must never stop the caller
        raise ImageDecodeError(describe_failure(exc)) from exc
    return DecodedImage(_fit(rgb, image, max_side), width, height, "RAW")


def _reduction(size: tuple[int, int], min_side: int | None) -> int:
    if not min_side or size[0] * size[1] <= REDUCE_ABOVE_PIXELS:
        return 1
    return reduce_factor(size, 2 * min_side)


def _open_image(
    stream: BinaryIO, max_pixels: int = MAX_IMAGE_PIXELS, entry: ImageFormat | None = None
) -> Image.Image:
    missing = describe_missing_decoder(entry) if entry is not None else None
    if missing:
        raise ImageDecodeError(missing)
    try:
        image = Image.open(stream, formats=list_openable_formats())
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise TooManyPixelsError(
            describe_failure(exc),
            pixels=int(found.group(1)) if found else None,
            limit=min(max_pixels, MAX_IMAGE_PIXELS),
        ) from exc
    # Pillow's own check may be disabled by another library (MAX_IMAGE_PIXELS = None).
    _check_pixels(image.size, min(max_pixels, MAX_IMAGE_PIXELS))
    return image


def _check_pixels(size: tuple[int, int], limit: int) -> None:
    pixels = size[0] * size[1]
    if pixels > limit:
        raise TooManyPixelsError(
            _describe_too_large(size, limit), pixels=pixels, limit=limit, size=size
        )


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
        return f"not an image (or not a supported format: {', '.join(list_families())})"
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
