"""Issue 12's "done means", end to end: a folder of HEIC, AVIF, TIFF, RAW, animated GIF and
JPEG files, watched by a real ``same-same serve --watch`` with the bundled tiny model and
no network, is fully searchable (every file, with its thumbnail, date and place), and
stays in sync while files come and go.

The camera RAW file is synthetic (``format_fixtures.write_dng``): no real camera file can be
made or downloaded here. Everything else is a real file of its format, written by Pillow
or pillow-heif.
"""

from __future__ import annotations

import io
import os
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

pytest.importorskip("open_clip", reason="needs the [clip] extra")
pytest.importorskip("pillow_heif", reason="needs the [photos] extra")
pytest.importorskip("rawpy", reason="needs the [photos] extra")
pytest.importorskip("watchdog", reason="needs the [watch] extra")

from format_fixtures import BLUE, GREEN, RED, scene, write_animation, write_dng  # noqa: E402
from photo_fixtures import PHOTOS, write_photo  # noqa: E402
from relevance_fixtures import tiny_model_args  # noqa: E402
from server_fixtures import fetch_json, running_server  # noqa: E402

pytestmark = pytest.mark.clip

NS = "library"
DEADLINE_S = 120.0  # a generous wait for the watch on a loaded 2-core machine; never asserted


def exif_bytes(taken: str) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = taken
    return exif.tobytes()


def write_library(folder: Path) -> dict[str, str]:
    """One file of each kind; name -> what the date of each comes from."""
    folder.mkdir()
    write_photo(folder / "paris.jpg", PHOTOS["paris-2024.jpg"], RED)
    import pillow_heif

    pillow_heif.register_heif_opener()
    scene(BLUE).save(folder / "phone.heic", exif=exif_bytes("2023:08:01 07:15:00"))
    scene(GREEN).save(folder / "web.avif", exif=exif_bytes("2022:03:04 05:06:07"))
    pages = [scene((200, 200, 40)), scene((40, 40, 40))]
    pages[0].save(folder / "scan.tiff", save_all=True, append_images=pages[1:])
    write_dng(folder / "camera.dng", preview=(180, 90, 20))
    write_animation(folder / "loop.gif", "GIF")
    return {
        "paris.jpg": "exif_original",
        "phone.heic": "exif_original",
        "web.avif": "exif_original",
        "scan.tiff": "mtime",
        "camera.dng": "mtime",
        "loop.gif": "mtime",
    }


def wait_until(what: str, condition: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def listing(base_url: str) -> dict[str, dict[str, Any]]:
    """path -> the stored record (id and metadata) of every record in the namespace."""
    status, page = fetch_json("GET", f"{base_url}/api/v1/vectors?namespace={NS}&limit=100")
    if status == 404 and page["error"]["code"] == "namespace_not_found":
        return {}  # the watch's first pass has not committed yet
    assert status == 200, page
    return {item["metadata"]["path"]: item for item in page["vectors"]}


def search(base_url: str, body: dict[str, Any]) -> list[str]:
    status, answer = fetch_json(
        "POST", f"{base_url}/api/v1/search", {"namespace": NS, "limit": 20, **body}
    )
    assert status == 200, answer
    return [result["metadata"]["path"] for result in answer["results"]]


def test_a_watched_folder_of_every_format_is_searchable_by_words_dates_and_places(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "photos"
    dated = write_library(folder)
    args = ["--watch", f"images:{folder}", "-e", "clip", *tiny_model_args(), "-n", NS]
    env = {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    with running_server(tmp_path / "store", extra_args=args, env=env) as base_url:
        records = wait_until("every file stored", lambda: (r := listing(base_url)) and (
            set(r) == set(dated)) and r)  # fmt: skip

        # every file: a thumbnail, a date and where it came from
        for path, record in records.items():
            metadata = record["metadata"]
            assert metadata["taken_at_source"] == dated[path], path
            assert metadata["taken_at"][:4].isdigit(), path
            url = f"{base_url}/api/v1/vectors/{record['id']}/thumbnail?size=64&namespace={NS}"
            with urllib.request.urlopen(url, timeout=30) as response:
                assert response.headers["content-type"] == "image/jpeg", path
                assert max(Image.open(io.BytesIO(response.read())).size) <= 64, path
        assert records["paris.jpg"]["metadata"]["taken_at"] == "2024-06-15T18:30:00+02:00"
        assert records["phone.heic"]["metadata"]["taken_at"].startswith("2023-08-01T07:15:00")
        assert records["loop.gif"]["metadata"]["animated"] is True

        # words find every kind of file; dates and places narrow them
        assert set(search(base_url, {"text": "a photo"})) == set(dated)
        recent = {"taken_at": {"gte": "2023-01-01"}, "taken_at_source": "exif_original"}
        assert set(search(base_url, {"text": "a photo", "filters": recent})) == {
            "paris.jpg",
            "phone.heic",
        }
        near_paris = {"near": {"lat": 48.8566, "lon": 2.3522, "km": 10}}
        assert search(base_url, {"text": "a photo", "filters": near_paris}) == ["paris.jpg"]

        # kept in sync while files come and go
        scene((90, 200, 200)).save(folder / "new.heic", exif=exif_bytes("2025:01:02 03:04:05"))
        os.rename(folder / "scan.tiff", folder / "scan-moved.tiff")
        (folder / "loop.gif").unlink()
        expected = set(dated) - {"scan.tiff", "loop.gif"} | {"new.heic", "scan-moved.tiff"}
        synced = wait_until("the changes applied", lambda: (r := listing(base_url)) and (
            set(r) == expected) and r)  # fmt: skip
        assert synced["new.heic"]["metadata"]["taken_at"].startswith("2025-01-02T03:04:05")
        assert (
            synced["scan-moved.tiff"]["metadata"]["sha256"]
            == records["scan.tiff"]["metadata"]["sha256"]
        )
        # browsing by date: the camera dates first (files without EXIF date from today)
        by_date = search(base_url, {"text": "a photo", "sort": "taken_at"})
        assert by_date[:4] == ["web.avif", "phone.heic", "paris.jpg", "new.heic"]
