"""``serve``'s model flags reach the embedders that embed queries, not only ``--watch``:
``--backend torch`` means no ONNX export and no backend timing at the first query
(``auto`` would export the towers into DATA_DIR/onnx at the first image query, minutes on
a loaded machine)."""

from __future__ import annotations

import base64
from pathlib import Path

from clip_fixtures import torch  # noqa: F401 - skips without the [clip] extra
from relevance_fixtures import ingest_demo_photos
from same_same.demo import DEMO_NAMESPACE
from server_fixtures import fetch_json, running_server


def test_serve_backend_torch_reaches_the_query_embedder(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    photos = ingest_demo_photos(data_dir)  # --backend torch: no ONNX files either
    onnx_dir = tmp_path / "onnx"  # the server's own, not the test session's shared one
    flags = ["--backend", "torch", "--device", "cpu"]
    env = {"SAME_SAME_ONNX_DIR": str(onnx_dir)}
    with running_server(data_dir, extra_args=flags, env=env) as url:
        status, answer = fetch_json(
            "POST", f"{url}/api/v1/search",
            {"query": "a sunset over the ocean", "namespace": DEMO_NAMESPACE, "limit": 3},
        )  # fmt: skip
        assert status == 200, answer
        assert len(answer["results"]) == 3
        picture = next(path for path in sorted(photos.rglob("*")) if path.is_file())
        image = base64.b64encode(picture.read_bytes()).decode("ascii")
        status, answer = fetch_json(
            "POST", f"{url}/api/v1/search/image",
            {"image": image, "namespace": DEMO_NAMESPACE, "limit": 3},
        )  # fmt: skip
        assert status == 200, answer
        assert len(answer["results"]) == 3
    made = sorted(path.name for path in onnx_dir.rglob("*")) if onnx_dir.exists() else []
    assert made == [], f"the query embedder ran the auto backend: {made}"
