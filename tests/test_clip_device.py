"""Device choice as plain logic over what a machine offers (there is no GPU here, so
the machines are described, not mocked), plus what this machine really says."""

from __future__ import annotations

import pytest

from same_same.embedders.clip.device import (
    Accelerators,
    check_device_name,
    choose_device,
    precision_for,
)
from same_same.errors import InvalidInputError

CPU_ONLY = Accelerators()
ONE_GPU = Accelerators(cuda_devices=1)
TWO_GPUS = Accelerators(cuda_devices=2)
APPLE = Accelerators(mps=True)


@pytest.mark.parametrize(
    ("requested", "machine", "expected"),
    [
        ("auto", CPU_ONLY, "cpu"),
        ("auto", ONE_GPU, "cuda"),
        ("auto", APPLE, "mps"),
        ("auto", Accelerators(cuda_devices=1, mps=True), "cuda"),
        ("AUTO ", ONE_GPU, "cuda"),
        ("", CPU_ONLY, "cpu"),
        ("cpu", TWO_GPUS, "cpu"),
        ("cuda", ONE_GPU, "cuda"),
        ("cuda:1", TWO_GPUS, "cuda:1"),
        ("mps", APPLE, "mps"),
    ],
)
def test_choices(requested: str, machine: Accelerators, expected: str) -> None:
    assert choose_device(requested, machine) == expected


@pytest.mark.parametrize(
    ("requested", "machine", "message"),
    [
        ("cuda", CPU_ONLY, "no CUDA GPU"),
        ("cuda:0", APPLE, "no CUDA GPU"),
        ("cuda:2", TWO_GPUS, "cuda:0..cuda:1"),
        ("mps", ONE_GPU, "'mps' is not available"),
        ("gpu", ONE_GPU, "known: auto, cpu, cuda, cuda:N, mps"),
        ("cuda:x", ONE_GPU, "unknown device"),
    ],
)
def test_unavailable_or_unknown_devices(
    requested: str, machine: Accelerators, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        choose_device(requested, machine)


def test_half_precision_only_on_cuda() -> None:
    assert precision_for("cuda") == precision_for("cuda:1") == "fp16"
    assert precision_for("cpu") == precision_for("mps") == "fp32"


def test_names_are_checked_without_torch() -> None:
    assert check_device_name("CUDA:3") == "cuda:3"


def test_this_machine_runs_the_model_where_auto_says() -> None:
    pytest.importorskip("torch")
    from clip_fixtures import tiny_model_paths, torch
    from same_same.embedders.clip import CLIPEmbedder
    from same_same.embedders.clip.device import detect_accelerators
    from same_same.embedders.clip.torch_backend import TorchCLIP

    machine = detect_accelerators()
    assert machine.cuda_devices == torch.cuda.device_count()
    config, weights = tiny_model_paths()
    embedder = CLIPEmbedder(str(config), str(weights), device="cpu", backend="torch")
    backend = embedder.backend
    assert isinstance(backend, TorchCLIP)
    assert backend.device == "cpu"
    parameter = next(backend.model.parameters())
    assert parameter.device.type == "cpu" and parameter.dtype == torch.float32


def test_out_of_memory_is_recognised_in_both_forms() -> None:
    torch = pytest.importorskip("torch")
    from same_same.embedders.clip.device import is_out_of_memory

    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    # MPS and some CUDA allocator paths raise a plain RuntimeError
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert not is_out_of_memory(RuntimeError("expected scalar type Half but found Float"))
    assert not is_out_of_memory(ValueError("out of memory"))


def test_a_cuda_tower_of_unknown_shape_keeps_the_fixed_batch_size() -> None:
    """A ResNet tower has no ViT width: the fallback, and no CUDA call (none here)."""
    pytest.importorskip("open_clip")
    from same_same.embedders.clip.batch_fitting import cuda_batch_size

    assert cuda_batch_size("RN50", 224, "cuda", 128) == 128
