"""Builtin model resolutions are remembered, so the ONNX backends never import torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("open_clip")

from same_same.embedders.clip import CLIPEmbedder, resolve_model_choice  # noqa: E402
from same_same.embedders.clip.choice_cache import CACHE_FILE, choice_key  # noqa: E402
from same_same.embedders.clip.runner import ONNX_DIR_ENV  # noqa: E402

PROBE = textwrap.dedent(
    """
    import json, sys
    from same_same.embedders.clip import CLIPEmbedder
    embedder = CLIPEmbedder("ViT-B-32", sys.argv[2], backend=sys.argv[3], data_dir=sys.argv[1])
    print(json.dumps({
        "dim": embedder.dim,
        "shape": list(embedder.preprocess_config.shape),
        "space": embedder.space.describe(),
        "torch": "torch" in sys.modules,
        "open_clip": "open_clip" in sys.modules,
    }))
    """
)


def probe(cache_dir: Path, pretrained: str = "none", backend: str = "onnx") -> dict[str, object]:
    # the session's shared ONNX folder would take the cache away from ``cache_dir``
    env = {k: v for k, v in os.environ.items() if k != ONNX_DIR_ENV}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(cache_dir), pretrained, backend],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env=env,
    )
    return dict(json.loads(done.stdout))


def test_a_second_onnx_process_resolves_without_importing_torch(tmp_path: Path) -> None:
    first = probe(tmp_path)
    assert first["open_clip"] and first["torch"]  # the first resolution asks open_clip
    assert (tmp_path / "onnx" / CACHE_FILE).is_file()
    second = probe(tmp_path)
    assert not second["open_clip"] and not second["torch"]
    assert {k: second[k] for k in ("dim", "shape", "space")} == {
        k: first[k] for k in ("dim", "shape", "space")
    }
    assert second["dim"] == 512 and second["shape"] == [3, 224, 224]


def test_the_cached_choice_equals_open_clips_resolution(tmp_path: Path) -> None:
    fresh = resolve_model_choice("ViT-B-32", "openai")
    resolve_model_choice("ViT-B-32", "openai", tmp_path)  # writes the cache
    cached = resolve_model_choice("ViT-B-32", "openai", tmp_path)
    assert cached == fresh and cached.preprocess == fresh.preprocess
    assert cached.preprocess_overrides == fresh.preprocess_overrides


def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path: Path) -> None:
    (tmp_path / CACHE_FILE).write_text("{not json", encoding="utf-8")
    choice = resolve_model_choice("ViT-B-32", "none", tmp_path)
    assert choice.embed_dim == 512
    data = json.loads((tmp_path / CACHE_FILE).read_text(encoding="utf-8"))
    key = choice_key("ViT-B-32", "none")
    assert key is not None and key in data["choices"]
    # a foreign entry under the same key (another version's fields) is resolved again
    data["choices"][key] = {"model": "ViT-B-32", "unknown_field": 1, "preprocess": {}}
    (tmp_path / CACHE_FILE).write_text(json.dumps(data), encoding="utf-8")
    assert resolve_model_choice("ViT-B-32", "none", tmp_path).embed_dim == 512


def test_checkpoint_files_are_never_cached(tmp_path: Path) -> None:
    checkpoint = tmp_path / "weights.pt"
    checkpoint.write_bytes(b"not read while resolving")
    assert choice_key("ViT-B-32", str(checkpoint)) is None
    choice = resolve_model_choice("ViT-B-32", str(checkpoint), tmp_path)
    assert choice.weights == "file"
    assert not (tmp_path / CACHE_FILE).exists()


def test_the_key_names_open_clips_version() -> None:
    import importlib.metadata

    key = choice_key("ViT-B-32", "openai")
    assert key is not None and importlib.metadata.version("open_clip_torch") in key


def test_the_torch_backend_keeps_resolving_with_open_clip(tmp_path: Path) -> None:
    embedder = CLIPEmbedder("ViT-B-32", "none", backend="torch", data_dir=tmp_path)
    assert embedder.dim == 512
    assert not (tmp_path / "onnx" / CACHE_FILE).exists()
