"""Which torch device and precision a CLIP model runs on, and what running out of memory says.

The choice itself is plain logic over "what is available", kept apart from torch so
it can be tested on a machine without a GPU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import InvalidInputError, ModelUnavailableError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
_CUDA_INDEX = re.compile(r"^cuda:(\d+)$")


@dataclass(frozen=True)
class Accelerators:
    """What this machine offers torch."""

    cuda_devices: int = 0
    mps: bool = False


class DeviceOutOfMemoryError(ModelUnavailableError):
    """The model or a batch did not fit in the device's memory."""

    code = "out_of_memory"


def check_device_name(requested: str) -> str:
    """Normalise a ``--device`` value or raise InvalidInputError; no torch needed."""
    name = (requested or "auto").strip().lower()
    if name in ("auto", "cpu", "cuda", "mps") or _CUDA_INDEX.match(name):
        return name
    raise InvalidInputError(
        f"unknown device {requested!r}; known: {', '.join(DEVICE_CHOICES)}",
    )


def choose_device(requested: str, available: Accelerators) -> str:
    """``auto`` picks cuda, then mps, then cpu; an explicit device must exist."""
    name = check_device_name(requested)
    if name == "auto":
        if available.cuda_devices > 0:
            return "cuda"
        return "mps" if available.mps else "cpu"
    if name == "cpu":
        return name
    if name == "mps":
        if not available.mps:
            raise InvalidInputError("device 'mps' is not available here", hint="use --device cpu")
        return name
    index_match = _CUDA_INDEX.match(name)
    index = int(index_match.group(1)) if index_match else 0
    if available.cuda_devices == 0:
        raise InvalidInputError(
            f"device {name!r} is not available here (torch sees no CUDA GPU)",
            hint="use --device cpu or --device auto",
        )
    if index >= available.cuda_devices:
        raise InvalidInputError(
            f"device {name!r} does not exist; this machine has {available.cuda_devices} CUDA "
            f"device(s): cuda:0..cuda:{available.cuda_devices - 1}",
        )
    return name


def precision_for(device: str) -> str:
    """open_clip precision name: half precision on CUDA, full precision elsewhere.

    fp16 halves memory and is much faster on CUDA tensor cores; on CPU it is slow and
    on MPS some kernels still miss fp16, so those stay fp32.
    """
    return "fp16" if device.startswith("cuda") else "fp32"


def detect_accelerators() -> Accelerators:
    import torch

    cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    mps_backend = getattr(torch.backends, "mps", None)
    mps = bool(mps_backend is not None and mps_backend.is_available())
    return Accelerators(cuda_devices=cuda, mps=mps)


def resolve_device(requested: str) -> str:
    """The device to run on here, e.g. ``cuda`` or ``cpu``."""
    return choose_device(requested, detect_accelerators())


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    if isinstance(error, torch.OutOfMemoryError):
        return True
    # MPS and some CUDA allocator paths raise a plain RuntimeError
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def out_of_memory_error(device: str, model: str, batch_size: int) -> DeviceOutOfMemoryError:
    release_cached_memory(device)
    return DeviceOutOfMemoryError(
        f"out of memory on {device} running CLIP model {model} with batches of {batch_size}",
        hint="try --batch-size 8, a smaller model (--clip-model ViT-B-32) or --device cpu",
    )


def release_cached_memory(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.empty_cache()
