"""Defects the untyped embedder seam hid, each seen the way a user meets it: through the
real CLI (in process), a real temp store, the real OpenCLIP code path with the tiny model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clip_fixtures import write_hub_style_folder
from conftest import run_cli
from same_same.embedders.hashing import HashingEmbedder
from same_same.ingest import EXIT_SOME_SKIPPED, IngestOptions, Progress, run_ingest
from same_same.sources import open_source
from same_same.storage import open_store
from same_same.synthetic import write_image_folder

pytestmark = pytest.mark.clip

TINY = ("--clip-model", "same-same-tiny-clip", "--device", "cpu")


def namespaces(data_dir: Path) -> dict[str, Any]:
    done = run_cli("namespaces", "--json", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    return {ns["name"]: ns for ns in json.loads(done.stdout)["namespaces"]}


def test_a_model_that_cannot_load_leaves_no_namespace_behind(
    data_dir: Path, tmp_path: Path
) -> None:
    write_image_folder(tmp_path / "pics", 4, seed=11)
    # the default ViT-B-32/openai weights cannot be downloaded here (HF_HUB_OFFLINE=1)
    failed = run_cli(
        "ingest", "-e", "clip", "--device", "cpu", f"images:{tmp_path / 'pics'}", data_dir=data_dir
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: ") and len(failed.stderr.strip().splitlines()) == 1
    assert namespaces(data_dir) == {}
    # the retry with a model that loads is welcome in the same namespace
    done = run_cli("ingest", "-e", "clip", *TINY, f"images:{tmp_path / 'pics'}", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert namespaces(data_dir)["default"]["count"] == 4
    found = run_cli("search", "a red circle", "--json", data_dir=data_dir)  # no namespace named
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["total"] == 4


def test_models_in_the_data_dir_models_folder_follow_data_dir(tmp_path: Path) -> None:
    store = tmp_path / "D"
    write_hub_style_folder(store / "models" / "MyTiny" / "v1")
    write_image_folder(tmp_path / "pics", 3, seed=12)
    elsewhere = {"SAME_SAME_DATA_DIR": str(tmp_path / "default-store")}
    done = run_cli(
        "ingest",
        "-e",
        "clip",
        "--data-dir",
        str(store),
        "--clip-model",
        "MyTiny",
        "--clip-pretrain",
        "v1",
        "--device",
        "cpu",
        f"images:{tmp_path / 'pics'}",
        env=elsewhere,
    )
    assert done.returncode == 0, done.stderr
    (info,) = namespaces(store).values()
    assert info["space"]["model"] == "MyTiny" and info["space"]["pretrained"] == "v1"


def test_query_models_export_into_the_data_dir_they_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAME_SAME_ONNX_DIR", raising=False)  # the session's shared folder
    store, default = tmp_path / "D", tmp_path / "default-store"
    write_image_folder(tmp_path / "pics", 3, seed=13)
    env = {"SAME_SAME_DATA_DIR": str(default)}
    done = run_cli(
        "ingest",
        "-e",
        "clip",
        *TINY,
        "--backend",
        "torch",
        "--data-dir",
        str(store),
        f"images:{tmp_path / 'pics'}",
        env=env,
    )  # torch: nothing exported
    assert done.returncode == 0, done.stderr
    assert not (store / "onnx").exists()
    # the query side picks its backend from the environment
    onnx_env = {**env, "SAME_SAME_CLIP_BACKEND": "onnx"}
    found = run_cli("search", "a red circle", "--data-dir", str(store), "--json", env=onnx_env)
    assert found.returncode == 0, found.stderr
    assert sorted(p.suffix for p in (store / "onnx").glob("*.onnx")) == [".onnx", ".onnx"]
    assert not (default / "onnx").exists()


def test_the_server_exports_query_models_into_its_own_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from same_same.embedders.clip.onnx_backend import FILE_TAGS
    from same_same.server import ServerSettings, create_app

    store, default = tmp_path / "S", tmp_path / "default-store"
    write_image_folder(tmp_path / "pics", 3, seed=14)
    assert (
        run_cli(
            "ingest", "-e", "clip", *TINY, "--data-dir", str(store), f"images:{tmp_path / 'pics'}"
        ).returncode
        == 0
    )
    monkeypatch.setenv("SAME_SAME_DATA_DIR", str(default))
    monkeypatch.delenv("SAME_SAME_ONNX_DIR", raising=False)  # the session's shared folder
    monkeypatch.setenv("SAME_SAME_CLIP_BACKEND", "onnx-int8")
    with TestClient(create_app(ServerSettings(data_dir=store))) as client:
        answer = client.post("/api/v1/search", json={"text": "a red circle", "limit": 2})
    assert answer.status_code == 200, answer.text
    assert len(list((store / "onnx").glob(f"*-{FILE_TAGS['int8']}-*.onnx"))) == 2
    assert not (default / "onnx").exists()


def test_namespaces_delete_on_the_command_line(data_dir: Path) -> None:
    assert run_cli("ingest", "-n", "quotes", "demo", data_dir=data_dir).returncode == 0
    assert run_cli("ingest", "-n", "other", "demo", data_dir=data_dir).returncode == 0
    gone = run_cli("namespaces", "delete", "quotes", data_dir=data_dir)
    assert gone.returncode == 0, gone.stderr
    assert gone.stderr.strip() == "deleted namespace 'quotes' (24 records)"
    assert list(namespaces(data_dir)) == ["other"]
    missing = run_cli("namespaces", "delete", "quotes", data_dir=data_dir)
    assert missing.returncode == 1
    assert missing.stderr.strip() == ("error: namespace 'quotes' does not exist; existing: other")
    as_json = run_cli("namespaces", "--data-dir", str(data_dir), "delete", "other", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == {
        "deleted": "other",
        "count": 24,
    }
    assert namespaces(data_dir) == {}


def test_ingest_help_names_the_recursive_default_in_words() -> None:
    shown = run_cli("ingest", "-h")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    assert "[default: r]" not in text
    assert "[default: recursive;" in text


class UnusableForOneText(HashingEmbedder):
    """The real local embedder, except that one text comes out as NaN (a broken model)."""

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        vectors = super().embed_texts(texts)
        for row, text in enumerate(texts):
            if "Imagination" in text:
                vectors[row] = np.nan
        return vectors


def test_items_the_model_cannot_embed_count_as_failed(tmp_path: Path) -> None:
    import io

    stream = io.StringIO()
    with open_store(tmp_path / "store") as store:
        report = run_ingest(
            store,
            UnusableForOneText(),
            open_source("demo"),
            IngestOptions("quotes"),
            Progress(stream=stream),
        )
        assert store.count("quotes") == 23
    assert (report.stored, report.failed, report.skipped) == (23, 1, 0)
    assert report.exit_code == EXIT_SOME_SKIPPED and report.to_dict()["failed"] == 1
    (line,) = [line for line in stream.getvalue().splitlines() if line.startswith("failed ")]
    assert line.endswith("the model gave no usable vector (not finite, or all zeros)")
    assert "failed 1" in report.summary_lines()[1]


def test_quiet_minilm_draws_no_loading_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sentence_transformers", reason="needs the [minilm] extra")
    import tqdm

    from same_same.embedders import minilm

    drawn: list[object] = []
    real_init = tqdm.tqdm.__init__

    def noting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        drawn.append(kwargs.get("desc"))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(tqdm.tqdm, "__init__", noting_init)
    monkeypatch.setattr(minilm, "_MODELS", {})  # load for real, whatever ran before
    minilm.MiniLMEmbedder(device="cpu", quiet=True).load()
    assert drawn == []
    monkeypatch.setattr(minilm, "_MODELS", {})
    minilm.MiniLMEmbedder(device="cpu").load()
    assert "Loading weights" in drawn  # the bar -q turns off is there without it
