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
    from clip_fixtures import shared_tiny_embedder, torch
    from same_same.embedders.clip.device import detect_accelerators

    machine = detect_accelerators()
    assert machine.cuda_devices == torch.cuda.device_count()
    embedder = shared_tiny_embedder()  # built with device="cpu"
    backend = embedder.backend
    assert backend.device == "cpu"
    parameter = next(backend.model.parameters())  # type: ignore[attr-defined]
    assert parameter.device.type == "cpu" and parameter.dtype == torch.float32
