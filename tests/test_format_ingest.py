"""A folder of every format, through the real CLI with the bundled tiny CLIP model.

JPEG, HEIC (written by pillow-heif), AVIF, a two-page TIFF, synthetic camera RAW
files (``format_fixtures``: no real camera file can be made here), an animated GIF and
WebP, and a broken file of each new format: ``images:DIR`` and ``image-list`` store
the same records, each broken file is one "skipping" line, an animation's vector is
the mean of its sampled frames', and a real server serves thumbnails and originals
with the table's media types.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("open_clip", reason="needs the [clip] extra")
pytest.importorskip("pillow_heif", reason="needs the [photos] extra")
pytest.importorskip("rawpy", reason="needs the [photos] extra")

from conftest import run_cli  # noqa: E402
from format_fixtures import (  # noqa: E402
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
from relevance_fixtures import tiny_model_args  # noqa: E402
from same_same.imaging import decode_image  # noqa: E402
from same_same.imaging.formats import find_image_format  # noqa: E402
from same_same.imaging.frames import is_blank  # noqa: E402
from same_same.sources.images import derive_image_id  # noqa: E402
from same_same.storage import open_store  # noqa: E402
from server_fixtures import running_server  # noqa: E402

pytestmark = pytest.mark.clip

GOOD = [
    "photo.jpg", "phone.heic", "web.avif", "scan.tiff", "camera.dng", "plain.dng",
    "newer.cr3", "loop.gif", "loop.webp",
]  # fmt: skip
BROKEN = {
    "broken.heic": "not an image (or not a supported format: JPEG, PNG, GIF, WebP, BMP, "
    "TIFF, AVIF, HEIF, camera RAW)",
    "broken.avif": "not an image (or not a supported format: JPEG, PNG, GIF, WebP, BMP, "
    "TIFF, AVIF, HEIF, camera RAW)",
    "broken.tiff": "truncated (the file ends before the image does)",
    "broken.nef": "not a camera RAW file LibRaw can read (Unsupported file format or not "
    "RAW file) and no embedded JPEG preview",
}


def write_library(folder: Path) -> dict[str, Path]:
    """Every format in one folder, plus the GIF's sampled frames as PNGs beside it."""
    import pillow_heif

    folder.mkdir()
    scene(RED).save(folder / "photo.jpg", quality=92)
    pillow_heif.from_pillow(scene(GREEN)).save(folder / "phone.heic", quality=90)
    scene(BLUE).save(folder / "web.avif", quality=90)
    scene((200, 200, 30)).save(folder / "scan.tiff", save_all=True, append_images=[scene(RED)])
    write_dng(folder / "camera.dng", preview=(30, 200, 200))
    write_dng(folder / "plain.dng")
    write_unknown_raw(folder / "newer.cr3", (200, 30, 200), (96, 64))
    write_animation(folder / "loop.gif", "GIF")
    write_animation(folder / "loop.webp", "WEBP")
    (folder / "broken.heic").write_bytes((folder / "phone.heic").read_bytes()[:40])
    (folder / "broken.avif").write_bytes((folder / "web.avif").read_bytes()[:40])
    (folder / "broken.tiff").write_bytes((folder / "scan.tiff").read_bytes()[:300])
    (folder / "broken.nef").write_bytes(b"II*\x00" + b"\x00" * 64)
    # What the ingest embeds for loop.gif: its sampled frames that are not blank, exactly
    # as the decoder gives them (saved losslessly), and the first of them alone.
    frames = folder / "frames"
    frames.mkdir()
    for number, frame in enumerate(decode_image(folder / "loop.gif", samples=4).samples):
        frame.save(frames / f"sample{number}.png")
    return {name: folder / name for name in GOOD}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("formats")
    folder = work / "library"
    files = write_library(folder)
    data_dir = work / "store"
    model = tiny_model_args()
    walked = run_cli(
        "ingest", "-e", "clip", *model, "-n", "walked", f"images:{folder}", data_dir=data_dir
    )
    listing = work / "library.txt"
    listing.write_text("".join(f"library/{name}\n" for name in [*GOOD, *BROKEN]))
    listed = run_cli(
        "ingest", "-e", "clip", *model, "-n", "listed", f"image-list:{listing}",
        data_dir=data_dir,
    )  # fmt: skip
    return {"folder": folder, "files": files, "data_dir": data_dir, "walked": walked,
            "listed": listed, "listing": listing}  # fmt: skip


def skip_lines(stderr: str) -> list[str]:
    return sorted(line for line in stderr.splitlines() if line.startswith("skipping "))


def test_every_format_is_stored_and_each_broken_file_is_one_line(library: dict[str, Any]) -> None:
    folder, walked, listed = library["folder"], library["walked"], library["listed"]
    assert walked.returncode == 3, walked.stderr  # 3: stored, with files skipped
    assert skip_lines(walked.stderr) == sorted(
        f"skipping {folder}/{name}: {reason}" for name, reason in BROKEN.items()
    )
    assert listed.returncode == 3, listed.stderr
    assert skip_lines(listed.stderr) == sorted(
        f"skipping library/{name} (library.txt line {len(GOOD) + number}): {reason}"
        for number, (name, reason) in enumerate(BROKEN.items(), start=1)
    )
    store = open_store(library["data_dir"])
    assert store.count("walked") == len(GOOD) + 3  # and the GIF's three sampled frames
    assert store.count("listed") == len(GOOD)
    for name, path in library["files"].items():
        record_id = derive_image_id(os.path.realpath(path))
        _, from_walk = store.get(record_id, "walked")
        _, from_list = store.get(record_id, "listed")
        assert from_walk.metadata["extension"] == find_image_format(name).extension  # type: ignore[union-attr]
        for key in ("width", "height", "bytes", "sha256", "frames", "animated"):
            assert from_walk.metadata.get(key) == from_list.metadata.get(key), (name, key)
        assert np.allclose(from_walk.vector, from_list.vector, atol=1e-4), name


def test_facts_of_each_format(library: dict[str, Any]) -> None:
    store = open_store(library["data_dir"])

    def metadata(name: str) -> dict[str, Any]:
        record_id = derive_image_id(os.path.realpath(library["files"][name]))
        return store.get(record_id, "walked")[1].metadata

    for name in ("photo.jpg", "phone.heic", "web.avif", "scan.tiff", "newer.cr3"):
        assert (metadata(name)["width"], metadata(name)["height"]) == (96, 64), name
        assert "frames" not in metadata(name) and "animated" not in metadata(name), name
    assert (metadata("camera.dng")["width"], metadata("camera.dng")["height"]) == (64, 48)
    for name in ("loop.gif", "loop.webp"):
        assert (metadata(name)["frames"], metadata(name)["animated"]) == (6, True), name


def test_an_animation_is_the_mean_of_its_sampled_frames(library: dict[str, Any]) -> None:
    store = open_store(library["data_dir"])
    folder = library["folder"]

    def vector(path: Path) -> np.ndarray:
        return store.get(derive_image_id(os.path.realpath(path)), "walked")[1].vector

    gif = vector(folder / "loop.gif")
    samples = [vector(folder / "frames" / f"sample{n}.png") for n in range(3)]
    mean = np.mean(samples, axis=0)
    mean /= np.linalg.norm(mean)
    # Compared within one run (same model, same process), never against stored numbers.
    assert np.allclose(gif, mean, atol=1e-3)
    first_alone = samples[0]
    assert float(gif @ first_alone) < 0.9999 and not np.allclose(gif, first_alone, atol=1e-3)


def fetch(url: str) -> tuple[int, str, bytes]:
    import urllib.request

    with urllib.request.urlopen(url, timeout=60) as response:
        return response.status, response.headers["Content-Type"], response.read()


def test_thumbnails_and_originals_of_every_format(library: dict[str, Any]) -> None:
    with running_server(library["data_dir"]) as base_url:
        for name, path in library["files"].items():
            record_id = derive_image_id(os.path.realpath(path))
            base = f"{base_url}/api/v1/vectors/{record_id}"
            status, kind, data = fetch(f"{base}/thumbnail?size=64&namespace=walked")
            thumbnail = Image.open(io.BytesIO(data))
            assert (status, kind, thumbnail.format) == (200, "image/jpeg", "JPEG"), name
            assert max(thumbnail.size) <= 64, name
            assert close_to(colour_at(thumbnail), colour_at(decode_image(path).image)), name
            if name.startswith("loop."):  # the first frame that is not blank, not the first
                assert not is_blank(thumbnail.convert("RGB")), name
            status, kind, data = fetch(f"{base}/image?namespace=walked")
            entry = find_image_format(name)
            assert entry is not None
            assert (status, kind, data) == (200, entry.media_type, path.read_bytes()), name
