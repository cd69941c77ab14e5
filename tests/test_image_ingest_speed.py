"""How the image pipeline schedules its work: the model loads in the background only when a
file needs it, a CPU torch model and decoding take turns on the cores, and a failed
background load ends the run with its own error before anything is written.

The real tiny CLIP model and a real SQLite store; the clocks below only order events
(which decode started while which batch was embedding), they never judge speed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clip_fixtures import tiny_model_paths
from same_same.embedders.clip import CLIPEmbedder
from same_same.errors import ModelUnavailableError
from same_same.ingest import run_ingest
from same_same.sources import open_source
from same_same.storage import open_store
from same_same.synthetic import write_image_folder

pytestmark = pytest.mark.clip


class TimedEmbedder(CLIPEmbedder):
    """The real tiny CLIP embedder; it also notes when each batch was embedded."""

    def __init__(self, **options: Any) -> None:
        config, weights = tiny_model_paths()
        super().__init__(str(config), str(weights), device="cpu", **options)
        self.batches: list[tuple[float, float]] = []

    def embed_preprocessed(self, batch: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        time.sleep(0.3)  # a window wide enough for several stray decodes to start in
        vectors = super().embed_preprocessed(batch)
        self.batches.append((started, time.perf_counter()))
        return vectors


@pytest.fixture
def decode_starts(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """When each file's decoding began (the pipeline's own function, wrapped)."""
    import same_same.ingest.images as images

    starts: list[float] = []
    lock = threading.Lock()
    real = images.prepare_image_file

    def timed(*args: Any, **kwargs: Any) -> Any:
        with lock:
            starts.append(time.perf_counter())
        time.sleep(0.06)  # decoding as slow as a big photo's, so the pool runs behind
        return real(*args, **kwargs)

    monkeypatch.setattr(images, "prepare_image_file", timed)
    return starts


def ingest(root: Path, store_dir: Path, embedder: CLIPEmbedder, **options: Any) -> Any:
    with open_store(store_dir) as store:
        return run_ingest(store, embedder, open_source(f"images:{root}"), namespace="pics",
                          **options)


def test_cpu_torch_model_and_decoding_take_turns(
    tmp_path: Path, decode_starts: list[float]
) -> None:
    write_image_folder(tmp_path / "pics", 24, seed=5)
    embedder = TimedEmbedder(batch_size=4)
    assert embedder.wants_cores_to_itself
    report = ingest(tmp_path / "pics", tmp_path / "store", embedder, batch_size=4, workers=1)
    assert report.stored == 24 and len(embedder.batches) == 6
    assert len(decode_starts) == 24
    # Without turns, the worker would start about five files in each 0.3 s embedding window.
    # With them, only a file whose thread passed the gate just before it closed may start
    # late (at most one per worker), however slow a loaded machine makes that thread.
    late = [sum(begin < t < end for t in decode_starts) for begin, end in embedder.batches]
    assert max(late) <= 1, late


def test_cpu_models_take_turns_and_gpu_models_decode_alongside(tmp_path: Path) -> None:
    config, weights = tiny_model_paths()
    for backend in ("torch", "onnx", "onnx-int8"):
        on_cpu = CLIPEmbedder(
            str(config), str(weights), device="cpu", backend=backend, cache_dir=tmp_path
        )
        assert on_cpu.wants_cores_to_itself, backend
    # torch on a GPU: cannot run here; the answer only needs the device's name
    gpu = CLIPEmbedder(str(config), str(weights), device="cpu")
    gpu._backend = type("GPUStandIn", (), {"device": "cuda:0"})()  # type: ignore[assignment]
    assert not gpu.wants_cores_to_itself


def test_the_model_loads_only_when_a_file_needs_it(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "pics", 5, seed=6)
    first = TimedEmbedder()
    assert ingest(tmp_path / "pics", tmp_path / "store", first).stored == 5
    assert first.is_loaded

    again = TimedEmbedder()
    report = ingest(tmp_path / "pics", tmp_path / "store", again)
    assert (report.stored, report.unchanged) == (0, 5)
    assert not again.is_loaded  # nothing changed: no background load either


def test_a_model_that_cannot_load_ends_the_run_before_any_write(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "pics", 6, seed=7)
    config, _ = tiny_model_paths()
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint at all")
    embedder = CLIPEmbedder(str(config), str(broken), device="cpu")
    with pytest.raises(ModelUnavailableError, match="cannot load CLIP model"):
        ingest(tmp_path / "pics", tmp_path / "store", embedder, batch_size=2)
    with open_store(tmp_path / "store") as store:
        assert store.count("pics") == 0
