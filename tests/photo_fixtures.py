"""JPEGs with EXIF written by Pillow: dates (with and without offsets), cameras, lenses,
orientation and GPS positions as rationals, and one whose EXIF block is garbage."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from image_fixtures import halves

MTIME = 1_700_000_000.0  # 2023-11-14T22:13:20Z, the mtime of every file written here

# name -> the EXIF to write
PHOTOS: dict[str, dict[str, Any]] = {
    "paris-2024.jpg": {
        "make": "Canon",
        "model": "EOS R5",
        "lens": "RF24-105mm F4 L IS USM",
        "original": "2024:06:15 18:30:00",
        "offset": "+02:00",
        "datetime": "2024:06:20 09:00:00",
        "gps": ("N", (48, 51, 23.76), "E", (2, 21, 7.92)),
        "orientation": 6,
    },
    "sydney-2019.jpg": {
        "make": "Apple",
        "model": "iPhone 11",
        "original": "2019:12:31 23:59:59",
        "gps": ("S", (33, 51, 54.0), "E", (151, 12, 36.0)),
    },
    "versailles-2024.jpg": {
        "datetime": "2024:07:01 10:00:00",
        "offset": "+02:00",
        "gps": ("N", (48, 48, 17.64), "E", (2, 7, 13.44)),
    },
    "old-scan-2010.jpg": {"original": "2010:05:01 12:00:00"},
    "no-exif.jpg": {},
}
BROKEN = "broken-exif.jpg"


def write_photo(path: Path, spec: dict[str, Any], colour: tuple[int, int, int]) -> Path:
    exif = Image.Exif()
    details = exif.get_ifd(0x8769)
    if "make" in spec:
        exif[0x010F] = spec["make"]
        exif[0x0110] = spec["model"]
    if "orientation" in spec:
        exif[0x0112] = spec["orientation"]
    if "datetime" in spec:
        exif[0x0132] = spec["datetime"]
    if "original" in spec:
        details[0x9003] = spec["original"]
    if "offset" in spec:  # OffsetTimeOriginal beside DateTimeOriginal, else OffsetTime
        details[0x9011 if "original" in spec else 0x9010] = spec["offset"]
    if "lens" in spec:
        details[0xA434] = spec["lens"]
    if "gps" in spec:
        lat_ref, lat, lon_ref, lon = spec["gps"]
        gps = exif.get_ifd(0x8825)
        gps[1], gps[3] = lat_ref, lon_ref
        gps[2] = tuple(IFDRational(round(part * 100), 100) for part in lat)
        gps[4] = tuple(IFDRational(round(part * 100), 100) for part in lon)
    image = halves((64, 48), colour, (255 - colour[0], 128, colour[2]), "RGB")
    image.save(path, "JPEG", exif=exif.tobytes(), quality=90)
    os.utime(path, (MTIME, MTIME))
    return path


def write_bad_exif_photo(path: Path) -> Path:
    """A JPEG whose APP1 segment says "Exif" and then holds garbage."""
    good = path.with_suffix(".tmp")
    Image.new("RGB", (40, 30), (10, 200, 30)).save(good, "JPEG")
    data = good.read_bytes()
    good.unlink()
    garbage = b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + bytes(range(256)) * 2
    segment = b"\xff\xe1" + (len(garbage) + 2).to_bytes(2, "big") + garbage
    path.write_bytes(data[:2] + segment + data[2:])
    os.utime(path, (MTIME, MTIME))
    return path


def write_photo_library(folder: Path) -> Path:
    """The PHOTOS above and the broken one, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    colours = [(220, 30, 30), (30, 30, 220), (30, 200, 30), (200, 200, 30), (120, 30, 160)]
    for (name, spec), colour in zip(PHOTOS.items(), colours, strict=True):
        write_photo(folder / name, spec, colour)
    write_bad_exif_photo(folder / BROKEN)
    return folder
