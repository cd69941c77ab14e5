"""The format table (``imaging.formats``) and the decoders it picks, on files made here.

Pillow writes the AVIF, TIFF, GIF and WebP files, pillow-heif the HEIC ones, and
``format_fixtures`` the camera RAW ones (synthetic DNGs LibRaw opens, and a RAW file it
cannot, with embedded JPEGs: see there why they are synthetic). Nothing is mocked but
the absence of an extra, which cannot be uninstalled for one test: the module is
hidden from imports instead.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from format_fixtures import (
    BLUE,
    GREEN,
    RED,
    close_to,
    colour_at,
    scene,
    write_animation,
    write_dng,
    write_unknown_raw,
)
from same_same.duplicates.keeper import rank_format
from same_same.imaging import ImageDecodeError, decode_image, plugins
from same_same.imaging.decode import read_image_header
from same_same.imaging.formats import (
    IMAGE_EXTENSIONS,
    IMAGE_FORMATS,
    describe_supported_formats,
    is_decoder_installed,
)
from same_same.imaging.frames import is_blank
from same_same.sources import SourceItem
from same_same.sources.images import ImageFolderSource, ImageListSource
from same_same.thumbnails import guess_image_media_type, render_thumbnail

README = Path(__file__).resolve().parent.parent / "README.md"


# -- the table and everything that reads it ---------------------------------------------


def test_the_table_has_one_row_per_extension_each_openable_here() -> None:
    pytest.importorskip("pillow_heif", reason="needs the [photos] extra")
    extensions = [entry.extension for entry in IMAGE_FORMATS]
    assert len(extensions) == len(set(extensions)) == len(IMAGE_EXTENSIONS)
    assert all(ext.startswith(".") and ext == ext.lower() for ext in extensions)
    assert {".heic", ".heif", ".avif", ".tif", ".tiff"} <= IMAGE_EXTENSIONS
    assert {".cr2", ".cr3", ".nef", ".arw", ".dng", ".raf", ".orf", ".rw2"} <= IMAGE_EXTENSIONS
    openable = set(plugins.list_openable_formats())  # the photos extra is installed for tests
    for entry in IMAGE_FORMATS:
        assert entry.media_type.startswith("image/"), entry
        assert set(entry.pillow_formats) <= openable, entry
        assert (entry.decoder == "rawpy") == (not entry.pillow_formats), entry


def test_the_readme_lists_the_extensions_of_the_table() -> None:
    # The README carries the table's own one-line summary; a new row changes both.
    line = describe_supported_formats()
    documented = line in README.read_text(encoding="utf-8").splitlines()
    assert documented, f"README.md lacks this line, generated from the table: {line}"


def test_the_walk_and_the_list_take_every_extension_of_the_table(tmp_path: Path) -> None:
    names = []
    for number, ext in enumerate(sorted(IMAGE_EXTENSIONS)):
        for spelling in (ext, ext.upper()):
            name = f"{number:02d}{spelling}"
            (tmp_path / name).write_bytes(b"not decoded by a walk")
            names.append(name)
    (tmp_path / "zz.tga").write_bytes(b"")  # not in the table
    (tmp_path / "zz.txt").write_bytes(b"")
    walked = [i for i in ImageFolderSource(tmp_path).items() if isinstance(i, SourceItem)]
    assert sorted(item.metadata["filename"] for item in walked) == sorted(names)
    assert {item.metadata["extension"] for item in walked} == IMAGE_EXTENSIONS
    listing = tmp_path / "all.txt"
    listing.write_text("\n".join(names) + "\n")
    listed = [i for i in ImageListSource(listing).items() if isinstance(i, SourceItem)]
    assert sorted(item.id for item in listed) == sorted(item.id for item in walked)


def test_media_types_and_the_keeper_ranking_come_from_the_table() -> None:
    for entry in IMAGE_FORMATS:
        assert guess_image_media_type(Path("a" + entry.extension.upper())) == entry.media_type
        assert rank_format(entry.extension) == entry.rank
    assert rank_format(".nef") > rank_format(".heic") > rank_format(".jpg") > rank_format(".avif")
    assert rank_format(".tiff") == rank_format(".png") and rank_format(".xyz") == 0


# -- decoding each format ------------------------------------------------------------------


def test_avif_heic_and_the_first_page_of_a_tiff_decode(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif", reason="needs the [photos] extra")

    scene(RED).save(tmp_path / "web.avif", quality=90)
    pillow_heif.from_pillow(scene(GREEN)).save(tmp_path / "phone.HEIC", quality=90)
    scene(BLUE).save(tmp_path / "scan.tiff", save_all=True, append_images=[scene(RED)])
    for name, colour, fmt in [("web.avif", RED, "AVIF"), ("phone.HEIC", GREEN, "HEIF"),
                              ("scan.tiff", BLUE, "TIFF")]:  # fmt: skip
        decoded = decode_image(tmp_path / name)
        assert (decoded.format, decoded.width, decoded.height, decoded.frames) == (fmt, 96, 64, 1)
        assert close_to(colour_at(decoded.image), colour), (name, colour_at(decoded.image))
        assert read_image_header(tmp_path / name) == (96, 64, 1)
        thumbnail = Image.open(io.BytesIO(render_thumbnail(tmp_path / name, 64)))
        assert thumbnail.size == (64, 43) and close_to(colour_at(thumbnail), colour, 32)


def test_camera_raw_through_its_preview_a_demosaic_or_an_embedded_jpeg(tmp_path: Path) -> None:
    pytest.importorskip("rawpy", reason="needs the [photos] extra")
    preview = decode_image(write_dng(tmp_path / "camera.dng", preview=GREEN))
    assert (preview.format, preview.width, preview.height) == ("RAW", 64, 48)
    assert close_to(colour_at(preview.image), GREEN)  # the preview, not the mosaic
    turned = decode_image(write_dng(tmp_path / "upright.dng", preview=GREEN, orientation=6))
    assert (turned.width, turned.height, turned.image.size) == (48, 64, (48, 64))
    # no preview: LibRaw demosaics the red-left, blue-right mosaic at half size
    mosaic = decode_image(write_dng(tmp_path / "plain.DNG"))
    assert (mosaic.width, mosaic.height, mosaic.image.size) == (64, 48, (32, 24))
    left, right = colour_at(mosaic.image, (2, 12)), colour_at(mosaic.image, (29, 12))
    assert left[0] > 200 > left[2] and right[2] > 200 > right[0]
    # a RAW file LibRaw cannot open: its largest embedded JPEG
    unknown = decode_image(write_unknown_raw(tmp_path / "newer.cr3", BLUE, (80, 60)))
    assert (unknown.width, unknown.height) == (80, 60) and close_to(colour_at(unknown.image), BLUE)
    assert read_image_header(tmp_path / "upright.dng") == (48, 64, 1)


def test_an_animation_shows_its_first_frame_that_is_not_blank(tmp_path: Path) -> None:
    for name, fmt in [("loop.gif", "GIF"), ("loop.webp", "WEBP")]:
        write_animation(tmp_path / name, fmt)
        decoded = decode_image(tmp_path / name, samples=4)
        assert decoded.frames == 6 and read_image_header(tmp_path / name) == (64, 64, 6)
        assert not is_blank(decoded.image) and close_to(colour_at(decoded.image), RED)
        # frames 0, 2, 3 and 5 are sampled; frame 0 is blank and left out
        assert len(decoded.samples) == 3 and not any(map(is_blank, decoded.samples))
        assert decode_image(tmp_path / name).samples == []  # only when asked
        thumbnail = Image.open(io.BytesIO(render_thumbnail(tmp_path / name, 64)))
        assert close_to(colour_at(thumbnail), RED, 32)
    # a multi-page TIFF is pages, not an animation
    scene(BLUE).save(tmp_path / "pages.tif", save_all=True, append_images=[scene(RED)])
    assert decode_image(tmp_path / "pages.tif", samples=4).frames == 1


# -- bad files and missing extras ----------------------------------------------------------


def test_broken_files_of_each_new_format_give_one_line_reasons(tmp_path: Path) -> None:
    pytest.importorskip("rawpy", reason="needs the [photos] extra")
    pillow_heif = pytest.importorskip("pillow_heif", reason="needs the [photos] extra")

    scene(RED).save(tmp_path / "whole.avif")
    pillow_heif.from_pillow(scene(RED)).save(tmp_path / "whole.heic")
    scene(RED).save(tmp_path / "whole.tiff")
    write_animation(tmp_path / "whole.gif", "GIF")
    cases = {
        "cut.avif": (tmp_path / "whole.avif").read_bytes()[:40],
        "cut.heic": (tmp_path / "whole.heic").read_bytes()[:40],
        "cut.tiff": (tmp_path / "whole.tiff").read_bytes()[:200],
        "cut.gif": (tmp_path / "whole.gif").read_bytes()[:300],
        "notes.heic": b"a text file with the wrong name\n",
        "notes.cr2": b"II*\x00" + b"\x00" * 64,
    }
    reasons = {}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImageDecodeError) as caught:
            decode_image(tmp_path / name, samples=4)
        reasons[name] = caught.value.reason
    assert all("\n" not in reason and reason for reason in reasons.values()), reasons
    assert reasons["cut.tiff"] == "truncated (the file ends before the image does)"
    assert reasons["notes.heic"].startswith("not an image (or not a supported format: JPEG, ")
    assert reasons["notes.cr2"] == (
        "not a camera RAW file LibRaw can read (Unsupported file format or not RAW file) "
        "and no embedded JPEG preview"
    )


@pytest.fixture
def without_the_photos_extra(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """pillow-heif and rawpy hidden from imports (``sys.modules[name] = None``)."""
    for module in ("pillow_heif", "rawpy"):
        monkeypatch.setitem(sys.modules, module, None)
    is_decoder_installed.cache_clear()
    try:
        yield
    finally:
        monkeypatch.undo()
        is_decoder_installed.cache_clear()


@pytest.mark.usefixtures("without_the_photos_extra")
def test_without_the_photos_extra_heic_and_raw_name_the_pip_command(tmp_path: Path) -> None:
    (tmp_path / "phone.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64)
    write_dng(tmp_path / "camera.dng", preview=GREEN)
    with pytest.raises(ImageDecodeError) as heic:
        decode_image(tmp_path / "phone.heic")
    assert heic.value.reason == "HEIF files need pillow-heif: pip install 'same-same[photos]'"
    with pytest.raises(ImageDecodeError) as raw:
        decode_image(tmp_path / "camera.dng")
    assert raw.value.reason == "camera RAW files need rawpy: pip install 'same-same[photos]'"
