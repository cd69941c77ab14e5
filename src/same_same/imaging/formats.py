"""The one table of image files same-same reads: extension, format, media type, decoder.

Everything that asks "is this an image, and what kind" reads ``IMAGE_FORMATS``: the
folder walk (``sources.images``), the decoder (which Pillow plugins may open a file,
which files go to rawpy), the skip reason for a format whose extra is missing, the
media type of the original-file route and of thumbnails' sources, the duplicate
keeper's format ranking, and the README's list of extensions (a test compares them).
Adding a format is one row here.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass
from typing import Literal

Decoder = Literal["pillow", "pillow-heif", "rawpy"]
"""How a file is decoded: Pillow's own plugins, Pillow with pillow-heif's opener
registered, or rawpy (LibRaw) for camera RAW files."""

PHOTOS_EXTRA = "photos"
"""The extra that brings the decoders Pillow lacks (pillow-heif, rawpy)."""

RANK_RAW, RANK_LOSSLESS, RANK_CAMERA, RANK_WEB = 3, 2, 1, 0
"""How original a format usually is (the duplicate keeper prefers higher): a camera's
raw file, a lossless or camera format, JPEG, then what sharing re-encodes to."""


@dataclass(frozen=True)
class ImageFormat:
    """One supported file extension."""

    extension: str
    """lower case, with the dot; files match it in any letter case"""
    family: str
    """what people call the format ("JPEG", "HEIF", "camera RAW")"""
    media_type: str
    decoder: Decoder
    pillow_formats: tuple[str, ...] = ()
    """Pillow format names allowed to open it (empty: not opened by Pillow)"""
    rank: int = RANK_WEB
    animates: bool = False
    """whether the format can hold an animation (frames are sampled, see ``frames``)"""
    extra: str | None = None
    """the same-same extra its decoder comes in (None: the base install reads it)"""
    module: str | None = None
    """the module that extra provides, to tell whether it is installed"""


def _pillow(
    family: str,
    extensions: tuple[str, ...],
    media_type: str,
    pillow_formats: tuple[str, ...],
    rank: int,
    animates: bool = False,
) -> list[ImageFormat]:
    return [
        ImageFormat(ext, family, media_type, "pillow", pillow_formats, rank, animates)
        for ext in extensions
    ]


def _raw(extension: str, media_type: str) -> ImageFormat:
    return ImageFormat(
        extension, "camera RAW", media_type, "rawpy", (), RANK_RAW, False, PHOTOS_EXTRA, "rawpy"
    )


def _heif(extension: str, media_type: str) -> ImageFormat:
    return ImageFormat(
        extension,
        "HEIF",
        media_type,
        "pillow-heif",
        ("HEIF",),
        RANK_LOSSLESS,  # what iPhones write: the camera's own file, as a JPEG is elsewhere
        False,
        PHOTOS_EXTRA,
        "pillow_heif",
    )


IMAGE_FORMATS: tuple[ImageFormat, ...] = (
    # Pillow's JPEG opener also opens MPO, the multi-picture JPEG some cameras write
    # (its first picture is read).
    *_pillow("JPEG", (".jpg", ".jpeg", ".jfif"), "image/jpeg", ("JPEG",), RANK_CAMERA),
    *_pillow("PNG", (".png",), "image/png", ("PNG",), RANK_LOSSLESS, animates=True),
    *_pillow("GIF", (".gif",), "image/gif", ("GIF",), RANK_WEB, animates=True),
    *_pillow("WebP", (".webp",), "image/webp", ("WEBP",), RANK_WEB, animates=True),
    *_pillow("BMP", (".bmp",), "image/bmp", ("BMP", "DIB"), RANK_LOSSLESS),
    # multi-page TIFFs give their first page
    *_pillow("TIFF", (".tif", ".tiff"), "image/tiff", ("TIFF",), RANK_LOSSLESS),
    *_pillow("AVIF", (".avif",), "image/avif", ("AVIF",), RANK_WEB),
    _heif(".heic", "image/heic"),
    _heif(".heif", "image/heif"),
    _raw(".cr2", "image/x-canon-cr2"),
    _raw(".cr3", "image/x-canon-cr3"),
    _raw(".nef", "image/x-nikon-nef"),
    _raw(".arw", "image/x-sony-arw"),
    _raw(".dng", "image/x-adobe-dng"),
    _raw(".raf", "image/x-fuji-raf"),
    _raw(".orf", "image/x-olympus-orf"),
    _raw(".rw2", "image/x-panasonic-rw2"),
    _raw(".pef", "image/x-pentax-pef"),
    _raw(".srw", "image/x-samsung-srw"),
)

_BY_EXTENSION = {entry.extension: entry for entry in IMAGE_FORMATS}

IMAGE_EXTENSIONS = frozenset(_BY_EXTENSION)
"""Every extension a folder walk picks up, lower case."""


def find_image_format(name: str | os.PathLike[str]) -> ImageFormat | None:
    """The table's row for a file name or path (by its extension, any case), or None."""
    return find_extension_format(os.path.splitext(os.fspath(name))[1])


def find_extension_format(extension: str) -> ImageFormat | None:
    """The table's row for an extension such as ``".CR2"`` (any case), or None."""
    return _BY_EXTENSION.get(extension.lower())


def has_image_extension(name: str | os.PathLike[str]) -> bool:
    return find_image_format(name) is not None


def guess_media_type(name: str | os.PathLike[str]) -> str | None:
    entry = find_image_format(name)
    return entry.media_type if entry else None


def list_pillow_formats() -> tuple[str, ...]:
    """Every Pillow format name the table lets open a file, in the table's order."""
    names: dict[str, None] = {}
    for entry in IMAGE_FORMATS:
        names.update(dict.fromkeys(entry.pillow_formats))
    return tuple(names)


def list_animated_pillow_formats() -> tuple[str, ...]:
    """The Pillow formats whose frames are an animation (rows that ``animates``)."""
    names: dict[str, None] = {}
    for entry in IMAGE_FORMATS:
        if entry.animates:
            names.update(dict.fromkeys(entry.pillow_formats))
    return tuple(names)


def list_families(decoder: Decoder | None = None) -> tuple[str, ...]:
    """Format families in the table's order (those of one decoder when given)."""
    seen: dict[str, None] = {}
    for entry in IMAGE_FORMATS:
        if decoder is None or entry.decoder == decoder:
            seen[entry.family] = None
    return tuple(seen)


@functools.cache
def is_decoder_installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken install counts as none
        return False


def describe_missing_decoder(entry: ImageFormat) -> str | None:
    """The skip reason for a file whose decoder is not installed, or None when it is."""
    if entry.module is None or is_decoder_installed(entry.module):
        return None
    return (
        f"{entry.family} files need {entry.module.replace('_', '-')}: "
        f"pip install 'same-same[{entry.extra}]'"
    )


def describe_supported_formats() -> str:
    """One line naming every supported extension by format: the README shows it as is."""
    groups: dict[str, list[ImageFormat]] = {}
    for entry in IMAGE_FORMATS:
        groups.setdefault(entry.family, []).append(entry)
    parts = []
    for family, entries in groups.items():
        extensions = " ".join(f"`{entry.extension}`" for entry in entries)
        extra = entries[0].extra
        needs = f", with the `{extra}` extra" if extra else ""
        parts.append(f"{family} ({extensions}{needs})")
    return "Image files read: " + ", ".join(parts) + "; extensions in any letter case."


def rank_format(extension: str) -> int:
    """How original a file of ``extension`` usually is (``RANK_RAW`` .. ``RANK_WEB``)."""
    entry = _BY_EXTENSION.get(extension.lower())
    return entry.rank if entry else RANK_WEB


__all__ = [
    "IMAGE_EXTENSIONS",
    "IMAGE_FORMATS",
    "PHOTOS_EXTRA",
    "ImageFormat",
    "describe_missing_decoder",
    "describe_supported_formats",
    "find_extension_format",
    "find_image_format",
    "guess_media_type",
    "has_image_extension",
    "list_animated_pillow_formats",
    "list_families",
    "list_pillow_formats",
    "rank_format",
]
