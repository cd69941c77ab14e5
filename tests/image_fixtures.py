"""Test images: small generated files for every decoder case, good and bad, plus real photos.

Each good case says what a correct decoder must produce (upright size and the colour
at a few points); each bad case says which words its one-line reason must contain.
Nothing here mocks Pillow: the files are real, written by Pillow or by hand.
"""

from __future__ import annotations

import io
import os
import pickle
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)

Probe = tuple[tuple[float, float], tuple[int, int, int]]
"""A point as fractions of (width, height) of the upright image, and its expected colour."""


@dataclass(frozen=True)
class GoodCase:
    name: str
    size: tuple[int, int]
    """upright (width, height) of the full-resolution image"""
    probes: tuple[Probe, ...]
    mode_on_disk: str = ""
    tolerance: int = 40
    """JPEG is lossy; generated flat colours come back within this"""


@dataclass(frozen=True)
class BadCase:
    name: str
    reason: str
    """words the one-line reason must contain"""


@dataclass
class Collection:
    """A folder of generated cases; names are relative to ``root``."""

    root: Path
    good: dict[str, GoodCase] = field(default_factory=dict)
    bad: dict[str, BadCase] = field(default_factory=dict)


def save_image(image: Image.Image, path: Path, fmt: str | None = None, **params: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt, **params)
    return path


def encode_image(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def halves(size: tuple[int, int], left: Any, right: Any, mode: str) -> Image.Image:
    """An image whose left half is ``left`` and right half ``right``."""
    image = Image.new(mode, size, left)
    image.paste(Image.new(mode, (size[0] - size[0] // 2, size[1]), right), (size[0] // 2, 0))
    return image


LEFT_RIGHT = ((0.25, 0.5), (0.75, 0.5))


def write_good_images(folder: Path) -> dict[str, GoodCase]:
    """One file per colour mode and container a decoder must handle."""
    cases: list[GoodCase] = []
    left, right = LEFT_RIGHT

    save_image(halves((64, 48), RED, BLUE, "RGB"), folder / "rgb.jpg", quality=95)
    cases.append(GoodCase("rgb.jpg", (64, 48), ((left, RED), (right, BLUE)), "RGB"))

    save_image(halves((40, 30), GREEN, RED, "RGB"), folder / "UPPER.JPEG", "JPEG", quality=95)
    cases.append(GoodCase("UPPER.JPEG", (40, 30), ((left, GREEN), (right, RED)), "RGB"))

    # CMYK JPEG (print workflows): cyan+yellow = green, no ink = white
    cmyk = halves((48, 32), (255, 0, 255, 0), (0, 0, 0, 0), "CMYK")
    save_image(cmyk, folder / "cmyk.jpg", quality=95)
    cases.append(GoodCase("cmyk.jpg", (48, 32), ((left, GREEN), (right, WHITE)), "CMYK"))

    # palette PNG whose index 0 is transparent: that half must come out white, not black
    palette = Image.new("P", (40, 20), 0)
    palette.putpalette([0, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    palette.paste(1, (20, 0, 40, 20))
    save_image(palette, folder / "palette.png", transparency=0)
    cases.append(GoodCase("palette.png", (40, 20), ((left, WHITE), (right, BLUE)), "P"))

    # 16-bit grey: 0, half and full scale must map to black, mid grey and white
    ramp = np.zeros((20, 30), dtype=np.uint16)
    ramp[:, 10:20] = 32768
    ramp[:, 20:] = 65535
    save_image(Image.fromarray(ramp), folder / "gray16.png")
    cases.append(
        GoodCase(
            "gray16.png", (30, 20),
            (((1 / 6, 0.5), BLACK), ((0.5, 0.5), (128, 128, 128)), ((5 / 6, 0.5), WHITE)),
            "I;16", tolerance=2,
        )
    )

    # alpha: a fully transparent black half composited on white is white
    rgba = halves((32, 16), (0, 0, 0, 0), (0, 255, 0, 255), "RGBA")
    save_image(rgba, folder / "rgba.png")
    cases.append(GoodCase("rgba.png", (32, 16), ((left, WHITE), (right, GREEN)), "RGBA", 2))

    la = halves((32, 16), (0, 0), (0, 255), "LA")
    save_image(la, folder / "gray_alpha.png")
    cases.append(GoodCase("gray_alpha.png", (32, 16), ((left, WHITE), (right, BLACK)), "LA", 2))

    save_image(halves((30, 30), 0, 255, "L"), folder / "gray.png")
    cases.append(GoodCase("gray.png", (30, 30), ((left, BLACK), (right, WHITE)), "L", 2))

    # animated GIF: the first frame (red) is the picture
    frames = [Image.new("RGB", (24, 24), colour) for colour in (RED, BLUE, GREEN)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100)
    cases.append(GoodCase("animated.gif", (24, 24), (((0.5, 0.5), RED),), "P", 2))

    # a phone photo held sideways: stored 60x40 with red in the top-left corner and
    # EXIF orientation 6 ("rotate 90 clockwise to view"); upright it is 40x60 with red
    # in the top-right corner
    stored = Image.new("RGB", (60, 40), BLUE)
    stored.paste(RED, (0, 0, 30, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    save_image(stored, folder / "exif_rotated.jpg", quality=95, exif=exif.tobytes())
    cases.append(
        GoodCase(
            "exif_rotated.jpg", (40, 60), (((0.75, 0.25), RED), ((0.25, 0.25), BLUE),
                                           ((0.5, 0.75), BLUE)), "RGB",
        )
    )

    save_image(halves((20, 10), BLUE, GREEN, "RGB"), folder / "bitmap.bmp")
    cases.append(GoodCase("bitmap.bmp", (20, 10), ((left, BLUE), (right, GREEN)), "RGB", 2))

    save_image(halves((20, 10), GREEN, BLUE, "RGB"), folder / "lossless.webp", lossless=True)
    cases.append(GoodCase("lossless.webp", (20, 10), ((left, GREEN), (right, BLUE)), "RGB", 2))

    # a PNG with a .jpg name decodes by content, not by name
    save_image(halves((20, 10), RED, GREEN, "RGB"), folder / "png_named.jpg", "PNG")
    cases.append(GoodCase("png_named.jpg", (20, 10), ((left, RED), (right, GREEN)), "RGB", 2))

    return {case.name: case for case in cases}


def make_png_header_only(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG that claims ``width`` x ``height`` pixels (a decompression bomb).

    Only the header is real: opening it is enough to trip the pixel limit, so the
    test never allocates the image.
    """
    real = encode_image(Image.new("L", (1, 1)), "PNG")
    ihdr_at = 8  # after the signature: length(4) type(4) data(13) crc(4)
    data = bytearray(real[ihdr_at + 8 : ihdr_at + 8 + 13])
    data[0:8] = struct.pack(">II", width, height)
    crc = zlib.crc32(b"IHDR" + bytes(data)) & 0xFFFFFFFF
    return real[: ihdr_at + 8] + bytes(data) + struct.pack(">I", crc) + real[ihdr_at + 25 :]


def make_corrupt_png() -> bytes:
    """A PNG whose compressed pixel data is garbage (CRC fixed up, so only zlib notices)."""
    noise = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    real = bytearray(encode_image(Image.fromarray(noise), "PNG", compress_level=9))
    at = real.index(b"IDAT")
    length = struct.unpack(">I", real[at - 4 : at])[0]
    start = at + 4
    for offset in range(2, length - 2):  # keep the zlib header, break the stream
        real[start + offset] ^= 0x5A
    crc = zlib.crc32(bytes(real[at : start + length])) & 0xFFFFFFFF
    real[start + length : start + length + 4] = struct.pack(">I", crc)
    return bytes(real)


def make_truncated_jpeg() -> bytes:
    noise = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    real = encode_image(Image.fromarray(noise), "JPEG", quality=90)
    return real[: len(real) // 2]


def write_bad_files(folder: Path) -> dict[str, BadCase]:
    """Files with image extensions that are not usable images, each with its reason."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = [
        BadCase("corrupt.png", "corrupt"),
        BadCase("truncated.jpg", "truncated"),
        BadCase("empty.jpg", "empty file"),
        BadCase("notes.jpg", "not an image"),
        BadCase("bomb.png", "decompression bomb"),
    ]
    (folder / "corrupt.png").write_bytes(make_corrupt_png())
    (folder / "truncated.jpg").write_bytes(make_truncated_jpeg())
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("shopping list: eggs, milk\n")
    (folder / "bomb.png").write_bytes(make_png_header_only(40_000, 40_000))
    return {case.name: case for case in cases}


def write_bad_links(folder: Path) -> dict[str, BadCase]:
    """Entries a folder walk must report without opening them (or hanging)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.symlink("self_loop.jpg", folder / "self_loop.jpg")
    os.symlink("missing-target.png", folder / "broken_link.png")
    os.mkfifo(folder / "pipe.gif")  # opening a FIFO for reading would block forever
    return {
        "self_loop.jpg": BadCase("self_loop.jpg", "symlink loop"),
        "broken_link.png": BadCase("broken_link.png", "broken symlink"),
        "pipe.gif": BadCase("pipe.gif", "not a regular file"),
    }


NON_UTF8_NAME = b"caf\xe9-latin1.jpg"
"""A file name that is not valid UTF-8 (Latin-1 e-acute), as old cameras and zips leave."""


def write_non_utf8_image(folder: Path) -> tuple[str, GoodCase]:
    """A good JPEG with a non-UTF-8 name; returns the name as the walk sees it (str)."""
    name = os.fsdecode(NON_UTF8_NAME)
    image = halves((30, 20), BLUE, RED, "RGB")
    with open(os.path.join(os.fsencode(folder), NON_UTF8_NAME), "wb") as out:
        out.write(encode_image(image, "JPEG", quality=95))
    return name, GoodCase(name, (30, 20), ((LEFT_RIGHT[0], BLUE), (LEFT_RIGHT[1], RED)), "RGB")


def write_collection(root: Path, *, links: bool = True, non_utf8: bool = True) -> Collection:
    """Every generated good and bad case in one folder, good ones partly in a subfolder."""
    collection = Collection(root)
    for name, case in write_good_images(root).items():
        collection.good[name] = case
    collection.bad.update(write_bad_files(root / "bad"))
    collection.bad = {f"bad/{name}": case for name, case in collection.bad.items()}
    if links:
        for name, case in write_bad_links(root / "links").items():
            collection.bad[f"links/{name}"] = case
    if non_utf8:
        name, case = write_non_utf8_image(root)
        collection.good[name] = case
    return collection


def sample_photo_paths() -> dict[str, Path]:
    """Real photographs shipped with scikit-image and matplotlib (installed for tests)."""
    import matplotlib.cbook
    import skimage

    skimage_data = Path(skimage.__file__).parent / "data"
    photos = {
        "rocket.jpg": skimage_data / "rocket.jpg",
        "hubble_deep_field.jpg": skimage_data / "hubble_deep_field.jpg",
        "chelsea.png": skimage_data / "chelsea.png",
        "camera.png": skimage_data / "camera.png",
        "logo.png": skimage_data / "logo.png",
        "no_time_for_that_tiny.gif": skimage_data / "no_time_for_that_tiny.gif",
        "grace_hopper.jpg": Path(
            str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
        ),
    }
    return {name: path for name, path in photos.items() if path.is_file()}


def copy_photos(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    photos = sample_photo_paths().items()
    return {name: Path(shutil.copy(path, folder / name)) for name, path in photos}


def make_big_photo_jpeg(size: tuple[int, int] = (3000, 2000), quality: int = 90) -> bytes:
    """A camera-sized JPEG with photo-like detail (an upscaled real photo plus grain)."""
    source = Image.open(sample_photo_paths()["rocket.jpg"]).convert("RGB")
    big = source.resize(size, Image.Resampling.BICUBIC)
    grain = np.random.default_rng(2).normal(0, 6, (size[1], size[0], 3))
    pixels = np.clip(np.asarray(big, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    return encode_image(Image.fromarray(pixels), "JPEG", quality=quality)


def colour_at(image: Image.Image, where: tuple[float, float]) -> tuple[int, int, int]:
    x = min(int(where[0] * image.width), image.width - 1)
    y = min(int(where[1] * image.height), image.height - 1)
    pixel = image.getpixel((x, y))
    assert isinstance(pixel, tuple)
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]))


def check_probes(image: Image.Image, case: GoodCase) -> list[str]:
    """Mismatches between ``image`` and what ``case`` says it shows (empty when right)."""
    problems = []
    for where, expected in case.probes:
        got = colour_at(image, where)
        if max(abs(a - b) for a, b in zip(got, expected, strict=True)) > case.tolerance:
            problems.append(f"{case.name} at {where}: got {got}, expected {expected}")
    return problems


NOBODY_UID = 65534


def run_as_other_user(function: Callable[[], Any]) -> Any:
    """Run ``function`` in a forked child that has given up root, and return its result.

    The tests run as root, and root reads a chmod-000 file anyway; the only honest way
    to meet a real EACCES here is to drop to an unprivileged user. The child reports
    its return value (or exception text) through a pipe.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            os.setgid(NOBODY_UID)
            os.setuid(NOBODY_UID)
            outcome: tuple[str, Any] = ("ok", function())
        except BaseException as exc:  # noqa: BLE001 - report anything to the parent
            outcome = ("error", f"{type(exc).__name__}: {exc}")
        with os.fdopen(write_end, "wb") as pipe:
            pickle.dump(outcome, pipe)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    os.waitpid(pid, 0)
    status, value = pickle.loads(payload)
    if status != "ok":
        raise AssertionError(f"child failed: {value}")
    return value


def make_shared_tempdir() -> Path:
    """A folder an unprivileged user can reach (pytest's tmp_path is root-only); remove it after."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="same-same-test-"))
    folder.chmod(0o777)
    return folder
