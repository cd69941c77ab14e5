"""Thumbnails: rendering, EXIF orientation, the on-disk cache and its invalidation."""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from same_same.errors import InvalidInputError
from same_same.records import Record
from same_same.thumbnails import (
    ImageMissingError,
    ImageUnreadableError,
    NoImageError,
    ThumbnailCache,
    check_thumbnail_size,
    open_image_file,
    render_thumbnail,
)


def image_record(record_id: str, path: Path) -> Record:
    return Record(
        id=record_id,
        vector=np.zeros(4, dtype=np.float32),
        metadata={"type": "image", "filename": path.name, "path": path.name, "abs_path": str(path)},
    )


def decode(data: bytes) -> Image.Image:
    image = Image.open(BytesIO(data))
    image.load()
    return image


def save_two_colour_image(path: Path, orientation: int | None = None) -> None:
    """80x40: left half red, right half blue; optionally tagged with an EXIF orientation."""
    image = Image.new("RGB", (80, 40), (255, 0, 0))
    image.paste((0, 0, 255), (40, 0, 80, 40))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(path, format="JPEG", quality=95, exif=exif.tobytes())


@pytest.mark.parametrize("value", ["32", "256", 1024, " 64 "])
def test_size_in_range_is_accepted(value: object) -> None:
    assert check_thumbnail_size(value) == int(str(value).strip())


@pytest.mark.parametrize("value", ["31", "1025", "0", "-5", "abc", "12.5", "", None, "²"])
def test_size_out_of_range_or_malformed_is_refused_with_a_hint(value: object) -> None:
    with pytest.raises(InvalidInputError) as info:
        check_thumbnail_size(value)
    assert info.value.status == 400
    assert "32..1024" in (info.value.hint or "")


def test_thumbnail_fits_the_box_and_keeps_the_aspect_ratio(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    Image.new("RGB", (400, 100), (0, 128, 0)).save(path)
    thumb = decode(render_thumbnail(path, 64))
    assert thumb.format == "JPEG"
    assert thumb.size == (64, 16)


def test_small_images_are_not_enlarged(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (40, 30), (0, 128, 0)).save(path)
    assert decode(render_thumbnail(path, 256)).size == (40, 30)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    # Orientation 6 means "rotate 90 degrees clockwise to display": the red left half
    # ends up on top and the image becomes tall.
    path = tmp_path / "rotated.jpg"
    save_two_colour_image(path, orientation=6)
    thumb = decode(render_thumbnail(path, 256)).convert("RGB")
    assert thumb.size == (40, 80)
    top = thumb.getpixel((20, 10))
    bottom = thumb.getpixel((20, 70))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_unrotated_jpeg_stays_wide(tmp_path: Path) -> None:
    path = tmp_path / "plain.jpg"
    save_two_colour_image(path)
    assert decode(render_thumbnail(path, 256)).size == (80, 40)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "CMYK", "I;16"])
def test_any_pixel_mode_becomes_an_rgb_jpeg(tmp_path: Path, mode: str) -> None:
    path = tmp_path / f"mode.{'tiff' if mode in ('CMYK', 'I;16') else 'png'}"
    Image.new(mode, (50, 50)).save(path)
    thumb = decode(render_thumbnail(path, 32))
    assert thumb.mode == "RGB"
    assert thumb.size == (32, 32)


def test_transparency_is_flattened_onto_white(tmp_path: Path) -> None:
    path = tmp_path / "clear.png"
    Image.new("RGBA", (20, 20), (255, 0, 0, 0)).save(path)
    pixel = decode(render_thumbnail(path, 32)).getpixel((10, 10))
    assert isinstance(pixel, tuple) and min(pixel) > 240, pixel


def test_corrupt_file_is_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(ImageUnreadableError):
        render_thumbnail(path, 64)


def test_text_records_have_no_image() -> None:
    record = Record(id="t1", vector=np.zeros(4, dtype=np.float32), text="hello",
                    metadata={"type": "text"})
    with pytest.raises(NoImageError) as info:
        open_image_file(record)
    assert info.value.status == 404


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    record = image_record("gone", tmp_path / "gone.png")
    with pytest.raises(ImageMissingError) as info:
        open_image_file(record)
    assert info.value.status == 404


def test_relative_path_alone_is_not_trusted(tmp_path: Path) -> None:
    # Without an absolute path the file cannot be found safely; resolving the relative
    # one against the server's working directory would serve the wrong file.
    record = Record(id="r", vector=np.zeros(4, dtype=np.float32),
                    metadata={"type": "image", "path": "../../etc/passwd"})
    with pytest.raises(ImageMissingError):
        open_image_file(record)


def test_original_media_type_follows_the_extension(tmp_path: Path) -> None:
    for name, expected in [("a.png", "image/png"), ("b.JPG", "image/jpeg"),
                           ("c.webp", "image/webp"), ("d.gif", "image/gif")]:
        path = tmp_path / name
        path.write_bytes(b"x")
        assert open_image_file(image_record(name, path)).media_type == expected


def test_cache_renders_once_and_reuses_the_file(tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    Image.new("RGB", (300, 200), (10, 20, 30)).save(source)
    cache = ThumbnailCache(tmp_path / "data")
    record = image_record("photo", source)

    first = cache.get("photo", open_image_file(record), 128)
    assert first.path.is_file()
    assert first.path.is_relative_to(tmp_path / "data" / "thumbnails")
    assert decode(first.path.read_bytes()).size == (128, 85)
    # Mark the cached file so a re-render would be visible.
    os.utime(first.path, ns=(1, 1))

    second = cache.get("photo", open_image_file(record), 128)
    assert second == first
    assert second.path.stat().st_mtime_ns == 1

    other_size = cache.get("photo", open_image_file(record), 64)
    assert other_size.path != first.path and other_size.etag != first.etag
    assert first.path.is_file()


def test_cache_is_invalidated_when_the_file_changes(tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    Image.new("RGB", (100, 100), (255, 0, 0)).save(source)
    cache = ThumbnailCache(tmp_path / "data")
    record = image_record("photo", source)
    old = cache.get("photo", open_image_file(record), 64)

    Image.new("RGB", (100, 50), (0, 0, 255)).save(source)
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    new = cache.get("photo", open_image_file(record), 64)

    assert new.path != old.path and new.etag != old.etag
    assert not old.path.exists(), "the stale thumbnail should be removed"
    thumb = decode(new.path.read_bytes()).convert("RGB")
    assert thumb.size == (64, 32)
    pixel = thumb.getpixel((32, 16))
    assert isinstance(pixel, tuple) and pixel[2] > 200


def test_hostile_ids_stay_inside_the_cache_folder(tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    Image.new("RGB", (10, 10)).save(source)
    cache = ThumbnailCache(tmp_path / "data")
    for record_id in ["../../escape", "/etc/passwd", "a\0b", "..", "x" * 500]:
        thumb = cache.get(record_id, open_image_file(image_record(record_id, source)), 32)
        assert thumb.path.resolve().is_relative_to((tmp_path / "data" / "thumbnails").resolve())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "photo.png"]
    assert cache.clear() == 5
