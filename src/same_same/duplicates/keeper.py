"""Which picture of a group of duplicates to keep: the rule, as a sort key.

The keeper is the copy most likely to be the original, judged from metadata alone:

1. the most pixels (``width`` x ``height``): copies are made smaller, rarely larger;
2. the original format (``imaging.formats.rank_format``, from the format table): a
   camera's raw file, then a lossless or camera format (TIFF, PNG, HEIC, BMP), then
   JPEG (what cameras and phones write), then WebP, AVIF, GIF and the rest (what
   sharing and the web re-encode to); among equals, a file name without a
   copy suffix ("IMG_1 copy.jpg", "IMG_1 (1).jpg", "IMG_1 - Copy 2.jpg");
3. the biggest file (``bytes``): at equal pixels and format, less compression;
4. the shortest id, then the smallest id: any tie ends the same way every time.

Records without these fields (texts, raw vectors) tie on them and fall through to the id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..imaging.formats import rank_format

_COPY_SUFFIX = re.compile(
    r"(?:[\s._-]*(?:copy|kopie|copie|copia)(?:[\s._-]*\d+)?|\s*\(\d+\))$", re.IGNORECASE
)


def has_copy_suffix(filename: str) -> bool:
    """True for names a file manager gives a copy: ``a copy.jpg``, ``a (1).jpg``, ``a-copy2``."""
    stem = filename.rsplit("/", 1)[-1]
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    return bool(_COPY_SUFFIX.search(stem))


def keeper_key(record_id: str, metadata: Mapping[str, Any]) -> tuple[Any, ...]:
    """Sort key whose smallest value is the keeper (the rule in the module's docstring)."""
    filename = str(metadata.get("filename") or metadata.get("path") or record_id)
    extension = str(metadata.get("extension") or "")
    if not extension and "." in filename:
        extension = "." + filename.rsplit(".", 1)[-1]
    return (
        -_number(metadata.get("width")) * _number(metadata.get("height")),
        -rank_format(extension),
        has_copy_suffix(filename),
        -_number(metadata.get("bytes")),
        len(record_id),
        record_id,
    )


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value) if value == value else 0.0  # NaN never comes from ingest; be safe


__all__ = ["has_copy_suffix", "keeper_key", "rank_format"]
