"""EXIF dates, cameras and places: read from generated JPEGs, stored by a real ingest (the
real CLI, the real OpenCLIP code path with the bundled tiny model, a real SQLite store),
then filtered, sorted and blended into search by recency, in the library, the CLI and
a real server on 127.0.0.1.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from conftest import run_cli
from photo_fixtures import BROKEN, MTIME, PHOTOS, write_photo_library
from same_same.imaging.exif import PHOTO_KEYS, photo_metadata, read_photo_metadata
from same_same.ordering import blend_recency
from same_same.records import Match
from same_same.storage import open_store
from same_same.vectors import VectorService
from server_fixtures import fetch_json, running_server

NAMESPACE = "photos"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A store with the photos above ingested by the real CLI and the tiny CLIP model."""
    from relevance_fixtures import tiny_model_args  # skips without the [clip] extra

    root = tmp_path_factory.mktemp("photo-library")
    photos = write_photo_library(root / "photos")
    data_dir = root / "store"
    done = run_cli(
        "ingest", "-e", "clip", *tiny_model_args(), "-n", NAMESPACE, f"images:{photos}",
        data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    yield data_dir


def stored_metadata(data_dir: Path) -> dict[str, dict[str, Any]]:
    with open_store(data_dir) as store:
        return {meta["filename"]: meta for _, _, meta in store.scan_metadata(NAMESPACE)}


# -- reading EXIF -------------------------------------------------------------------------


@pytest.mark.clip
def test_ingest_stores_dates_cameras_and_places(library: Path) -> None:
    found = stored_metadata(library)
    assert set(found) == {*PHOTOS, BROKEN}  # nothing was skipped
    paris = found["paris-2024.jpg"]
    assert paris["taken_at"] == "2024-06-15T18:30:00+02:00"
    assert paris["taken_at_source"] == "exif_original"
    assert paris["taken_ts"] == 1718469000.0  # 16:30 UTC
    assert (paris["camera_make"], paris["camera_model"]) == ("Canon", "EOS R5")
    assert paris["lens"] == "RF24-105mm F4 L IS USM"
    assert paris["orientation"] == 6
    assert paris["lat"] == pytest.approx(48.8566, abs=1e-6)
    assert paris["lon"] == pytest.approx(2.3522, abs=1e-6)
    assert (paris["width"], paris["height"]) == (48, 64)  # turned upright by orientation 6

    sydney = found["sydney-2019.jpg"]
    assert sydney["taken_at"] == "2019-12-31T23:59:59"  # no offset written: none invented
    assert sydney["lat"] < 0 < sydney["lon"]  # south of the equator, east of Greenwich
    assert sydney["lat"] == pytest.approx(-33.865, abs=1e-6)

    versailles = found["versailles-2024.jpg"]
    assert versailles["taken_at"] == "2024-07-01T10:00:00+02:00"
    assert versailles["taken_at_source"] == "exif_datetime"

    for name in ("no-exif.jpg", "broken-exif.jpg"):
        assert found[name]["taken_at"] == "2023-11-14T22:13:20+00:00"
        assert found[name]["taken_at_source"] == "mtime"
        assert found[name]["taken_ts"] == MTIME
        assert not {"lat", "lon", "camera_make", "lens"} & set(found[name])


def gps_exif(lat: Any, lat_ref: Any = "N", lon: Any = (2, 0, 0), lon_ref: Any = "E") -> Image.Exif:
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = lat_ref, lat, lon_ref, lon
    return exif


@pytest.mark.parametrize(
    "exif",
    [
        gps_exif((IFDRational(0, 0), 0, 0)),  # 0/0: no fix
        gps_exif((91, 0, 0)),  # off the map
        gps_exif((48, 75, 0)),  # 75 minutes
        gps_exif((48, 0, 0), lat_ref="Q"),
        gps_exif("48.5"),
        gps_exif((48, 0, 0, 0)),
        gps_exif((-48, 0, 0)),
        gps_exif((0, 0, 0), lon=(0, 0, 0)),  # what cameras write before a fix
        gps_exif((48, 0, 0), lon=(181, 0, 0)),
        gps_exif((48, 0, 0), lon=None),
    ],
)
def test_garbage_gps_is_dropped(exif: Image.Exif) -> None:
    found = photo_metadata(exif, MTIME)
    assert "lat" not in found and "lon" not in found
    assert found["taken_at_source"] == "mtime"


@pytest.mark.parametrize(
    ("original", "offset", "expected"),
    [
        ("2024:06:15 18:30:00", "-05:00", "2024-06-15T18:30:00-05:00"),
        ("2024:06:15 18:30:00", "Z", "2024-06-15T18:30:00+00:00"),
        ("2024:06:15 18:30:00\x00", "+0530", "2024-06-15T18:30:00+05:30"),
        ("2024-06-15 18:30:00", "garbage", "2024-06-15T18:30:00"),
        ("2024:06:15 18:30:00", "+25:00", "2024-06-15T18:30:00"),
    ],
)
def test_dates_and_offsets(original: str, offset: str, expected: str) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = original
    exif.get_ifd(0x8769)[0x9011] = offset
    assert photo_metadata(exif, MTIME)["taken_at"] == expected


@pytest.mark.parametrize(
    "original", ["0000:00:00 00:00:00", "2024:13:01 00:00:00", "    ", "yesterday", b"\xff\xfe"]
)
def test_impossible_dates_fall_back_to_datetime_then_mtime(original: Any) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = original
    assert photo_metadata(exif, MTIME)["taken_at_source"] == "mtime"
    exif[0x0132] = "2021:01:02 03:04:05"
    found = photo_metadata(exif, MTIME)
    assert (found["taken_at"], found["taken_at_source"]) == ("2021-01-02T03:04:05", "exif_datetime")


def test_odd_text_and_orientation_values_are_cleaned_or_dropped() -> None:
    exif = Image.Exif()
    exif[0x010F] = "  NIKON CORPORATION\x00\x00 "
    exif[0x0110] = "x" * 1000
    exif[0x0112] = 9  # no such orientation
    found = photo_metadata(exif, MTIME)
    assert found["camera_make"] == "NIKON CORPORATION"
    assert len(found["camera_model"]) == 128
    assert "orientation" not in found


def test_unreadable_files_get_the_mtime_only(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    assert read_photo_metadata(text, MTIME) == {
        "taken_at": "2023-11-14T22:13:20+00:00",
        "taken_at_source": "mtime",
        "taken_ts": MTIME,
    }
    assert read_photo_metadata(tmp_path / "missing.jpg", MTIME)["taken_at_source"] == "mtime"


# -- filters, sorting and recency ---------------------------------------------------------


def search_ids(data_dir: Path, *args: str) -> list[str]:
    done = run_cli("search", "-n", NAMESPACE, "-k", "20", "--json", *args, data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    return [result["metadata"]["filename"] for result in json.loads(done.stdout)["results"]]


@pytest.mark.clip
def test_date_range_filters_compare_iso_strings(library: Path) -> None:
    since = json.dumps({"taken_at": {"gte": "2024-06-01"}})
    assert set(search_ids(library, "a photo", "--filter", since)) == {
        "paris-2024.jpg",
        "versailles-2024.jpg",
    }
    between = json.dumps({"taken_at": {"gte": "2019-01-01", "lt": "2024-06-15T18:31"}})
    assert set(search_ids(library, "a photo", "--filter", between)) == {
        "sydney-2019.jpg",
        "paris-2024.jpg",
        "no-exif.jpg",
        "broken-exif.jpg",
    }
    numeric = json.dumps({"taken_ts": {"lt": 1_300_000_000}})
    assert search_ids(library, "a photo", "--filter", numeric) == ["old-scan-2010.jpg"]


@pytest.mark.clip
def test_near_finds_the_photos_taken_around_a_place(library: Path) -> None:
    paris = {"lat": 48.8566, "lon": 2.3522}
    near = json.dumps({"near": {**paris, "km": 5}})
    assert search_ids(library, "a photo", "--filter", near) == ["paris-2024.jpg"]
    wider = json.dumps({"near": {**paris, "km": 25}})
    assert set(search_ids(library, "a photo", "--filter", wider)) == {
        "paris-2024.jpg",
        "versailles-2024.jpg",
    }
    bad = run_cli(
        "search", "-n", NAMESPACE, "a photo", "--filter", json.dumps({"near": {**paris}}),
        data_dir=library,
    )  # fmt: skip
    assert bad.returncode != 0
    assert bad.stderr.count("\n") == 1 and "near" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.clip
def test_search_sorts_by_date(library: Path) -> None:
    newest = search_ids(library, "a photo", "--sort", "-taken_at")
    assert newest[:2] == ["versailles-2024.jpg", "paris-2024.jpg"]
    assert newest[-1] == "old-scan-2010.jpg"
    oldest = search_ids(library, "a photo", "--sort", "taken_at")
    assert oldest[0] == "old-scan-2010.jpg"
    assert oldest[1] == "sydney-2019.jpg"
    # the two files dated by the same mtime tie, and keep the same order both ways (by id)
    assert oldest[2:4] == newest[2:4]
    assert set(oldest[2:4]) == {"broken-exif.jpg", "no-exif.jpg"}
    assert oldest[4:] == ["paris-2024.jpg", "versailles-2024.jpg"]


@pytest.mark.clip
def test_recency_changes_the_order(library: Path, tmp_path: Path) -> None:
    """The 2010 scan is its own best match; with a half-life of 30 days a photo 14 years
    old weighs nothing next to one from 2024, so the 2024 photos come first."""
    probe = library.parent / "photos" / "old-scan-2010.jpg"
    plain = search_ids(library, "--image", str(probe))
    assert plain[0] == "old-scan-2010.jpg"
    recent = search_ids(library, "--image", str(probe), "--recency", "30")
    assert recent[0] in {"paris-2024.jpg", "versailles-2024.jpg"}
    assert recent.index("old-scan-2010.jpg") > recent.index("sydney-2019.jpg")
    bad = run_cli("search", "-n", NAMESPACE, "x", "--recency", "-1", data_dir=library)
    assert bad.returncode != 0 and "recency" in bad.stderr and "Traceback" not in bad.stderr


def test_blend_recency_halves_a_score_per_half_life() -> None:
    day = 86_400.0
    now = 1_800_000_000.0

    def match(rid: str, score: float, age_days: float | None) -> Match:
        meta = {} if age_days is None else {"taken_ts": now - age_days * day}
        return Match(rid, score, "ns", None, meta)

    blended = blend_recency(
        [
            match("today", 0.4, 0),
            match("month", 0.7, 30),
            match("two-months", 0.9, 60),
            match("undated", 0.99, None),
            match("future", 0.3, -5),
            match("negative-old", -0.2, 30),
        ],
        half_life_days=30,
        now=now,
    )
    scores = {m.id: m.recency_score for m in blended}
    assert scores["month"] == pytest.approx(0.35)
    assert scores["two-months"] == pytest.approx(0.225)
    assert scores["future"] == pytest.approx(0.3)  # not boosted beyond today
    assert scores["negative-old"] == pytest.approx(-0.3)  # older is never better
    assert [m.id for m in blended] == [
        "today", "month", "future", "two-months", "undated", "negative-old",
    ]  # fmt: skip
    assert {m.id: m.score for m in blended}["month"] == 0.7  # the cosine is kept


@pytest.mark.clip
def test_the_library_browses_a_filtered_namespace_newest_first(library: Path) -> None:
    with open_store(library) as store:
        service = VectorService(store)
        page = service.list_page(
            NAMESPACE, filters={"taken_at": {"gte": "2019"}}, sort="-taken_at", limit=2
        )
        assert [item.record.metadata["filename"] for item in page.records] == [
            "versailles-2024.jpg",
            "paris-2024.jpg",
        ]
        assert (page.total, page.next_offset) == (5, 2)
        rest = service.list_page(
            NAMESPACE, filters={"taken_at": {"gte": "2019"}}, sort="-taken_at", offset=2
        )
        names = [item.record.metadata["filename"] for item in rest.records]
        assert set(names[:2]) == {"broken-exif.jpg", "no-exif.jpg"}  # the same mtime
        assert names[2:] == ["sydney-2019.jpg"]
        tied = sorted(rest.records[:2], key=lambda item: item.record.id)
        assert [item.record.id for item in rest.records[:2]] == [
            item.record.id for item in tied
        ]  # ties go by id


@pytest.mark.clip
def test_the_api_browses_sorts_and_refuses_bad_values(library: Path) -> None:
    with running_server(library) as base:
        query = urllib.parse.urlencode(
            {"namespace": NAMESPACE, "sort": "-taken_at",
             "filters": json.dumps({"near": {"lat": 48.85, "lon": 2.35, "km": 30}})}
        )  # fmt: skip
        status, body = fetch_json("GET", f"{base}/api/v1/vectors?{query}")
        assert status == 200, body
        assert [v["metadata"]["filename"] for v in body["vectors"]] == [
            "versailles-2024.jpg",
            "paris-2024.jpg",
        ]
        assert body["total"] == 2
        status, body = fetch_json(
            "POST",
            f"{base}/api/v1/search",
            {"text": "a photo", "namespace": NAMESPACE, "sort": "taken_at",
             "options": {"recency": 365}},
        )  # fmt: skip
        assert status == 200, body
        dates = [r["metadata"]["taken_at"][:10] for r in body["results"]]
        assert dates == sorted(dates)
        assert all("recency_score" in r for r in body["results"])
        for bad in (
            f"{base}/api/v1/vectors?" + urllib.parse.urlencode({"filters": '{"near": {"km": 1}}'}),
            f"{base}/api/v1/vectors?" + urllib.parse.urlencode({"filters": "[1]"}),
            f"{base}/api/v1/vectors?" + urllib.parse.urlencode({"sort": "-"}),
        ):
            status, body = fetch_json("GET", bad)
            assert status == 400, body
        for options in ({"recency": 0}, {"recency": -3}, {"recency": "soon"}):
            status, body = fetch_json(
                "POST", f"{base}/api/v1/search", {"text": "x", "options": options}
            )
            assert status == 400, body


def test_vectors_without_dates_browse_last(tmp_path: Path) -> None:
    with open_store(tmp_path / "store") as store:
        service = VectorService(store)
        for rid, meta in [("b", {"taken_at": "2020-01-01"}), ("a", {}), ("c", {"taken_at": 5})]:
            service.add_vector(np.ones(4), record_id=rid, namespace="raw", metadata=meta)
        ids = [item.record.id for item in service.list_page("raw", sort="-taken_at").records]
        assert ids == ["b", "c", "a"]  # strings after numbers; missing last either way
        ids = [item.record.id for item in service.list_page("raw", sort="taken_at").records]
        assert ids == ["c", "b", "a"]


@pytest.mark.clip
def test_records_stored_without_exif_fields_get_them_without_embedding_again(
    tmp_path: Path,
) -> None:
    """A store written by a version that read no EXIF: the next ingest adds the fields
    and reuses every vector (the file is hashed, not decoded, and nothing is embedded)."""
    from relevance_fixtures import tiny_model_args

    photos = write_photo_library(tmp_path / "photos")
    data_dir = tmp_path / "store"
    ingest = ["ingest", "-e", "clip", *tiny_model_args(), "-n", NAMESPACE, f"images:{photos}"]
    assert run_cli(*ingest, data_dir=data_dir).returncode == 0
    with open_store(data_dir) as store:
        before = {
            record.id: record
            for record in store.list_records(NAMESPACE, limit=100, with_vectors=True)
        }
        for record in before.values():
            record.metadata = {
                key: value for key, value in record.metadata.items() if key not in PHOTO_KEYS
            }
        store.upsert(NAMESPACE, list(before.values()))
    again = run_cli(*ingest, data_dir=data_dir)
    assert again.returncode == 0, again.stderr
    with open_store(data_dir) as store:
        after = {
            record.id: record
            for record in store.list_records(NAMESPACE, limit=100, with_vectors=True)
        }
    assert set(after) == set(before)
    for rid, record in after.items():
        assert record.metadata["taken_at_source"] in ("exif_original", "exif_datetime", "mtime")
        np.testing.assert_array_equal(record.vector, before[rid].vector)
    by_name = {record.metadata["filename"]: record.metadata for record in after.values()}
    assert by_name["paris-2024.jpg"]["taken_at"] == "2024-06-15T18:30:00+02:00"
    assert "reused 6," in again.stderr, again.stderr  # every vector kept, none embedded
    third = run_cli(*ingest, data_dir=data_dir)
    assert "unchanged 6," in third.stderr, third.stderr
