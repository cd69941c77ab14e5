"""Files of each format for the format tests: scenes, animations and camera RAW files.

``scene`` is a picture that is not blank, ``write_animation`` an animation whose first
frame is (a black fade-in); Pillow writes them in any of its formats.

Camera RAW files are synthetic, written byte by byte.
No real camera file exists on this machine, rawpy cannot write one, and no PyPI
package ships a sample. So ``write_dng`` builds the smallest honest DNG: a
little-endian TIFF whose raw IFD holds a 16-bit RGGB Bayer mosaic (uncompressed,
the CFA tags, DNGVersion, an identity colour matrix), optionally behind an IFD0
JPEG preview as cameras write it. LibRaw opens it like a real DNG: the preview
through ``extract_thumb``, the mosaic through ``postprocess``. The mosaic's scene
is red on the left half and blue on the right, the preview a flat colour of the
caller's, so a test can tell which one a decoder used.

``write_unknown_raw`` is a file LibRaw cannot open, with JPEGs embedded in junk: the
fallback that scans for the largest embedded JPEG.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 60), (40, 60, 220)


def scene(colour: tuple[int, int, int], size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A picture that is not blank: ``colour`` with a white bar across the middle."""
    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).rectangle((0, size[1] // 2 - 4, size[0], size[1] // 2 + 4), "white")
    return image


def write_animation(path: Path, fmt: str, count: int = 6) -> list[Image.Image]:
    """An animation whose first frame is blank (a black fade-in), then ``count - 1`` scenes."""
    colours = [RED, GREEN, BLUE, (200, 200, 30), (30, 200, 200), (200, 30, 200)]
    frames = [Image.new("RGB", (64, 64), (0, 0, 0))]
    frames += [scene(colours[i % len(colours)], (64, 64)) for i in range(count - 1)]
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=80, loop=0)
    return frames


def colour_at(image: Image.Image, xy: tuple[int, int] = (4, 4)) -> tuple[int, ...]:
    pixel = image.convert("RGB").getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], slack: int = 24) -> bool:
    return all(abs(a - e) <= slack for a, e in zip(actual, expected, strict=True))


_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _SRATIONAL = 1, 2, 3, 4, 5, 10
Tag = tuple[int, int, list[int] | list[tuple[int, int]] | bytes]
_IDENTITY_MATRIX = [(int(row == column), 1) for row in range(3) for column in range(3)]


class _TiffWriter:
    def __init__(self) -> None:
        self.out = bytearray(b"II*\x00\x00\x00\x00\x00")

    def add(self, data: bytes) -> int:
        if len(self.out) % 2:
            self.out.append(0)
        offset = len(self.out)
        self.out.extend(data)
        return offset

    def add_ifd(self, tags: list[Tag]) -> int:
        entries = []
        for tag, kind, values in sorted(tags, key=lambda entry: entry[0]):
            payload = _pack(kind, values)
            count = len(values)
            field = payload.ljust(4, b"\x00") if len(payload) <= 4 else _long(self.add(payload))
            entries.append(struct.pack("<HHI", tag, kind, count) + field)
        return self.add(struct.pack("<H", len(entries)) + b"".join(entries) + _long(0))

    def finish(self, first_ifd: int) -> bytes:
        self.out[4:8] = _long(first_ifd)
        return bytes(self.out)


def _long(value: int) -> bytes:
    return struct.pack("<I", value)


def _pack(kind: int, values: list[int] | list[tuple[int, int]] | bytes) -> bytes:
    if kind == _ASCII:
        assert isinstance(values, bytes)
        return values
    if kind == _BYTE:
        return bytes(values)  # type: ignore[arg-type]
    if kind in (_SHORT, _LONG):
        code = "H" if kind == _SHORT else "I"
        return struct.pack(f"<{len(values)}{code}", *values)
    code = "<ii" if kind == _SRATIONAL else "<II"
    return b"".join(struct.pack(code, *pair) for pair in values)  # type: ignore[misc]


def bayer_mosaic(width: int, height: int) -> np.ndarray:
    """An RGGB mosaic of a scene red on the left half, blue on the right (12-bit values)."""
    x = np.arange(width)[np.newaxis, :].repeat(height, axis=0)
    left = x < width // 2
    mosaic = np.full((height, width), 800, dtype=np.uint16)  # green sites
    mosaic[0::2, 0::2] = np.where(left, 3000, 300)[0::2, 0::2]  # red sites
    mosaic[1::2, 1::2] = np.where(left, 300, 3000)[1::2, 1::2]  # blue sites
    return mosaic


def write_dng(
    path: Path,
    width: int = 64,
    height: int = 48,
    preview: tuple[int, int, int] | None = None,
    orientation: int = 1,
) -> Path:
    """A DNG of a ``width`` x ``height`` mosaic; ``preview``: an IFD0 JPEG of that colour."""
    tiff = _TiffWriter()
    mosaic = bayer_mosaic(width, height).tobytes()
    strip = tiff.add(mosaic)
    raw: list[Tag] = [
        (254, _LONG, [0]), (256, _LONG, [width]), (257, _LONG, [height]),
        (258, _SHORT, [16]), (259, _SHORT, [1]), (262, _SHORT, [32803]),  # CFA
        (273, _LONG, [strip]), (277, _SHORT, [1]), (278, _LONG, [height]),
        (279, _LONG, [len(mosaic)]), (284, _SHORT, [1]),
        (33421, _SHORT, [2, 2]), (33422, _BYTE, [0, 1, 1, 2]),  # RGGB
        (50714, _LONG, [0]), (50717, _LONG, [4095]),  # black and white levels
    ]  # fmt: skip
    camera: list[Tag] = [
        (271, _ASCII, b"same-same\x00"), (272, _ASCII, b"synthetic\x00"),
        (274, _SHORT, [orientation]),
        (50706, _BYTE, [1, 4, 0, 0]), (50708, _ASCII, b"same-same synthetic\x00"),
        (50721, _SRATIONAL, _IDENTITY_MATRIX),  # ColorMatrix1
        (50778, _SHORT, [21]), (50728, _RATIONAL, [(1, 1), (1, 1), (1, 1)]),
    ]  # fmt: skip
    if preview is None:
        first = tiff.add_ifd(raw + camera)
    else:
        jpeg = io.BytesIO()
        Image.new("RGB", (width, height), preview).save(jpeg, "JPEG", quality=95)
        sub = tiff.add_ifd(raw)
        at = tiff.add(jpeg.getvalue())
        first = tiff.add_ifd([
            (254, _LONG, [1]), (256, _LONG, [width]), (257, _LONG, [height]),
            (258, _SHORT, [8, 8, 8]), (259, _SHORT, [7]), (262, _SHORT, [6]),
            (273, _LONG, [at]), (277, _SHORT, [3]), (278, _LONG, [height]),
            (279, _LONG, [len(jpeg.getvalue())]), (330, _LONG, [sub]), *camera,
        ])  # fmt: skip
    path.write_bytes(tiff.finish(first))
    return path


def write_unknown_raw(path: Path, colour: tuple[int, int, int], size: tuple[int, int]) -> Path:
    """A file LibRaw does not recognise, holding a small JPEG and a bigger one of ``colour``."""
    small, big = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (16, 12), (0, 0, 0)).save(small, "JPEG")
    Image.new("RGB", size, colour).save(big, "JPEG", quality=95)
    junk = b"NEWCAMERA-RAW\x00" + bytes(range(256)) * 4
    path.write_bytes(junk + small.getvalue() + junk + big.getvalue() + junk)
    return path
