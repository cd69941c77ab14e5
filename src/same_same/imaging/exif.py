"""What a photo's EXIF says about it: when it was taken, with what, which way up, where.

``read_photo_metadata`` opens a file lazily (only its header: no pixels are decoded)
and returns flat metadata keys for its record:

* ``taken_at``: ISO 8601. From ``DateTimeOriginal`` with ``OffsetTimeOriginal``
  when the camera wrote one (``2024-06-15T18:30:00+02:00``), else ``DateTime`` with
  ``OffsetTime``; a camera time without an offset stays without one
  (``2024-06-15T18:30:00``, the camera's wall clock). Without a usable EXIF date it
  is the file's mtime in UTC (``2024-06-15T16:30:00+00:00``). Every form starts with
  the date, so ``{"taken_at": {"gte": "2024-06-01"}}`` compares as dates do.
* ``taken_at_source``: ``"exif_original"``, ``"exif_datetime"`` or ``"mtime"``.
* ``taken_ts``: the same instant as POSIX seconds, for numeric ranges and for
  ``options.recency``; a time without an offset is read as UTC.
* ``camera_make``, ``camera_model``, ``lens``: text, when present.
* ``orientation``: the EXIF orientation (1-8), when present.
* ``lat``, ``lon``: GPS position in decimal degrees (south and west negative), when
  present and plausible (``filters`` ``near`` reads them).

EXIF is written by every kind of device and firmware, so nothing here trusts it:
a field that cannot be read, has the wrong type or an impossible value is left out,
and a file whose EXIF cannot be read at all gets only the mtime fields. Nothing in
this module raises for a file's content.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from PIL import Image

from .decode import SUPPORTED_FORMATS

PHOTO_KEYS = frozenset(
    {
        "taken_at",
        "taken_at_source",
        "taken_ts",
        "camera_make",
        "camera_model",
        "lens",
        "orientation",
        "lat",
        "lon",
    }
)
"""Metadata keys ``read_photo_metadata`` may return."""

MAX_TEXT_LENGTH = 128
"""Longer EXIF strings (firmware padding, garbage) are cut to this many characters."""

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_MAKE, _MODEL, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
_DATETIME_ORIGINAL, _OFFSET_TIME, _OFFSET_TIME_ORIGINAL = 0x9003, 0x9010, 0x9011
_LENS_MAKE, _LENS_MODEL = 0xA433, 0xA434
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4

# Pillow warns once per broken EXIF block; the block's fields are simply left out here.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")

UTC = timezone.utc
_DATE = re.compile(r"^(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def read_photo_metadata(path: str | os.PathLike[str], mtime: float) -> dict[str, Any]:
    """The photo metadata of the file at ``path`` whose mtime is ``mtime``; never raises."""
    try:
        with Image.open(path, formats=SUPPORTED_FORMATS) as image:
            exif = _read_exif(image)
    except Exception:  # noqa: BLE001 - unreadable EXIF is no reason to skip a photo
        exif = None
    return photo_metadata(exif, mtime)


def _read_exif(image: Image.Image) -> Image.Exif | None:
    # PNG may keep its eXIf chunk after the pixels, where getexif() would decode the
    # whole image to find it: only EXIF seen in the header is read.
    if image.format == "PNG" and "exif" not in image.info:
        return None
    return image.getexif()


def photo_metadata(exif: Image.Exif | None, mtime: float) -> dict[str, Any]:
    """Flat metadata from an image's EXIF (``Image.getexif()``; None: no EXIF)."""
    found: dict[str, Any] = {}
    if exif is not None:
        try:
            found = _read_fields(exif)
        except Exception:  # noqa: BLE001 - a broken IFD loses its fields, not the photo
            found = {}
    if "taken_at" not in found:
        found.update(_mtime_time(mtime))
    return found


def _read_fields(exif: Image.Exif) -> dict[str, Any]:
    found: dict[str, Any] = {}
    details = _sub_ifd(exif, _EXIF_IFD)
    taken = _parse_time(details.get(_DATETIME_ORIGINAL), details.get(_OFFSET_TIME_ORIGINAL))
    source = "exif_original"
    if taken is None:
        taken = _parse_time(exif.get(_DATETIME), details.get(_OFFSET_TIME))
        source = "exif_datetime"
    if taken is not None:
        found.update(taken_at=taken[0], taken_at_source=source, taken_ts=taken[1])
    for key, value in (
        ("camera_make", exif.get(_MAKE)),
        ("camera_model", exif.get(_MODEL)),
        ("lens", _lens(details)),
    ):
        text = _clean_text(value)
        if text:
            found[key] = text
    orientation = exif.get(_ORIENTATION)
    if isinstance(orientation, int) and not isinstance(orientation, bool):
        if 1 <= orientation <= 8:
            found["orientation"] = orientation
    found.update(_gps_position(_sub_ifd(exif, _GPS_IFD)))
    return found


def _sub_ifd(exif: Image.Exif, tag: int) -> Mapping[int, Any]:
    try:
        ifd = exif.get_ifd(tag)
    except Exception:  # noqa: BLE001 - a pointer to nowhere is an empty IFD
        return {}
    return ifd if isinstance(ifd, Mapping) else {}


def _lens(details: Mapping[int, Any]) -> Any:
    model = _clean_text(details.get(_LENS_MODEL))
    make = _clean_text(details.get(_LENS_MAKE))
    if model and make and not model.lower().startswith(make.lower()):
        return f"{make} {model}"
    return model or None


def _clean_text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    return text[:MAX_TEXT_LENGTH] or None


def _parse_time(value: Any, offset: Any) -> tuple[str, float] | None:
    """``(iso, posix seconds)`` for an EXIF date ``YYYY:MM:DD HH:MM:SS``, or None."""
    text = _clean_text(value)
    found = _DATE.match(text) if text else None
    if found is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in found.groups())
    try:
        moment = datetime(year, month, day, hour, minute, second)  # noqa: DTZ001
    except ValueError:  # 0000:00:00 00:00:00, month 13, ...
        return None
    zone = _parse_offset(offset)
    if zone is None:
        return moment.isoformat(), moment.replace(tzinfo=UTC).timestamp()
    aware = moment.replace(tzinfo=zone)
    return aware.isoformat(), aware.timestamp()


def _parse_offset(value: Any) -> timezone | None:
    text = _clean_text(value)
    if not text:
        return None
    if text == "Z":
        return UTC
    found = _OFFSET.match(text)
    if found is None:
        return None
    sign, hours, minutes = found.groups()
    if int(hours) > 14 or int(minutes) > 59:
        return None
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)


def _mtime_time(mtime: float) -> dict[str, Any]:
    try:
        moment = datetime.fromtimestamp(mtime, tz=UTC).replace(microsecond=0)
    except (OverflowError, OSError, ValueError):
        return {}
    return {"taken_at": moment.isoformat(), "taken_at_source": "mtime", "taken_ts": float(mtime)}


def _gps_position(gps: Mapping[int, Any]) -> dict[str, float]:
    lat = _degrees(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "N", "S", 90.0)
    lon = _degrees(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "E", "W", 180.0)
    # 0/0 is what many cameras write before they have a fix: no place, not the Gulf of Guinea
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        return {}
    return {"lat": lat, "lon": lon}


def _degrees(value: Any, ref: Any, positive: str, negative: str, limit: float) -> float | None:
    parts = _numbers(value)
    if parts is None:
        return None
    degrees = sum(part / 60**power for power, part in enumerate(parts))
    if not math.isfinite(degrees) or not 0.0 <= degrees <= limit:
        return None
    direction = (_clean_text(ref) or positive).upper()[:1]
    if direction not in (positive, negative):
        return None
    return round(-degrees if direction == negative else degrees, 7)


def _numbers(value: Any) -> list[float] | None:
    """Degrees, minutes, seconds (or fewer parts) as floats; None for anything else."""
    if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= 3:
        return None
    parts: list[float] = []
    for part in value:
        try:
            number = float(part)  # IFDRational, int or float; 0/0 is nan
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        if not math.isfinite(number) or number < 0:
            return None
        parts.append(number)
    if len(parts) > 1 and any(part >= 60 for part in parts[1:]):
        return None
    return parts


__all__ = ["MAX_TEXT_LENGTH", "PHOTO_KEYS", "photo_metadata", "read_photo_metadata"]
