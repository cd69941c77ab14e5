"""The guide's multimodal flow end to end: `same-same ingest -e clip` of photos and texts,
then a real server answering text, upload, base64 and by-id searches with the CLIP model
that each namespace recorded (the bundled tiny model: real OpenCLIP code, no download).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("torch", reason="needs the [clip] extra")
pytest.importorskip("open_clip", reason="needs the [clip] extra")

from conftest import run_cli  # noqa: E402
from same_same.synthetic import write_image_folder  # noqa: E402
from server_fixtures import running_server  # noqa: E402

pytestmark = pytest.mark.clip

# The guide's default (ViT-B-32/openai) needs a download; the bundled model does not.
CLIP_ENV = {"SAME_SAME_CLIP_MODEL": "same-same-tiny-clip", "HF_HUB_OFFLINE": "1"}


def run_guide_command(*args: str, data_dir: Path, cwd: Path) -> None:
    done = run_cli(*args, data_dir=data_dir, env=CLIP_ENV, cwd=cwd)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def clip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Path]]]:
    work = tmp_path_factory.mktemp("guide")
    data_dir = work / "store"
    scenes = write_image_folder(work / "photos", n=6, seed=11, size=96)
    # Example 4 of the guide, verbatim (the model comes from SAME_SAME_CLIP_MODEL).
    run_guide_command(
        "ingest", "-e", "clip", "-n", "documents", "demo", data_dir=data_dir, cwd=work
    )
    run_guide_command(
        "ingest", "-e", "clip", "-n", "photos", "images:./photos", data_dir=data_dir, cwd=work
    )
    with running_server(data_dir) as base_url:
        yield base_url, [path for path, _, _ in scenes]


def test_text_search_spans_texts_and_images_of_one_clip_space(
    clip_server: tuple[str, list[Path]],
) -> None:
    base_url, _ = clip_server
    response = httpx.post(
        base_url + "/api/v1/search",
        content='{"text": "nature and wildlife", "limit": 10}',
        headers={"Content-Type": "application/json"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["namespaces"] == ["documents", "photos"]
    assert body["total"] == 10
    response = httpx.post(
        base_url + "/api/v1/search",
        json={"text": "a sunset over the ocean", "limit": 5, "namespace": "photos"},
        timeout=120,
    )
    results = response.json()["results"]
    assert len(results) == 5
    assert all(r["metadata"]["type"] == "image" and "text" not in r for r in results)


def test_uploaded_image_finds_its_own_record_first(clip_server: tuple[str, list[Path]]) -> None:
    base_url, paths = clip_server
    picture = paths[3]
    with picture.open("rb") as upload:
        response = httpx.post(
            base_url + "/api/v1/search/image",
            files={"file": (picture.name, upload, "image/png")},
            data={"limit": "3"},
            timeout=120,
        )
    assert response.status_code == 200, response.text
    body = response.json()
    # One CLIP space: the picture is compared with the texts as well as the photos.
    assert body["namespaces"] == ["documents", "photos"]
    top = body["results"][0]
    assert top["metadata"]["filename"] == picture.name
    assert top["score"] == pytest.approx(1.0, abs=1e-3)

    encoded = base64.b64encode(picture.read_bytes()).decode()
    as_json = httpx.post(
        base_url + "/api/v1/search/image",
        json={"image": encoded, "limit": 3, "namespace": "photos"},
        timeout=120,
    ).json()
    assert as_json["results"][0]["id"] == top["id"]

    by_id = httpx.post(
        base_url + "/api/v1/search/image", json={"id": top["id"], "limit": 3}, timeout=120
    ).json()
    assert top["id"] not in [r["id"] for r in by_id["results"]]
    assert len(by_id["results"]) == 3
