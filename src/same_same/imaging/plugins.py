"""The Pillow formats that may open a file: the table's, as far as they are installed.

pillow-heif (the ``photos`` extra) adds Pillow's HEIF opener when registered; this
registers it once, on first use, so decoding, thumbnails and the original-file route
all read HEIC. Only the table's formats are ever allowed (``Image.open(formats=...)``),
so a file never reaches a riskier Pillow plugin whatever its extension says.
"""

from __future__ import annotations

import functools

from PIL import Image

from .formats import is_decoder_installed, list_pillow_formats


@functools.cache
def list_openable_formats() -> tuple[str, ...]:
    """The table's Pillow formats that this install can open (HEIF with pillow-heif)."""
    if is_decoder_installed("pillow_heif"):
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
        except ImportError:  # a broken install: HEIC files are "not an image", the rest work
            pass
    Image.init()
    return tuple(name for name in list_pillow_formats() if name in Image.OPEN)
