"""Near-duplicate groups: the finder on a real store, the keeper rule, the CLI in process
and the API over a real server on 127.0.0.1.

Vectors here are made by hand (a copy is its original plus a little noise), so what counts
as a copy is known exactly; tests/test_eval.py measures the same finder on real images
embedded by the tiny CLIP model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from same_same.duplicates import (
    DEFAULT_THRESHOLD,
    DuplicateOptions,
    default_threshold,
    find_duplicates,
    keeper_key,
)
from same_same.errors import InvalidInputError, NamespaceNotFoundError
from same_same.records import EmbeddingSpace, Record
from same_same.relevance import NOTE_KEY, Calibration
from same_same.storage import open_store
from same_same.storage.index_settings import MIN_VECTORS_ENV
from server_fixtures import fetch_json, running_server

DIM = 32
SPACE = EmbeddingSpace("test", "random-32", "", DIM)


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def _photo(name: str, vector: np.ndarray, width: int, content_hash: str, **extra: object) -> Record:
    metadata = {"type": "image", "filename": name, "path": name, "width": width, "height": width}
    return Record(name, _unit(vector), metadata={**metadata, **extra}, content_hash=content_hash)


def fill_library(data_dir: Path, distinct: int = 40) -> dict[str, set[str]]:
    """``distinct`` unrelated photos, some with copies; returns keeper -> its group's ids."""
    rng = np.random.default_rng(77)
    records, groups = [], {}
    for index in range(distinct):
        base = rng.normal(size=DIM)
        name = f"IMG_{index:04d}.jpg"
        records.append(_photo(name, base, 1024, f"h{index}", bytes=500_000))
        group = {name}
        if index % 4 == 0:  # a smaller recompressed copy and a byte-identical one
            small = f"IMG_{index:04d}-small.jpg"
            records.append(_photo(small, base + rng.normal(scale=0.05, size=DIM), 512, f"s{index}"))
            twin = f"IMG_{index:04d} (1).jpg"
            records.append(_photo(twin, base, 1024, f"h{index}", bytes=500_000))
            group |= {small, twin}
        if index % 10 == 3:  # a chain: the copy of a copy joins through its parent
            first = base + rng.normal(scale=0.04, size=DIM)
            second = first + rng.normal(scale=0.04, size=DIM)
            records.append(_photo(f"IMG_{index:04d}-a.png", first, 1024, f"a{index}"))
            records.append(_photo(f"IMG_{index:04d}-b.webp", second, 800, f"b{index}"))
            group |= {f"IMG_{index:04d}-a.png", f"IMG_{index:04d}-b.webp"}
        if len(group) > 1:
            groups[name] = group
    with open_store(data_dir) as store:
        store.ensure_namespace("photos", SPACE)
        store.upsert("photos", records)
    return groups


@pytest.fixture(params=["exact", "index"])
def library(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, dict[str, set[str]]]:
    """Searched by the exact scan, then through the approximate index (threshold 1)."""
    monkeypatch.setenv(MIN_VECTORS_ENV, "off" if request.param == "exact" else "1")
    data_dir = tmp_path / "data"
    return data_dir, fill_library(data_dir)


def test_every_group_is_found_with_its_keeper(library: tuple[Path, dict[str, set[str]]]) -> None:
    data_dir, expected = library
    with open_store(data_dir) as store:
        report = find_duplicates(store, "photos", DuplicateOptions(threshold=0.95))
    found = {
        group.keeper.id: {group.keeper.id, *(m.id for m in group.members)}
        for group in report.groups
    }
    # the keeper: most pixels, then the original format (PNG before JPEG), then no "(1)"
    expected_keepers = {
        (f"IMG_{int(k[4:8]):04d}-a.png" if int(k[4:8]) % 10 == 3 and int(k[4:8]) % 4 else k): ids
        for k, ids in expected.items()
    }
    assert found == expected_keepers
    assert report.total_groups == len(expected) and report.scanned == 40 + 10 * 2 + 4 * 2
    assert not report.default_threshold and report.threshold == 0.95
    sizes = [group.size for group in report.groups]
    assert sizes == sorted(sizes, reverse=True)
    for group in report.groups:
        scores = [member.score for member in group.members]
        assert scores == sorted(scores, reverse=True)
        for member in group.members:
            assert member.exact == member.id.endswith("(1).jpg")
            assert (member.score == 1.0) if member.exact else (0.9 < member.score < 1.0)


def test_a_lower_threshold_never_finds_fewer_and_limit_caps_groups(
    library: tuple[Path, dict[str, set[str]]],
) -> None:
    data_dir, _ = library
    with open_store(data_dir) as store:
        strict = find_duplicates(store, "photos", DuplicateOptions(threshold=0.999))
        loose = find_duplicates(store, "photos", DuplicateOptions(threshold=0.9))
        capped = find_duplicates(store, "photos", DuplicateOptions(threshold=0.9, limit=2))
    assert sum(g.size for g in strict.groups) <= sum(g.size for g in loose.groups)
    assert strict.total_groups >= 10  # the byte-identical copies are found at any threshold
    assert len(capped.groups) == 2 and capped.total_groups == loose.total_groups
    assert capped.groups == loose.groups[:2]


def test_keeper_rule() -> None:
    def key(name: str, **meta: object) -> tuple[object, ...]:
        return keeper_key(name, meta)

    assert key("a.jpg", width=100, height=100) < key("b.jpg", width=50, height=50)
    assert key("a.dng", width=10, height=10) < key("a.png", width=10, height=10)
    assert key("a.png", width=10, height=10) < key("a.jpg", width=10, height=10)
    assert key("a.jpg", width=10, height=10) < key("a.webp", width=10, height=10)
    assert key("IMG_1.jpg") < key("IMG_1 copy.jpg") and key("IMG_1.jpg") < key("IMG_1 (2).jpg")
    assert key("x.jpg", bytes=900) < key("x2.jpg", bytes=100)


def test_the_default_threshold_is_the_calibrated_one(tmp_path: Path) -> None:
    fill_library(tmp_path, distinct=8)
    with open_store(tmp_path) as store:
        assert default_threshold(store, "photos") == DEFAULT_THRESHOLD
        info = store.get_namespace("photos")
        calibration = Calibration(info.space, info.count, None, None, duplicate_threshold=0.97)
        store.write_note("photos", NOTE_KEY, calibration.to_dict())
        assert default_threshold(store, "photos") == 0.97
        report = find_duplicates(store, "photos")
        assert report.default_threshold and report.threshold == 0.97


def test_bad_options_are_refused(tmp_path: Path) -> None:
    fill_library(tmp_path, distinct=4)
    with open_store(tmp_path) as store:
        for options in [
            DuplicateOptions(threshold=0.0),
            DuplicateOptions(threshold=1.5),
            DuplicateOptions(threshold=float("nan")),
            DuplicateOptions(limit=0),
            DuplicateOptions(neighbours=1000),
        ]:
            with pytest.raises(InvalidInputError):
                find_duplicates(store, "photos", options)
        with pytest.raises(NamespaceNotFoundError):
            find_duplicates(store, "missing")


def test_cli_lists_groups_and_prints_json(tmp_path: Path) -> None:
    fill_library(tmp_path, distinct=8)
    done = run_cli("duplicates", "--threshold", "0.95", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "group(s) of duplicates among" in done.stderr and "'photos'" in done.stderr
    assert "keep  IMG_0000.jpg" in done.stdout
    assert "copy  IMG_0000 (1).jpg  (identical)" in done.stdout
    as_json = run_cli("duplicates", "-n", "photos", "--json", data_dir=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["namespace"] == "photos" and report["default_threshold"] is True
    assert report["threshold"] == DEFAULT_THRESHOLD
    assert {"IMG_0000.jpg", "IMG_0004.jpg"} <= {g["keeper"]["id"] for g in report["groups"]}
    bad = run_cli("duplicates", "--threshold", "2", data_dir=tmp_path)
    assert bad.returncode != 0 and bad.stderr.startswith("error: threshold must be in (0, 1]")
    assert "Traceback" not in bad.stderr
    with open_store(tmp_path) as store:
        store.ensure_namespace("other", SPACE)
    ambiguous = run_cli("duplicates", data_dir=tmp_path)
    assert ambiguous.returncode != 0 and "say which namespace" in ambiguous.stderr


def test_api_answers_groups_and_4xx_for_bad_queries(tmp_path: Path) -> None:
    fill_library(tmp_path, distinct=8)
    with running_server(tmp_path) as base:
        status, report = fetch_json(
            "GET", f"{base}/api/v1/duplicates?namespace=photos&threshold=0.95"
        )
        assert status == 200, report
        assert report["total_groups"] == len(report["groups"]) >= 2
        keeper = report["groups"][0]["keeper"]
        assert set(keeper) == {"id", "score", "exact", "metadata"}
        status, everything = fetch_json("GET", f"{base}/api/v1/duplicates")  # the only namespace
        assert status == 200 and everything["default_threshold"] is True
        for query, code in [
            ("threshold=0", 400),
            ("threshold=abc", 400),
            ("limit=0", 400),
            ("namespace=missing", 404),
        ]:
            status, body = fetch_json("GET", f"{base}/api/v1/duplicates?{query}")
            assert status == code, (query, body)
            assert body["error"]["message"]
