"""The ONNX Runtime backends (``--backend onnx``, ``onnx-int8``) against the torch backend.

Everything runs for real: the bundled tiny model is exported from its open_clip
weights with torch's exporter into a temporary data directory, then run with
ONNX Runtime, and compared with the same model under torch. ViT-B-32 is never
exported here (bench/ingest.py does that); the tiny model exports in seconds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from clip_fixtures import HELD_OUT_SEED, real_photo_paths, shared_tiny_embedder, tiny_model_paths
from conftest import ONNX_DIR_ENV, run_cli
from same_same.embedders import EmbedderOptions, create_embedder
from same_same.embedders.clip import CLIPEmbedder
from same_same.embedders.clip.backends import (
    BACKEND_ENV,
    backend_device,
    check_backend_name,
    default_batch_size,
    list_clip_backends,
)
from same_same.embedders.clip.device import Accelerators, choose_device
from same_same.embedders.clip.onnx_backend import (
    forget_loaded_onnx_models,
    onnx_file,
    weights_fingerprint,
)
from same_same.errors import InvalidInputError, UnknownNameError
from same_same.imaging import load_image
from same_same.ingest.scheduling import READ_AHEAD_BYTES, default_workers, read_ahead
from same_same.synthetic import write_image_folder

pytest.importorskip("onnxruntime", reason="needs the [onnx] extra")
pytest.importorskip("onnx", reason="needs the [onnx] extra")
pytestmark = pytest.mark.clip

TEXTS = [
    "a red circle",
    "two blue squares on the left",
    "three yellow stars at the top on a black background",
    "a photo",
    "",
    # longer than the 77-token context: cut like open_clip cuts it
    " ".join(["a green triangle in the center"] * 30),
]


@pytest.fixture(scope="module", autouse=True)
def exports_in_the_data_dir() -> Iterator[None]:
    """These tests look at a data directory's own ``onnx`` folder, not the session's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ONNX_DIR_ENV, raising=False)
        yield


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``onnx`` folder of a data directory, where exports are kept."""
    return tmp_path_factory.mktemp("data") / "onnx"


def onnx_embedder(cache_dir: Path, backend: str = "onnx") -> CLIPEmbedder:
    config, weights = tiny_model_paths()
    return CLIPEmbedder(
        str(config), str(weights), device="cpu", backend=backend, data_dir=cache_dir.parent
    )


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# -- the registry ----------------------------------------------------------------------------


def test_backends_are_chosen_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert list_clip_backends() == ["auto", "onnx", "onnx-int8", "torch"]
    assert check_backend_name(None) == "auto"
    assert check_backend_name("ONNX-int8") == "onnx-int8"
    with pytest.raises(UnknownNameError, match="known: auto, onnx, onnx-int8, torch") as raised:
        check_backend_name("tensorrt")
    assert raised.value.known and "tensorrt" in str(raised.value)

    config, weights = tiny_model_paths()
    monkeypatch.setenv(BACKEND_ENV, "onnx")
    assert CLIPEmbedder(str(config), str(weights)).backend_name == "onnx"
    options = EmbedderOptions(model=str(config), pretrained=str(weights), backend="onnx-int8")
    assert create_embedder("clip", options).backend_name == "onnx-int8"  # the flag wins
    monkeypatch.setenv(BACKEND_ENV, "nope")
    with pytest.raises(UnknownNameError, match="unknown CLIP backend 'nope'"):
        CLIPEmbedder(str(config), str(weights))


def test_every_backend_gives_the_same_space(cache_dir: Path) -> None:
    spaces = {onnx_embedder(cache_dir, name).space for name in list_clip_backends()}
    assert len(spaces) == 1


def test_unknown_backend_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    config, weights = tiny_model_paths()
    (tmp_path / "pics").mkdir()
    done = run_cli(
        "ingest", f"images:{tmp_path / 'pics'}", "-e", "clip", "--clip-model", str(config),
        "--clip-pretrain", str(weights), "--backend", "tensorrt",
        data_dir=tmp_path / "store",
    )
    assert done.returncode != 0
    assert "unknown CLIP backend 'tensorrt'; known: auto, onnx, onnx-int8, torch" in done.stderr
    assert "Traceback" not in done.stderr


# -- export and cache --------------------------------------------------------------------------


def test_export_once_then_reuse_the_cached_files(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forget_loaded_onnx_models()
    embedder = onnx_embedder(cache_dir)
    embedder.load()
    files = embedder.backend.files  # type: ignore[attr-defined]
    assert sorted(p.name for p in files.values()) == sorted(
        onnx_file(embedder.choice, cache_dir, "fp32", tower).name for tower in ("image", "text")
    )
    for path in files.values():
        assert path.is_file() and path.stat().st_size > 100_000
        assert embedder.choice.model.split("/")[-1] in path.name
        assert f"-{weights_fingerprint(embedder.choice)}-opset17-fp32-" in path.name
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".")]  # no temporary left
    before = {tower: path.stat() for tower, path in files.items()}
    capsys.readouterr()

    forget_loaded_onnx_models()  # as a new process would
    again = onnx_embedder(cache_dir)
    again.embed_texts(["a red circle"])
    again.embed_preprocessed(np.zeros((1, *again.preprocess_config.shape), np.float32))
    assert "exporting" not in capsys.readouterr().err
    for tower, path in files.items():
        now = path.stat()
        assert (now.st_ino, now.st_mtime_ns) == (before[tower].st_ino, before[tower].st_mtime_ns)


def test_other_weights_get_other_files(tmp_path: Path, cache_dir: Path) -> None:
    config, weights = tiny_model_paths()
    copy = tmp_path / "weights.safetensors"
    copy.write_bytes(weights.read_bytes())
    same_file = CLIPEmbedder(str(config), str(weights)).choice
    other_file = CLIPEmbedder(str(config), str(copy)).choice
    random = CLIPEmbedder(str(config), "none").choice
    fingerprints = {weights_fingerprint(c) for c in (same_file, other_file, random)}
    assert len(fingerprints) == 3
    assert weights_fingerprint(same_file) == weights_fingerprint(
        CLIPEmbedder(str(config), str(weights)).choice
    )


def test_a_damaged_cache_file_is_a_clear_error(tmp_path: Path) -> None:
    embedder = onnx_embedder(tmp_path / "onnx")
    embedder.load()
    image_file = embedder.backend.files["image"]  # type: ignore[attr-defined]
    forget_loaded_onnx_models()
    image_file.write_bytes(b"not a model")
    with pytest.raises(Exception, match="delete that file") as raised:
        onnx_embedder(tmp_path / "onnx").embed_preprocessed(np.zeros((1, 3, 64, 64), np.float32))
    assert type(raised.value).__name__ == "ModelUnavailableError"
    forget_loaded_onnx_models()


# -- numbers ---------------------------------------------------------------------------------


def test_fp32_matches_torch_on_real_photos_and_texts(cache_dir: Path) -> None:
    torch_embedder = shared_tiny_embedder()
    onnx = onnx_embedder(cache_dir)
    images = [load_image(path) for path in real_photo_paths()]
    assert len(images) >= 5
    assert cosines(onnx.embed_images(images), torch_embedder.embed_images(images)).min() >= 0.9999
    assert cosines(onnx.embed_texts(TEXTS), torch_embedder.embed_texts(TEXTS)).min() >= 0.9999
    # a batch cut at its end-of-text token and one at full length agree
    short, long = onnx.embed_texts(["a red circle"]), onnx.embed_texts([TEXTS[-1], "a red circle"])
    assert float(short[0] @ long[1]) >= 0.99999


def test_int8_is_close_and_finds_the_same_top5(cache_dir: Path, tmp_path: Path) -> None:
    rows = write_image_folder(tmp_path / "pics", 40, HELD_OUT_SEED)
    images = [load_image(path) for path, _, _ in rows]
    queries = sorted({caption for _, caption, _ in rows})[:24]
    queries += ["a red circle", "two blue squares", "a star", "something yellow"]
    torch_embedder = shared_tiny_embedder()
    int8 = onnx_embedder(cache_dir, "onnx-int8")
    image_fp32, image_int8 = torch_embedder.embed_images(images), int8.embed_images(images)
    text_fp32, text_int8 = torch_embedder.embed_texts(queries), int8.embed_texts(queries)
    assert cosines(image_int8, image_fp32).min() >= 0.999
    assert cosines(text_int8, text_fp32).min() >= 0.999

    exact, quantized = text_fp32 @ image_fp32.T, text_int8 @ image_int8.T
    assert np.abs(exact - quantized).max() < 0.02
    same = 0
    for query, scores in enumerate(exact):
        top_exact = set(np.argsort(-scores)[:5])
        top_quantized = set(np.argsort(-quantized[query])[:5])
        same += top_exact == top_quantized
        # where they differ, int8 only swapped pictures that fp32 scores as a tie
        fifth = np.sort(scores)[-5]
        assert all(scores[i] >= fifth - 0.01 for i in top_quantized), queries[query]
    assert same >= 0.9 * len(queries)


# -- the real command line -------------------------------------------------------------------


def test_cli_ingest_with_onnx_gives_the_torch_space(tmp_path: Path) -> None:
    config, weights = tiny_model_paths()
    rows = write_image_folder(tmp_path / "pics", 12, HELD_OUT_SEED + 1)
    store = tmp_path / "store"
    common = ["-e", "clip", "--clip-model", str(config), "--clip-pretrain", str(weights),
              "--device", "cpu", "--json", "-q"]
    done = run_cli("ingest", f"images:{tmp_path / 'pics'}", "-n", "onnx", "--backend", "onnx",
                   *common, data_dir=store)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stored"] == 12
    assert "exporting CLIP model" in done.stderr  # once, into the data directory
    exported = sorted(p.name for p in (store / "onnx").iterdir())
    assert len(exported) == 2 and all("-fp32-" in name for name in exported)

    done = run_cli("ingest", f"images:{tmp_path / 'pics'}", "-n", "torch", "--backend", "torch",
                   *common, data_dir=store)
    assert done.returncode == 0, done.stderr
    # a namespace written with onnx takes more files embedded with torch: one space
    write_image_folder(tmp_path / "more", 2, HELD_OUT_SEED + 2)
    done = run_cli("ingest", f"images:{tmp_path / 'more'}", "-n", "onnx", "--backend", "torch",
                   *common, data_dir=store)
    assert done.returncode == 0, done.stderr

    listed = run_cli("namespaces", "--json", data_dir=store)
    assert listed.returncode == 0, listed.stderr
    namespaces = json.loads(listed.stdout)["namespaces"]
    assert {ns["name"] for ns in namespaces} == {"onnx", "torch"}
    assert {ns["name"]: ns["count"] for ns in namespaces} == {"onnx": 14, "torch": 12}
    # both fp32: the namespace takes both and names them
    assert {ns["name"]: ns["writers"] for ns in namespaces} == {
        "onnx": ["onnx", "torch"], "torch": ["torch"]
    }
    spaces = {json.dumps(ns["space"], sort_keys=True) for ns in namespaces}
    assert len(spaces) == 1

    query = rows[0][1]
    by_backend = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        found = run_cli("search", query, "-n", "onnx", "-k", "3", "--json", data_dir=store,
                        env={BACKEND_ENV: backend})
        assert found.returncode == 0, found.stderr
        results = json.loads(found.stdout)["results"]
        by_backend[backend] = [r["id"] for r in results]
    assert by_backend["torch"] == by_backend["onnx"]
    assert len(by_backend["onnx-int8"]) == 3
    assert sorted(p.name for p in (store / "onnx").iterdir()) != exported  # int8 added


# -- batch sizes, devices, threads (no GPU here: the choices are plain logic) ----------------


def test_batch_size_follows_the_device_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_batch_size("cpu") == 16
    assert default_batch_size(choose_device("auto", Accelerators(cuda_devices=1))) == 128
    assert default_batch_size(choose_device("cuda:1", Accelerators(cuda_devices=2))) == 128
    assert default_batch_size(choose_device("auto", Accelerators(mps=True))) == 16
    config, weights = tiny_model_paths()
    assert CLIPEmbedder(str(config), str(weights), device="cpu", batch_size=None).batch_size == 16
    assert CLIPEmbedder(str(config), str(weights), device="cpu", batch_size=7).batch_size == 7
    auto = EmbedderOptions(model=str(config), pretrained=str(weights), device="cpu")
    assert create_embedder("clip", auto).batch_size == 16
    with pytest.raises(InvalidInputError, match="batch size"):
        CLIPEmbedder(str(config), str(weights), batch_size=0)


def test_decoding_uses_every_core_when_the_model_is_on_a_gpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert default_workers("cpu") == 8  # the model needs the other cores
    assert default_workers("cuda:0") == 16
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert default_workers("cuda") == 32
    assert default_workers("cpu") == 8
    # a GPU batch of 128 is read four batches ahead, within the memory bound
    assert read_ahead(128, 16, 3 * 224 * 224 * 4) == 512
    assert read_ahead(128, 16, 3 * 448 * 448 * 4) == READ_AHEAD_BYTES // (3 * 448 * 448 * 4)
    assert read_ahead(16, 2, 3 * 224 * 224 * 4) == 64
    assert read_ahead(1, 8, 10**9) == 17  # always a batch and two files per thread


def test_onnx_devices() -> None:
    assert backend_device("onnx", "cpu") == "cpu"
    assert backend_device("onnx-int8", "auto") in ("cpu", "cuda:0")
    with pytest.raises(InvalidInputError, match="not mps"):
        backend_device("onnx", "mps")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(InvalidInputError, match="onnxruntime-gpu"):
            backend_device("onnx", "cuda")
