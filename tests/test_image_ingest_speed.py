"""How the image pipeline schedules its work: the model loads in the background only when a
file needs it, a CPU torch model and decoding take turns on the cores, and a failed
background load ends the run with its own error before anything is written.

The real tiny CLIP model and a real SQLite store. The tests read one ordered log of
events (a decode started, a batch began or ended embedding); no clock is read.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clip_fixtures import tiny_model_paths
from same_same.embedders.clip import CLIPEmbedder
from same_same.errors import ModelUnavailableError
from same_same.ingest import IngestOptions, run_ingest
from same_same.sources import open_source
from same_same.storage import open_store
from same_same.synthetic import write_image_folder

pytestmark = pytest.mark.clip


class EventLog:
    """Events in the order they happened, from any thread."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._lock = threading.Lock()

    def add(self, event: str) -> None:
        with self._lock:
            self.events.append(event)

    def decodes_inside_batches(self) -> list[int]:
        """How many decodes started while each batch was embedding."""
        counts: list[int] = []
        inside = False
        for event in self.events:
            if event == "embed-start":
                inside, counts = True, [*counts, 0]
            elif event == "embed-end":
                inside = False
            elif event == "decode" and inside:
                counts[-1] += 1
        return counts


class LoggedEmbedder(CLIPEmbedder):
    """The real tiny CLIP embedder; it also logs when each batch starts and ends."""

    def __init__(self, log: EventLog | None = None, **options: Any) -> None:
        config, weights = tiny_model_paths()
        options.setdefault("backend", "torch")  # the turn-taking is torch's (auto may pick ONNX)
        super().__init__(str(config), str(weights), device="cpu", **options)
        self.log = log or EventLog()
        self.batches = 0

    def embed_preprocessed(self, batch: np.ndarray) -> np.ndarray:
        self.log.add("embed-start")
        time.sleep(0.3)  # a window wide enough for several stray decodes to start in
        vectors = super().embed_preprocessed(batch)
        self.batches += 1
        self.log.add("embed-end")
        return vectors


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> EventLog:
    """Each file's decoding logs its start (the pipeline's own function, wrapped)."""
    import same_same.ingest.model_input as model_input

    events = EventLog()
    real = model_input.prepare_image_file

    def logged(*args: Any, **kwargs: Any) -> Any:
        events.add("decode")
        time.sleep(0.06)  # decoding as slow as a big photo's, so the pool runs behind
        return real(*args, **kwargs)

    monkeypatch.setattr(model_input, "prepare_image_file", logged)
    return events


def ingest(root: Path, store_dir: Path, embedder: CLIPEmbedder, **options: Any) -> Any:
    with open_store(store_dir) as store:
        return run_ingest(
            store, embedder, open_source(f"images:{root}"), IngestOptions("pics", **options)
        )


def test_cpu_torch_model_and_decoding_take_turns(tmp_path: Path, log: EventLog) -> None:
    write_image_folder(tmp_path / "pics", 24, seed=5)
    embedder = LoggedEmbedder(log, batch_size=4)
    assert embedder.wants_cores_to_itself
    report = ingest(tmp_path / "pics", tmp_path / "store", embedder, batch_size=4, workers=1)
    assert report.stored == 24 and embedder.batches == 6
    assert log.events.count("decode") == 24
    # Without turns, the worker would start about five files in each 0.3 s embedding window.
    # With them, only a file whose thread passed the gate just before it closed may start
    # late (at most one per worker), however slow a loaded machine makes that thread.
    late = log.decodes_inside_batches()
    assert len(late) == 6 and max(late) <= 1, late


def test_cpu_models_take_turns_and_gpu_models_decode_alongside(tmp_path: Path) -> None:
    config, weights = tiny_model_paths()
    for backend in ("torch", "onnx", "onnx-int8"):
        on_cpu = CLIPEmbedder(
            str(config), str(weights), device="cpu", backend=backend, data_dir=tmp_path
        )
        assert on_cpu.wants_cores_to_itself, backend
    # torch on a GPU: cannot run here; the answer only needs the device's name
    gpu = CLIPEmbedder(str(config), str(weights), device="cpu")
    gpu._backend = type("GPUStandIn", (), {"device": "cuda:0"})()  # type: ignore[assignment]
    assert not gpu.wants_cores_to_itself


def test_the_model_loads_only_when_a_file_needs_it(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "pics", 5, seed=6)
    first = LoggedEmbedder()
    assert ingest(tmp_path / "pics", tmp_path / "store", first).stored == 5
    assert first.is_loaded

    again = LoggedEmbedder()
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
        # nothing recorded, not even the namespace: a retry with another model is welcome
        assert store.list_namespaces() == []
    config, weights = tiny_model_paths()
    working = CLIPEmbedder(str(config), str(weights), device="cpu")
    assert ingest(tmp_path / "pics", tmp_path / "store", working).stored == 6


class ReportsACudaDevice(CLIPEmbedder):
    """The real tiny model on the CPU, reporting a CUDA device as a GPU embedder would.

    CI has no GPU; the pipeline only reads the device's name to size its decode pool.
    """

    @property
    def device(self) -> str:
        return "cuda:0"


def test_a_gpu_model_gets_a_decode_thread_per_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import same_same.ingest.images as images

    pools: list[int] = []

    class RecordingPool(ThreadPoolExecutor):
        def __init__(self, max_workers: int, *args: Any) -> None:
            pools.append(max_workers)
            super().__init__(max_workers, *args)

    monkeypatch.setattr(images, "ThreadPoolExecutor", RecordingPool)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    write_image_folder(tmp_path / "pics", 3, seed=8)
    config, weights = tiny_model_paths()
    # a batch size given: none from the free memory of a GPU that is not there
    gpu = ReportsACudaDevice(str(config), str(weights), device="cpu", batch_size=32)
    assert ingest(tmp_path / "pics", tmp_path / "gpu-store", gpu).stored == 3
    cpu = CLIPEmbedder(str(config), str(weights), device="cpu")
    assert ingest(tmp_path / "pics", tmp_path / "cpu-store", cpu).stored == 3
    assert pools == [16, 8]  # every core decodes for a GPU; a CPU model keeps some
