"""Query images cost a bounded amount: a low pixel limit, a reduced decode, a few at a time.

Issue 9: a 32 KB PNG claiming 12000x12000 1-bit pixels cost 660 MB per upload, and 8
concurrent uploads 6 GB, most of it still held when idle. Memory itself is measured
by ``bench/query_images.py``, not asserted here; these tests pin what bounds it.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

import same_same.server.app as server_app
from same_same.embedders.clip.preprocess import PreprocessConfig, preprocess_image
from same_same.errors import InvalidInputError
from same_same.imaging import MAX_IMAGE_PIXELS, convert_to_rgb, decode_image_bytes
from same_same.imaging.errors import ImageDecodeError, TooManyPixelsError
from same_same.imaging.query import (
    QUERY_MAX_PIXELS,
    QUERY_MIN_SIDE,
    QueryImageDecoder,
    QueryImagesBusyError,
    decode_query_image,
)
from same_same.imaging.reduce import reduce_to_rgb
from same_same.search import SearchService
from same_same.server.settings import ServerSettings
from same_same.storage import open_store
from same_same.vectors import VectorService
from server_fixtures import running_app_server

QUERY_LIMIT_TEXT = "query images may have at most 50 megapixels"


def encode_png(image: Image.Image, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb_png() -> bytes:
    """The issue's reproduction: a 32 KB PNG of 12000x12000 1-bit pixels."""
    return encode_png(Image.new("1", (12000, 12000), 1), optimize=True)


def smooth_picture(width: int, height: int) -> Image.Image:
    """A photo-like RGB image (smooth gradients and a few shapes) of any size, made small."""
    y, x = np.mgrid[0:96, 0:128].astype(np.float64)
    pixels = np.stack(
        [128 + 100 * np.sin(x / 17), 128 + 90 * np.cos(y / 13), 64 + 60 * np.sin((x + y) / 29)],
        axis=-1,
    )
    small = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return small.resize((width, height), Image.Resampling.BICUBIC)


# -- the pixel limit -------------------------------------------------------------


def test_the_issue_png_is_refused_as_a_query_naming_the_limit(bomb_png: bytes) -> None:
    assert MAX_IMAGE_PIXELS >= 12000 * 12000 > QUERY_MAX_PIXELS  # ingest still takes it
    with pytest.raises(TooManyPixelsError) as caught:
        decode_query_image(bomb_png)
    error = caught.value
    assert error.status == 400 and isinstance(error, ImageDecodeError)
    assert error.message == f"the image is 12000x12000 = 144 megapixels; {QUERY_LIMIT_TEXT}"
    assert error.hint is not None and "shrink the image" in error.hint
    assert (error.size, error.pixels, error.limit) == ((12000, 12000), 144_000_000, 50_000_000)


def test_an_image_over_pillows_own_limit_gets_the_query_message_too() -> None:
    from image_fixtures import make_png_header_only

    with pytest.raises(TooManyPixelsError, match=QUERY_LIMIT_TEXT):
        decode_query_image(make_png_header_only(40000, 40000))  # 1600 MP, header only


def test_a_lower_limit_is_stated_in_pixels() -> None:
    with pytest.raises(TooManyPixelsError) as caught:
        decode_query_image(encode_png(Image.new("RGB", (40, 30))), max_pixels=1000)
    assert caught.value.message == (
        "the image is 40x30 = 1,200 pixels; query images may have at most 1,000 pixels"
    )


def test_ingest_decodes_the_issue_png_at_reduced_size(bomb_png: bytes) -> None:
    decoded = decode_image_bytes(bomb_png, min_side=224)
    assert (decoded.width, decoded.height) == (12000, 12000)  # the file's own size
    assert decoded.image.mode == "RGB"
    assert 2 * 224 <= min(decoded.image.size) < 3 * 224  # 12000 // 448 = 26 times smaller
    assert decoded.image.getpixel((10, 10)) == (255, 255, 255)


# -- reduced decoding -------------------------------------------------------------


def test_a_big_png_query_is_decoded_at_reduced_size() -> None:
    data = encode_png(Image.new("L", (6000, 4000), 90))  # 24 MP: allowed for a query
    image = decode_query_image(data)
    assert image.mode == "RGB"
    assert image.size == (2000, 1334)  # 4000 // (2 * 512) = 3 times smaller
    assert min(image.size) >= 2 * QUERY_MIN_SIDE
    assert image.getpixel((0, 0)) == (90, 90, 90)


def test_a_big_jpeg_query_is_draft_decoded() -> None:
    buffer = io.BytesIO()
    smooth_picture(4000, 3000).save(buffer, "JPEG", quality=90)
    image = decode_query_image(buffer.getvalue())
    assert image.size == (1000, 750)  # libjpeg's 1/4 scale: both sides still >= 512


def test_a_small_query_image_is_decoded_as_before() -> None:
    picture = smooth_picture(640, 480)
    data = encode_png(picture)
    assert np.array_equal(np.asarray(decode_query_image(data)), np.asarray(picture))
    assert np.array_equal(
        np.asarray(decode_image_bytes(data, min_side=224).image), np.asarray(picture)
    )


def test_a_reduced_decode_gives_the_model_the_same_pixels_to_within_rounding() -> None:
    picture = smooth_picture(4800, 3600)  # 17 MP, over the reduction threshold
    data = encode_png(picture)
    reduced = decode_query_image(data)
    assert reduced.size == (1600, 1200)
    config = PreprocessConfig()
    full = preprocess_image(picture, config)
    from_reduced = preprocess_image(reduced, config)
    # normalised pixels span about 4 units; one 8-bit level is 0.015 of them
    assert float(np.abs(full - from_reduced).mean()) < 0.01
    assert float(np.abs(full - from_reduced).max()) < 0.1


def test_an_upright_reduced_image_keeps_its_exif_turn() -> None:
    picture = Image.new("L", (6000, 3000), 0)
    picture.paste(255, (0, 0, 3000, 3000))  # white left half
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: shown turned 90 degrees clockwise
    data = encode_png(picture, exif=exif)
    image = decode_query_image(data)
    assert image.size == (1500, 3000)  # reduced 2 times, then turned
    assert image.getpixel((750, 100)) == (255, 255, 255)  # the white half is now on top
    assert image.getpixel((750, 2900)) == (0, 0, 0)


def _mode_cases() -> dict[str, Image.Image]:
    rng = np.random.default_rng(0)
    rgba = Image.fromarray(rng.integers(0, 256, (301, 257, 4), dtype=np.uint8), "RGBA")
    palette = rgba.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE)
    see_through = palette.copy()
    see_through.info["transparency"] = 3
    return {
        "1": rgba.convert("L").convert("1"),
        "L": rgba.convert("L"),
        "LA": rgba.convert("LA"),
        "P": palette,
        "P+transparency": see_through,
        "RGB": rgba.convert("RGB"),
        "RGBA": rgba,
        "CMYK": rgba.convert("CMYK"),
        "I;16": Image.fromarray(rng.integers(0, 65535, (301, 257), dtype=np.uint16)),
        "I": Image.fromarray(rng.integers(0, 300, (301, 257), dtype=np.int32)),
        "F": Image.fromarray(rng.random((301, 257), dtype=np.float32)),
    }


@pytest.mark.parametrize("mode", list(_mode_cases()))
@pytest.mark.parametrize("factor", [2, 7])
def test_strip_reduction_matches_reducing_the_whole_rgb_image(
    mode: str, factor: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from same_same.imaging import reduce

    monkeypatch.setattr(reduce, "STRIP_PIXELS", 5000)  # many strips, a remainder at the end
    image = _mode_cases()[mode]
    got = np.asarray(reduce_to_rgb(image, factor)).astype(int)
    want = np.asarray(convert_to_rgb(image).reduce(factor)).astype(int)
    assert got.shape == want.shape
    # 8-bit modes are exact; wide greys are scaled to 8 bits after reducing, not before
    tolerance = 1 if mode in ("I;16", "I", "F") else 0
    assert int(np.abs(got - want).max()) <= tolerance


# -- a bounded number of decodes at once ---------------------------------------------


class GatedDecoder(QueryImageDecoder):
    """The real decoder whose decodes wait until the test opens the gate (a test hook)."""

    made: list[GatedDecoder] = []

    def __init__(self, **options: Any) -> None:
        super().__init__(**options, decode=self._decode_when_open)
        self.gate = threading.Event()
        self.decoded = 0
        self.discarded: list[Image.Image] = []
        GatedDecoder.made.append(self)

    def discard(self, picture: Image.Image) -> None:
        super().discard(picture)
        self.discarded.append(picture)

    def _decode_when_open(self, data: bytes) -> Image.Image:
        assert self.gate.wait(timeout=60), "the test never opened the gate"
        image = decode_query_image(data, max_pixels=self.max_pixels)
        self.decoded += 1
        return image


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def text_store(tmp_path: Path) -> Path:
    """A store with one text namespace: enough for a server, no image model needed."""
    with open_store(tmp_path) as store:
        VectorService(store).add_text("a red sunset", record_id="sunset", namespace="quotes")
    return tmp_path


def test_the_server_decodes_at_most_its_setting_at_once(
    text_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_app, "QueryImageDecoder", GatedDecoder)
    GatedDecoder.made.clear()
    settings = ServerSettings(data_dir=text_store, query_image_decodes=2)
    upload = encode_png(smooth_picture(64, 48))
    answers: list[httpx.Response] = []
    with running_app_server(settings) as base_url:

        def search() -> None:
            answers.append(
                httpx.post(
                    base_url + "/api/v1/search/image",
                    files={"file": ("q.png", upload, "image/png")},
                    timeout=120,
                )
            )

        clients = [threading.Thread(target=search) for _ in range(5)]
        for client in clients:
            client.start()
        wait_until(lambda: GatedDecoder.made, "the first upload")
        decoder = GatedDecoder.made[0]
        wait_until(lambda: decoder.active == 2 and decoder.waiting == 3, "5 uploads in")
        decoder.gate.set()
        for client in clients:
            client.join(timeout=120)
    assert len(GatedDecoder.made) == 1 and decoder.slots == 2
    assert decoder.peak == 2 and decoder.decoded == 5
    # every picture was freed once its search was done, though each search failed
    assert len(decoder.discarded) == 5
    with pytest.raises(ValueError, match="closed"):
        decoder.discarded[0].getpixel((0, 0))
    assert (decoder.active, decoder.waiting) == (0, 0)
    # decoded, then refused for the right reason: a text namespace cannot answer images
    assert [answer.status_code for answer in answers] == [400] * 5
    assert all("image query" in answer.json()["error"]["message"] for answer in answers)


def test_the_pixel_limit_is_a_server_setting(text_store: Path) -> None:
    settings = ServerSettings(data_dir=text_store, query_image_max_pixels=1000)
    picture = encode_png(Image.new("RGB", (40, 30)))
    with running_app_server(settings) as base_url:
        as_file = httpx.post(
            base_url + "/api/v1/search/image",
            files={"file": ("q.png", picture, "image/png")},
            timeout=60,
        )
        as_json = httpx.post(
            base_url + "/api/v1/search/image",
            json={"image": base64.b64encode(picture).decode()},
            timeout=60,
        )
    for answer in (as_file, as_json):
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["code"] == "image_decode_error"
        assert error["message"].endswith("query images may have at most 1,000 pixels")


def _hold_turns(decoder: QueryImageDecoder, holders: int, then: Any) -> Any:
    """Run ``then()`` in the event loop while ``holders`` tasks hold decode turns."""
    import anyio

    async def main() -> Any:
        release = anyio.Event()

        async def hold() -> None:
            async with decoder.turn():
                await release.wait()

        async with anyio.create_task_group() as group:
            for _ in range(holders):
                group.start_soon(hold)
            while decoder.active < holders:
                await anyio.sleep(0.01)
            try:
                return await then()
            finally:
                release.set()

    return anyio.run(main)


def test_a_request_that_gets_no_turn_in_time_is_told_the_server_is_busy() -> None:
    decoder = QueryImageDecoder(slots=1, wait_seconds=0.05)

    async def try_for_a_turn() -> QueryImagesBusyError:
        with pytest.raises(QueryImagesBusyError) as caught:
            async with decoder.turn():
                pytest.fail("got a turn that was taken")
        return caught.value

    error = _hold_turns(decoder, 1, try_for_a_turn)
    assert error.status == 503 and error.code == "busy"
    assert "busy decoding 1 query images" in error.message
    assert (decoder.active, decoder.waiting, decoder.peak) == (0, 0, 1)


def test_a_full_queue_is_refused_at_once() -> None:
    decoder = QueryImageDecoder(slots=1, max_waiting=0, wait_seconds=600)

    async def try_for_a_turn() -> None:
        with pytest.raises(QueryImagesBusyError, match="0 more waiting"):
            async with decoder.turn():
                pytest.fail("got a turn that was taken")

    _hold_turns(decoder, 1, try_for_a_turn)


def test_decoder_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match="empty"):
        QueryImageDecoder().decode(b"")
    with pytest.raises(InvalidInputError, match="at least 1"):
        QueryImageDecoder(slots=0)
    with pytest.raises(InvalidInputError, match="query_image_decodes"):
        ServerSettings(data_dir=tmp_path, query_image_decodes=0)
    with pytest.raises(InvalidInputError, match="query_image_max_pixels"):
        ServerSettings(data_dir=tmp_path, query_image_max_pixels=-5)


# -- the library path (the CLI's `search --image`) -----------------------------------


def test_search_service_refuses_the_issue_png(text_store: Path, bomb_png: bytes) -> None:
    with open_store(text_store) as store:
        with pytest.raises(TooManyPixelsError, match=QUERY_LIMIT_TEXT):
            SearchService(store).search_image(bomb_png, namespace="quotes")


@pytest.fixture(scope="module")
def clip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Path]]]:
    pytest.importorskip("torch", reason="needs the [clip] extra")
    pytest.importorskip("open_clip", reason="needs the [clip] extra")
    from conftest import run_cli
    from same_same.synthetic import write_image_folder
    from server_fixtures import running_server

    env = {"SAME_SAME_CLIP_MODEL": "same-same-tiny-clip", "HF_HUB_OFFLINE": "1"}
    work = tmp_path_factory.mktemp("query-images")
    scenes = write_image_folder(work / "photos", n=6, seed=11, size=96)
    done = run_cli(
        "ingest", "-e", "clip", "-n", "photos", "images:./photos",
        data_dir=work / "store", env=env, cwd=work,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with running_server(work / "store", env=env) as base_url:
        yield base_url, [path for path, _, _ in scenes]


@pytest.mark.clip
def test_clip_server_answers_the_issue_png_with_a_400_and_keeps_serving(
    clip_server: tuple[str, list[Path]], bomb_png: bytes
) -> None:
    base_url, paths = clip_server
    upload = httpx.post(
        base_url + "/api/v1/search/image",
        files={"file": ("b.png", bomb_png, "image/png")},
        data={"namespace": "photos"},
        timeout=120,
    )
    assert upload.status_code == 400, upload.text
    assert upload.json()["error"]["message"].endswith(QUERY_LIMIT_TEXT)
    as_json = httpx.post(
        base_url + "/api/v1/search/image",
        json={"image": base64.b64encode(bomb_png).decode(), "namespace": "photos"},
        timeout=120,
    )
    assert as_json.status_code == 400, as_json.text
    # a big but allowed copy of a stored picture still finds it first
    picture = paths[2]
    with Image.open(picture) as small:
        big = encode_png(small.convert("RGB").resize((4200, 4200), Image.Resampling.BICUBIC))
    found = httpx.post(
        base_url + "/api/v1/search/image",
        files={"file": ("big.png", big, "image/png")},
        data={"namespace": "photos", "limit": "3"},
        timeout=120,
    )
    assert found.status_code == 200, found.text
    assert found.json()["results"][0]["metadata"]["filename"] == picture.name
    # and a 9-megapixel JPEG of it, decoded at 1/4 scale inside libjpeg, ranks it first too
    buffer = io.BytesIO()
    with Image.open(picture) as small:
        small.convert("RGB").resize((3000, 3000), Image.Resampling.BICUBIC).save(buffer, "JPEG")
    as_jpeg = httpx.post(
        base_url + "/api/v1/search/image",
        json={"image": base64.b64encode(buffer.getvalue()).decode(), "namespace": "photos"},
        timeout=120,
    )
    assert as_jpeg.status_code == 200, as_jpeg.text
    assert as_jpeg.json()["results"][0]["metadata"]["filename"] == picture.name
