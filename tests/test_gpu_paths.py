"""The CUDA code paths, run on this machine's CPU: there is no GPU here (nor in CI).

Each path the ingest takes on a GPU is a function that also runs on a CPU: halving a
batch that ran out of memory (with a stand-in model that raises torch's real
``OutOfMemoryError``, because no device here runs out), the batch size chosen from
free memory (a pure function, given numbers), the staging of a batch through a
reused host buffer (pinned only on CUDA), and JPEG decoding with torchvision plus
CLIP preprocessing in torch ops (``device="cpu"`` here, ``"cuda"`` on a GPU),
compared with the PIL path on real photos.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from clip_fixtures import shared_tiny_embedder, torch
from same_same.embedders.clip import DeviceOutOfMemoryError
from same_same.embedders.clip.batch_fitting import (
    MEMORY_BATCH_CAP,
    FittingBatches,
    VisionShape,
    batch_size_for_memory,
    image_activation_bytes,
    vision_shape_of,
)
from same_same.embedders.clip.staging import HostStaging
from same_same.embedders.clip.torch_backend import TorchCLIP

GIB = 2**30


class OutOfMemoryAbove:
    """A stand-in for a GPU model (there is no GPU here): the real tiny CLIP model, which
    raises torch's real ``OutOfMemoryError`` for image batches larger than ``limit``."""

    def __init__(self, model: Any, limit: int) -> None:
        self.model = model
        self.limit = limit
        self.batch_sizes: list[int] = []

    def encode_image(self, batch: Any) -> Any:
        self.batch_sizes.append(len(batch))
        if len(batch) > self.limit:
            raise torch.OutOfMemoryError(
                f"CUDA out of memory. Tried to allocate {len(batch)} images (stand-in)"
            )
        return self.model.encode_image(batch)


def stand_in_backend(limit: int, lines: list[str]) -> tuple[TorchCLIP, OutOfMemoryAbove]:
    real = shared_tiny_embedder().backend
    assert isinstance(real, TorchCLIP)
    model = OutOfMemoryAbove(real.model, limit)
    backend = TorchCLIP(model, real.tokenizer, "cpu", real.preprocess, real.label)
    backend.image_batches.tell = lines.append
    return backend, model


def random_pixels(count: int, seed: int = 0) -> np.ndarray:
    shape = shared_tiny_embedder().preprocess_config.shape
    return np.random.default_rng(seed).normal(size=(count, *shape)).astype(np.float32)


def test_out_of_memory_halves_the_batch_keeps_order_and_remembers_the_size() -> None:
    lines: list[str] = []
    backend, model = stand_in_backend(limit=3, lines=lines)
    reference = shared_tiny_embedder().backend
    pixels = random_pixels(11)

    features = backend.encode_pixels(pixels)

    expected = reference.encode_pixels(pixels)
    assert features.shape == expected.shape
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)
    # 11 failed, then 6 (halves of 11: 6 + 5), then 3 fits
    assert lines == [
        "cpu: out of memory at batch 11, continuing with 6",
        "cpu: out of memory at batch 6, continuing with 3",
    ]
    assert backend.image_batches.fitting == 3
    assert max(size for size in model.batch_sizes if size <= 3) == 3

    model.batch_sizes.clear()
    again = backend.encode_pixels(pixels[:8])
    # the next batch goes straight to pieces of the remembered size: no failure, no line
    assert model.batch_sizes == [3, 3, 2]
    assert len(lines) == 2
    np.testing.assert_allclose(again, expected[:8], rtol=1e-4, atol=1e-5)


def test_out_of_memory_at_a_single_image_is_the_usual_error_with_its_hint() -> None:
    lines: list[str] = []
    backend, _model = stand_in_backend(limit=0, lines=lines)
    with pytest.raises(DeviceOutOfMemoryError) as raised:
        backend.encode_pixels(random_pixels(4))
    assert "out of memory on cpu" in str(raised.value) and "batches of 1" in str(raised.value)
    assert "--batch-size" in (raised.value.hint or "")
    assert lines[-1] == "cpu: out of memory at batch 2, continuing with 1"


def test_other_errors_are_not_taken_for_out_of_memory() -> None:
    def broken(start: int, stop: int) -> np.ndarray:
        raise ValueError("a shape mismatch")

    fitting = FittingBatches("cpu", "tiny", tell=lambda line: None)
    with pytest.raises(ValueError, match="shape mismatch"):
        fitting.encode(broken, 4)
    assert fitting.fitting is None


def test_halved_features_normalise_to_the_embedders_vectors() -> None:
    """The embedder chunks at its batch size (32), the halving backend below it (5)."""
    lines: list[str] = []
    backend, _model = stand_in_backend(limit=5, lines=lines)
    embedder = shared_tiny_embedder()
    pixels = random_pixels(20, seed=3)
    expected = embedder.embed_preprocessed(pixels)
    features = backend.encode_pixels(pixels)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    np.testing.assert_allclose(features / norms, expected, rtol=1e-4, atol=1e-5)
    assert backend.image_batches.fitting == 5


@pytest.mark.parametrize(
    ("free", "image_size", "width", "patch", "expected"),
    [
        (130 * GIB, 224, 768, 32, MEMORY_BATCH_CAP),  # ViT-B-32 on an H200: capped
        (7 * GIB, 224, 1024, 14, 128),  # ViT-L-14 on an 8 GB card
        (1 * GIB, 224, 1024, 14, 16),
        (3 * GIB, 336, 1024, 14, 16),  # ViT-L-14-336: four times the tokens
        (10 * 2**20, 224, 1024, 14, 1),  # nearly nothing free: one at a time
        (0, 224, 768, 32, 1),
    ],
)
def test_batch_size_from_free_memory(
    free: int, image_size: int, width: int, patch: int, expected: int
) -> None:
    assert batch_size_for_memory(free, image_size, width, patch) == expected


def test_batch_size_from_free_memory_is_a_power_of_two_that_fits() -> None:
    for free in (2**k for k in range(20, 38)):
        size = batch_size_for_memory(free, 224, 768, 16)
        assert size & (size - 1) == 0 and 1 <= size <= MEMORY_BATCH_CAP
        per_image = image_activation_bytes(VisionShape(224, 768, 16))
        assert size == 1 or size * per_image <= free // 2
        assert batch_size_for_memory(free * 2, 224, 768, 16) >= size


def test_vision_shape_comes_from_the_open_clip_config() -> None:
    assert vision_shape_of("ViT-B-32", 224) == VisionShape(224, 768, 32)
    assert vision_shape_of("ViT-L-14", 224) == VisionShape(224, 1024, 14)
    assert vision_shape_of("RN50", 224) is None  # a ResNet: the fallback size is used


def test_staging_on_cpu_wraps_the_array_without_a_buffer() -> None:
    staging = HostStaging("cpu", torch.float32)
    pixels = random_pixels(3)
    on_device = staging.to_device(pixels)
    assert not staging.buffered and staging.buffer_rows == 0
    assert on_device.dtype == torch.float32 and on_device.device.type == "cpu"
    np.testing.assert_array_equal(on_device.numpy(), pixels)


def test_staging_through_a_reused_buffer_the_path_cuda_takes() -> None:
    """The buffered path as on CUDA, on a CPU: the buffer is not pinned here."""
    staging = HostStaging("cpu", torch.float16, buffered=True)
    first = random_pixels(4, seed=1)
    out = staging.to_device(first)
    assert staging.buffer_rows == 4 and not staging.pinned
    assert out.dtype == torch.float16
    np.testing.assert_allclose(out.float().numpy(), first, rtol=1e-3, atol=1e-3)
    kept = staging._buffer
    second = random_pixels(2, seed=2)
    out = staging.to_device(second)  # a smaller batch reuses the same buffer
    assert staging._buffer is kept and staging.buffer_rows == 4
    np.testing.assert_allclose(out.float().numpy(), second, rtol=1e-3, atol=1e-3)
    staging.to_device(random_pixels(6, seed=3))  # a larger one gets a larger buffer
    assert staging.buffer_rows == 6


def test_only_cuda_stages_through_a_buffer_by_default() -> None:
    assert HostStaging("cuda", torch.float16).buffered
    assert HostStaging("cuda:1", torch.float16).buffered
    assert not HostStaging("cpu", torch.float32).buffered
    assert not HostStaging("mps", torch.float32).buffered
