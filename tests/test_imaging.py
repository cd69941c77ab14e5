"""Decoding single image files: every colour mode and container, and every way a file is bad."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from image_fixtures import (
    GoodCase,
    check_probes,
    encode_image,
    make_big_photo_jpeg,
    make_png_header_only,
    make_shared_tempdir,
    run_as_other_user,
    sample_photo_paths,
    write_bad_files,
    write_bad_links,
    write_good_images,
    write_non_utf8_image,
)
from same_same.errors import SameSameError
from same_same.imaging import (
    MAX_IMAGE_PIXELS,
    ImageDecodeError,
    decode_image,
    decode_image_bytes,
    load_image,
    read_image_size,
)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, GoodCase]]:
    folder = tmp_path_factory.mktemp("good")
    return folder, write_good_images(folder)


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "camera.jpg"
    path.write_bytes(make_big_photo_jpeg((3000, 2000)))
    return path


GOOD_NAMES = [
    "rgb.jpg", "UPPER.JPEG", "cmyk.jpg", "palette.png", "gray16.png", "rgba.png",
    "gray_alpha.png", "gray.png", "animated.gif", "exif_rotated.jpg", "bitmap.bmp",
    "lossless.webp", "png_named.jpg",
]


def test_every_good_case_is_generated(good: tuple[Path, dict[str, GoodCase]]) -> None:
    assert sorted(good[1]) == sorted(GOOD_NAMES)


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_files_decode_to_upright_rgb(
    good: tuple[Path, dict[str, GoodCase]], name: str
) -> None:
    folder, cases = good
    case = cases[name]
    with Image.open(folder / name) as original:
        assert original.mode == case.mode_on_disk  # the file really is the case it claims
    decoded = decode_image(folder / name)
    assert decoded.image.mode == "RGB"
    assert (decoded.width, decoded.height) == case.size
    assert decoded.image.size == case.size
    assert check_probes(decoded.image, case) == []
    assert read_image_size(folder / name) == case.size


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_bytes_and_path_decode_alike(good: tuple[Path, dict[str, GoodCase]], name: str) -> None:
    folder, _ = good
    from_path = np.asarray(load_image(folder / name))
    from_bytes = np.asarray(decode_image_bytes((folder / name).read_bytes()).image)
    assert np.array_equal(from_path, from_bytes)


def test_sixteen_bit_grey_is_scaled_not_clipped(good: tuple[Path, dict[str, GoodCase]]) -> None:
    # Pillow's own convert("L") turns 32768 into 255; a half-scale grey must stay mid grey
    folder, _ = good
    pixels = np.asarray(load_image(folder / "gray16.png"))
    assert tuple(pixels[0, 15]) == (128, 128, 128)


def test_animated_gif_gives_its_first_frame(good: tuple[Path, dict[str, GoodCase]]) -> None:
    folder, _ = good
    with Image.open(folder / "animated.gif") as gif:
        assert getattr(gif, "n_frames", 1) == 3
    assert load_image(folder / "animated.gif").getpixel((12, 12)) == (255, 0, 0)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("corrupt.png", "corrupt"),
        ("truncated.jpg", "truncated"),
        ("empty.jpg", "empty file"),
        ("notes.jpg", "not an image"),
        ("bomb.png", "decompression bomb"),
    ],
)
def test_bad_files_raise_with_a_reason(tmp_path: Path, name: str, reason: str) -> None:
    cases = write_bad_files(tmp_path)
    assert cases[name].reason == reason
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(tmp_path / name)
    assert reason in caught.value.reason
    assert "\n" not in caught.value.reason
    with pytest.raises(ImageDecodeError) as caught_bytes:
        decode_image_bytes((tmp_path / name).read_bytes())
    assert caught_bytes.value.reason == caught.value.reason


def test_decode_error_is_a_typed_user_error() -> None:
    error = ImageDecodeError("truncated")
    assert isinstance(error, SameSameError)
    assert error.reason == "truncated" and str(error) == "truncated"
    assert error.status == 400 and error.code == "image_decode_error"


def test_links_and_missing_files_raise_not_hang(tmp_path: Path) -> None:
    write_bad_links(tmp_path)
    with pytest.raises(ImageDecodeError, match="symlink loop"):
        load_image(tmp_path / "self_loop.jpg")
    with pytest.raises(ImageDecodeError, match="file not found"):
        load_image(tmp_path / "broken_link.png")
    with pytest.raises(ImageDecodeError, match="folder"):
        load_image(tmp_path)


def test_bomb_is_refused_even_when_pillow_check_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_bad_files(tmp_path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        load_image(tmp_path / "bomb.png")


@pytest.mark.parametrize("action", ["error", "ignore"])
def test_pixel_limit_between_pillow_warning_and_error_is_an_error(action: str) -> None:
    # Just over the limit Pillow only warns. Importing same_same.imaging turns that
    # warning into an error; pytest resets warning filters per test, so both ways are
    # exercised here: raised by Pillow ("error"), or caught by our own size check.
    side = int(MAX_IMAGE_PIXELS**0.5) + 10
    with warnings.catch_warnings():
        warnings.simplefilter(action, Image.DecompressionBombWarning)
        with pytest.raises(ImageDecodeError, match="too many pixels"):
            decode_image_bytes(make_png_header_only(side, side))


def test_formats_outside_the_supported_set_are_not_opened(tmp_path: Path) -> None:
    # a Targa file renamed .jpg: Pillow could open it, but a photo ingest must not
    # hand arbitrary plugins (EPS runs Ghostscript) a file just because of its name
    path = tmp_path / "disguised.jpg"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(path, "TGA")
    with pytest.raises(ImageDecodeError, match="not an image"):
        load_image(path)
    tiff = tmp_path / "scan.tif"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tiff, "TIFF")
    assert load_image(tiff).getpixel((0, 0)) == (1, 2, 3)


def test_non_utf8_file_name_decodes(tmp_path: Path) -> None:
    name, case = write_non_utf8_image(tmp_path)
    decoded = decode_image(tmp_path / name)
    assert check_probes(decoded.image, case) == []


def test_draft_decodes_big_jpeg_small_but_reports_full_size(big_jpeg: Path) -> None:
    full = decode_image(big_jpeg)
    small = decode_image(big_jpeg, min_side=224)
    assert full.image.size == (3000, 2000)
    assert (small.width, small.height) == (3000, 2000)
    # libjpeg scales by 1/8 at most while both sides stay >= 224
    assert small.image.size == (375, 250)
    assert min(decode_image(big_jpeg, min_side=300).image.size) >= 300
    # the reduced decode is the same picture: compare it with a resize of the full decode
    reference = np.asarray(full.image.resize(small.image.size, Image.Resampling.BOX), dtype=float)
    assert np.abs(reference - np.asarray(small.image, dtype=float)).mean() < 6


def test_draft_and_exif_orientation_together(tmp_path: Path) -> None:
    stored = Image.new("RGB", (1600, 800), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 800, 400))  # red top-left quadrant
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90 counter-clockwise to view": red ends bottom-left
    path = tmp_path / "sideways.jpg"
    stored.save(path, quality=95, exif=exif.tobytes())
    decoded = decode_image(path, min_side=224)
    assert (decoded.width, decoded.height) == (800, 1600)
    assert decoded.image.size == (400, 800)  # 1/2 scale: 1/4 would make a side < 224
    image = decoded.image
    red = image.getpixel((image.width // 4, image.height * 3 // 4))
    blue = image.getpixel((image.width // 4, image.height // 4))
    assert isinstance(red, tuple) and isinstance(blue, tuple)
    assert red[0] > 200 and red[2] < 60
    assert blue[2] > 200 and blue[0] < 60


def test_max_side_shrinks_long_side(big_jpeg: Path, tmp_path: Path) -> None:
    thumb = load_image(big_jpeg, max_side=256)
    assert thumb.size == (256, 171)
    small = tmp_path / "small.png"
    Image.new("RGB", (40, 20), (9, 9, 9)).save(small)
    assert load_image(small, max_side=256).size == (40, 20)


def test_real_photos_decode_like_pillow() -> None:
    photos = sample_photo_paths()
    assert {"rocket.jpg", "grace_hopper.jpg", "camera.png", "logo.png"} <= set(photos)
    for name, path in photos.items():
        decoded = load_image(path)
        with Image.open(path) as original:
            assert decoded.size == original.size
            if original.mode in ("RGB", "L") and "transparency" not in original.info:
                expected = np.asarray(original.convert("RGB"))
                assert np.array_equal(np.asarray(decoded), expected), name


def test_real_photo_with_transparency_is_composited_on_white(tmp_path: Path) -> None:
    # chelsea.png (a cat) with an alpha ramp from clear (left) to opaque (right)
    rgb = np.asarray(Image.open(sample_photo_paths()["chelsea.png"]).convert("RGB"))
    height, width = rgb.shape[:2]
    alpha = np.tile(np.linspace(0, 255, width).round().astype(np.uint8), (height, 1))
    path = tmp_path / "cat_fading.png"
    Image.fromarray(np.dstack([rgb, alpha])).save(path)
    decoded = np.asarray(load_image(path), dtype=float)
    weight = alpha[..., None] / 255.0
    expected = rgb * weight + 255.0 * (1 - weight)
    assert np.abs(decoded - expected).max() <= 1.0
    assert (decoded[:, 0] == 255).all()  # fully clear column is white, not black


def test_real_photo_rotated_by_exif_matches_numpy_rotation(tmp_path: Path) -> None:
    # grace_hopper.jpg re-saved losslessly as PNG with EXIF orientation 6
    source = sample_photo_paths()["grace_hopper.jpg"]
    pixels = np.asarray(Image.open(source).convert("RGB"))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "hopper_sideways.png"
    Image.fromarray(pixels).save(path, exif=exif.tobytes())
    decoded = np.asarray(load_image(path))
    assert np.array_equal(decoded, np.rot90(pixels, k=-1))  # 90 degrees clockwise


def test_real_animated_gif_first_frame() -> None:
    path = sample_photo_paths()["no_time_for_that_tiny.gif"]
    with Image.open(path) as gif:
        assert gif.n_frames > 1
        first = np.asarray(gif.convert("RGB"))
    assert np.array_equal(np.asarray(load_image(path)), first)


def test_unreadable_file_says_permission_denied() -> None:
    folder = make_shared_tempdir()
    try:
        path = folder / "secret.png"
        Image.new("RGB", (4, 4)).save(path)
        path.chmod(0)

        def try_to_load() -> str:
            try:
                load_image(path)
            except ImageDecodeError as exc:
                return exc.reason
            return "decoded"

        if os.geteuid() == 0:
            reason = run_as_other_user(try_to_load)  # root ignores chmod 000
        else:
            reason = try_to_load()
        assert reason == "permission denied"
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize(
    "mode, values, expected",
    [
        ("I", [0, 32768, 65535], [0, 128, 255]),  # 16-bit data in a 32-bit TIFF
        ("I", [0, 100, 255], [0, 100, 255]),  # 8-bit data in a 32-bit TIFF
        ("F", [0.0, 0.5, 1.0], [0, 128, 255]),  # float data in [0, 1]
        ("1", [0, 1, 1], [0, 255, 255]),
    ],
)
def test_wide_and_odd_grey_modes_keep_their_contrast(
    mode: str, values: list[float], expected: list[int]
) -> None:
    image = Image.new(mode, (3, 1))
    for x, value in enumerate(values):
        image.putpixel((x, 0), value)
    decoded = decode_image_bytes(encode_image(image, "TIFF"))
    assert [decoded.image.getpixel((x, 0)) for x in range(3)] == [(v, v, v) for v in expected]
