"""Thumbnails: rendering, EXIF orientation, the on-disk cache and its invalidation."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

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
from server_fixtures import fetch_json, running_app_server


def image_record(record_id: str, path: Path) -> Record:
    """A record as the image ingest writes it: the file's sha256 is its content hash."""
    content_hash = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
    return Record(
        id=record_id,
        vector=np.zeros(4, dtype=np.float32),
        metadata={"type": "image", "filename": path.name, "path": path.name, "abs_path": str(path)},
        content_hash=content_hash,
        from_image_ingest=True,
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


@pytest.mark.parametrize(
    ("value", "served"),
    [("1", 64), ("32", 64), (" 64 ", 64), ("65", 128), ("256", 256), ("300", 512), (1024, 1024)],
)
def test_a_size_is_served_by_the_next_fixed_size(value: object, served: int) -> None:
    # A few fixed sizes, so a record has at most that many cached thumbnails.
    assert check_thumbnail_size(value) == served


@pytest.mark.parametrize(
    "value", ["1025", "0", "-5", "abc", "12.5", "", None, "²", "9" * 400]
)
def test_size_out_of_range_or_malformed_is_refused_with_a_hint(value: object) -> None:
    with pytest.raises(InvalidInputError) as info:
        check_thumbnail_size(value)
    assert info.value.status == 400
    assert "1..1024" in (info.value.hint or "")


def test_every_size_in_range_maps_to_one_of_five_files() -> None:
    assert {check_thumbnail_size(size) for size in range(1, 1025)} == {64, 128, 256, 512, 1024}


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
    old = cache.get("photo", open_image_file(image_record("photo", source)), 64)

    Image.new("RGB", (100, 50), (0, 0, 255)).save(source)
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    reingested = image_record("photo", source)
    new = cache.get("photo", open_image_file(reingested), 64)

    assert new.path != old.path and new.etag != old.etag
    assert not old.path.exists(), "the stale thumbnail should be removed"
    thumb = decode(new.path.read_bytes()).convert("RGB")
    assert thumb.size == (64, 32)
    pixel = thumb.getpixel((32, 16))
    assert isinstance(pixel, tuple) and pixel[2] > 200


def test_a_file_changed_since_ingest_is_not_served(tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    Image.new("RGB", (10, 10), (255, 0, 0)).save(source)
    record = image_record("photo", source)
    open_image_file(record)
    Image.new("RGB", (10, 10), (0, 255, 0)).save(source)
    os.utime(source, ns=(1, 1))
    with pytest.raises(ImageMissingError) as info:
        open_image_file(record)
    assert info.value.status == 404 and "ingest" in (info.value.hint or "")
    assert str(source) not in str(info.value) and source.name not in str(info.value)


def test_a_path_in_metadata_alone_does_not_unlock_a_file(tmp_path: Path) -> None:
    # Metadata can be written through the API; only the content hash the ingest
    # recorded ties a record to a file.
    secret = tmp_path / "secret.png"
    Image.new("RGB", (10, 10)).save(secret)
    forged = Record(id="forged", vector=np.zeros(4, dtype=np.float32),
                    metadata={"type": "image", "abs_path": str(secret)})
    with pytest.raises(ImageMissingError):
        open_image_file(forged)
    forged.content_hash = "0" * 64
    with pytest.raises(ImageMissingError):
        open_image_file(forged)
    # nor does the right hash: only the image ingest's own records are served
    forged.content_hash = hashlib.sha256(secret.read_bytes()).hexdigest()
    with pytest.raises(ImageMissingError) as info:
        open_image_file(forged)
    assert str(secret) not in str(info.value)
    forged.from_image_ingest = True
    assert open_image_file(forged).path == secret


def test_hostile_ids_stay_inside_the_cache_folder(tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    Image.new("RGB", (10, 10)).save(source)
    cache = ThumbnailCache(tmp_path / "data")
    for record_id in ["../../escape", "/etc/passwd", "a\0b", "..", "x" * 500]:
        thumb = cache.get(record_id, open_image_file(image_record(record_id, source)), 32)
        assert thumb.path.resolve().is_relative_to((tmp_path / "data" / "thumbnails").resolve())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "photo.png"]
    assert cache.clear() == 5


def test_file_names_that_are_not_utf8_are_found(tmp_path: Path) -> None:
    raw_name = os.fsdecode(b"caf\xe9.png")  # Latin-1, as old cameras and zips write them
    path = tmp_path / raw_name
    Image.new("RGB", (10, 10)).save(path, format="PNG")
    shown = os.fsencode(str(path)).decode("utf-8", "backslashreplace")  # as the source stores it
    record = Record(id="x", vector=np.zeros(4, dtype=np.float32),
                    metadata={"type": "image", "abs_path": shown},
                    content_hash=hashlib.sha256(path.read_bytes()).hexdigest(),
                    from_image_ingest=True)
    assert open_image_file(record).path == path


# -- over HTTP: a real server on 127.0.0.1 serving a real store ---------------------


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A store holding a few image records and a text record, served by uvicorn."""
    from same_same.records import EmbeddingSpace
    from same_same.server import ServerSettings
    from same_same.storage import open_store
    root = tmp_path_factory.mktemp("media")
    photos = root / "photos"
    photos.mkdir()
    Image.new("RGB", (300, 150), (200, 30, 30)).save(photos / "wide.png")
    save_two_colour_image(photos / "turned.jpg", orientation=6)
    Image.new("RGB", (20, 20), (0, 0, 200)).save(photos / "gone.png")
    Image.new("RGB", (20, 20), (0, 200, 0)).save(photos / "victim.png")
    data_dir = root / "store"
    vector = np.array([1, 0, 0, 0], dtype=np.float32)
    with open_store(data_dir) as store:
        store.ensure_namespace("pics", EmbeddingSpace("test", "fixed", "", 4))
        records = [image_record(f"id-{p.stem}", p) for p in sorted(photos.iterdir())]
        for record in records:
            record.vector = vector
        records.append(Record(id="quote", vector=vector, text="a text record",
                              metadata={"type": "text"}))
        store.upsert("pics", records)
    (photos / "gone.png").unlink()
    with running_app_server(ServerSettings(data_dir=data_dir)) as base_url:
        yield base_url, data_dir


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def assert_error(body: bytes, status: int, code: str) -> dict[str, Any]:
    error = json.loads(body)["error"]
    assert error["status"] == status and error["code"] == code, error
    assert error["message"]
    return dict(error)


def test_thumbnail_endpoint_serves_a_cached_upright_jpeg(media_server: tuple[str, Path]) -> None:
    base_url, data_dir = media_server
    status, headers, body = http_get(f"{base_url}/api/v1/vectors/id-turned/thumbnail?size=64")
    assert status == 200, body
    assert headers["content-type"] == "image/jpeg"
    assert headers["cache-control"].startswith("private")
    thumb = decode(body)
    assert thumb.size == (32, 64)  # 80x40 turned upright, then fitted in 64
    cached = list((data_dir / "thumbnails").glob("*/*.jpg"))
    assert any(path.read_bytes() == body for path in cached)

    status, again, _ = http_get(f"{base_url}/api/v1/vectors/id-turned/thumbnail?size=64",
                                {"If-None-Match": headers["etag"]})
    assert status == 304
    assert again["etag"] == headers["etag"]


def test_thumbnail_default_size_is_256(media_server: tuple[str, Path]) -> None:
    base_url, _ = media_server
    status, _, body = http_get(f"{base_url}/api/v1/vectors/id-wide/thumbnail")
    assert status == 200
    assert decode(body).size == (256, 128)


@pytest.mark.parametrize("size", ["0", "5000", "big", "-1"])
def test_bad_thumbnail_size_is_a_400_in_the_error_shape(
    media_server: tuple[str, Path], size: str
) -> None:
    base_url, _ = media_server
    status, _, body = http_get(f"{base_url}/api/v1/vectors/id-wide/thumbnail?size={size}")
    assert status == 400
    assert "1..1024" in assert_error(body, 400, "invalid_input")["hint"]


@pytest.mark.parametrize(
    ("record_id", "code"),
    [("nope", "record_not_found"), ("quote", "no_image"), ("id-gone", "image_missing")],
)
@pytest.mark.parametrize("what", ["thumbnail", "image"])
def test_missing_pictures_are_404s(
    media_server: tuple[str, Path], record_id: str, code: str, what: str
) -> None:
    base_url, _ = media_server
    status, _, body = http_get(f"{base_url}/api/v1/vectors/{record_id}/{what}")
    assert status == 404
    assert_error(body, 404, code)


def test_original_is_served_with_its_content_type(media_server: tuple[str, Path]) -> None:
    base_url, _ = media_server
    status, headers, body = http_get(f"{base_url}/api/v1/vectors/id-wide/image")
    assert status == 200
    assert headers["content-type"] == "image/png"
    assert headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in headers["content-security-policy"]
    assert decode(body).size == (300, 150)
    status, _, _ = http_get(f"{base_url}/api/v1/vectors/id-wide/image",
                            {"If-None-Match": headers["etag"]})
    assert status == 304

    status, headers, _ = http_get(f"{base_url}/api/v1/vectors/id-turned/image")
    assert status == 200 and headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize(
    "path",
    [
        "..%2F..%2F..%2Fetc%2Fpasswd/image",
        "%2Fetc%2Fpasswd/image",
        "id-wide%2F..%2F..%2Fstore/image",
        "id-wide/image?path=/etc/passwd",
    ],
)
def test_request_paths_never_reach_the_filesystem(
    media_server: tuple[str, Path], path: str
) -> None:
    base_url, _ = media_server
    status, headers, body = http_get(f"{base_url}/api/v1/vectors/{path}")
    if status == 200:  # only the record's own file, whatever else the URL says
        assert decode(body).size == (300, 150)
    else:
        assert status == 404 and b"root:" not in body


def test_records_written_through_the_api_cannot_expose_files(
    media_server: tuple[str, Path], tmp_path: Path
) -> None:
    base_url, data_dir = media_server
    secret = tmp_path / "private.png"
    Image.new("RGB", (10, 10)).save(secret)
    targets = [str(secret), "/etc/passwd", str(data_dir / "same-same.db")]
    for index, target in enumerate(targets):
        metadata = {"type": "image", "abs_path": target, "path": target}
        status, body = fetch_json("POST", f"{base_url}/api/v1/vectors", {
            "id": f"forged-{index}", "namespace": "pics", "embedding": [1, 0, 0, 0],
            "metadata": metadata,
        })
        assert status == 201, body
        for what in ("image", "thumbnail"):
            status, _, payload = http_get(f"{base_url}/api/v1/vectors/forged-{index}/{what}")
            assert status == 404, payload[:200]
            assert_error(payload, 404, "image_missing")
            assert target not in payload.decode()
    # nor can an ingested record be re-pointed by rewriting its metadata
    assert http_get(f"{base_url}/api/v1/vectors/id-victim/image")[0] == 200
    status, body = fetch_json("PUT", f"{base_url}/api/v1/vectors/id-victim?namespace=pics", {
        "metadata": {"type": "image", "abs_path": str(secret)},
    })
    assert status == 200, body
    status, _, payload = http_get(f"{base_url}/api/v1/vectors/id-victim/image")
    assert status == 404
    assert_error(payload, 404, "image_missing")
    assert str(secret) not in payload.decode()


def test_pictures_are_behind_the_api_key(tmp_path: Path) -> None:
    from same_same.server import ServerSettings
    with running_app_server(ServerSettings(data_dir=tmp_path / "s", api_key="sesame")) as base:
        status, _, body = http_get(f"{base}/api/v1/vectors/x/thumbnail")
        assert status == 401
        assert_error(body, 401, "unauthorized")
        status, _, body = http_get(f"{base}/api/v1/vectors/x/thumbnail",
                                   {"Authorization": "Bearer sesame"})
        assert status == 404
        # the page and its assets stay open so a browser can ask for the key
        assert http_get(f"{base}/")[0] == 200
        assert http_get(f"{base}/static/app.js")[0] == 200


def test_a_very_large_bilevel_image_renders_through_the_reduced_decode(tmp_path: Path) -> None:
    # 18 MP, past REDUCE_ABOVE_PIXELS: strip-reduced in mode "1", never converted whole
    path = tmp_path / "scan.png"
    picture = Image.new("1", (6000, 3000), 1)
    picture.paste(0, (0, 0, 3000, 3000))  # left half black
    picture.save(path, optimize=True)
    thumbnail = Image.open(BytesIO(render_thumbnail(path, 256)))
    assert thumbnail.size == (256, 128) and thumbnail.mode == "RGB"
    assert thumbnail.getpixel((10, 64))[0] < 40 and thumbnail.getpixel((245, 64))[0] > 215
