"""CLIP inference backends by name: ``auto`` (the default), ``torch``, ``onnx``, ``onnx-int8``.

Every backend runs the same model with the same weights, so the vectors land in
the same space (the namespace's identity does not mention the backend): a
collection ingested with ``onnx`` can be searched with ``torch`` and the other way
round. Precision is another matter: a namespace keeps fp32 (torch, onnx) or int8
(onnx-int8) vectors, not both (``storage.writers``). ``auto`` resolves to one of the
others per model and machine (``auto_backend``). A new backend is one loader plus
one ``register_clip_backend`` line. Loaders import their heavy dependencies late.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ...errors import UnknownNameError
from .names import ModelChoice
from .runner import BackendSettings, CLIPBackend

DEFAULT_BACKEND = "auto"
BACKEND_ENV = "SAME_SAME_CLIP_BACKEND"
CPU_BATCH_SIZE = 16
"""On a CPU, larger batches are no faster (docs/performance-notes.md has the figures)
and make each committed batch, and the progress bar's steps, longer."""
GPU_BATCH_SIZE = 128
"""Enough images per forward pass to keep a GPU busy with ViT-B and ViT-L models in
half precision, small enough for their activations to fit on an 8 GB card."""


BackendLoader = Callable[[ModelChoice, BackendSettings], CLIPBackend]

_LOADERS: dict[str, BackendLoader] = {}


def register_clip_backend(name: str, loader: BackendLoader) -> None:
    _LOADERS[name] = loader


def list_clip_backends() -> list[str]:
    return sorted(_LOADERS)


def check_backend_name(name: str | None) -> str:
    """The backend to use for ``name`` (None: ``$SAME_SAME_CLIP_BACKEND``, else auto)."""
    chosen = (name or os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND).strip().lower()
    if chosen not in _LOADERS:
        raise UnknownNameError("CLIP backend", chosen, list(_LOADERS))
    return chosen


def load_clip_backend(name: str, choice: ModelChoice, settings: BackendSettings) -> CLIPBackend:
    """The loaded model runner of backend ``name`` (UnknownNameError lists the known ones)."""
    return _LOADERS[check_backend_name(name)](choice, settings)


def default_batch_size(device: str) -> int:
    """Images per forward pass when the user did not choose: larger on a GPU."""
    return GPU_BATCH_SIZE if device.startswith("cuda") else CPU_BATCH_SIZE


def backend_device(name: str, requested: str) -> str:
    """The device backend ``name`` runs on for ``--device requested``; loads no model."""
    name = check_backend_name(name)
    if name == "auto":
        from .auto_backend import auto_device

        return auto_device(requested)
    if name == "torch":
        from .device import resolve_device

        return resolve_device(requested)
    from .onnx_backend import choose_onnx_device

    return choose_onnx_device(requested)


def _load_auto(choice: ModelChoice, settings: BackendSettings) -> CLIPBackend:
    from .auto_backend import resolve_auto_backend

    return load_clip_backend(resolve_auto_backend(choice, settings).backend, choice, settings)


def _load_torch(choice: ModelChoice, settings: BackendSettings) -> CLIPBackend:
    from .device import resolve_device
    from .torch_backend import load_torch_clip

    device = resolve_device(settings.device)
    return load_torch_clip(choice, device, settings.batch_size, settings.models_folder)


def _load_onnx(choice: ModelChoice, settings: BackendSettings) -> CLIPBackend:
    from .onnx_backend import load_onnx_clip

    return load_onnx_clip(choice, settings, precision="fp32")


def _load_onnx_int8(choice: ModelChoice, settings: BackendSettings) -> CLIPBackend:
    from .onnx_backend import load_onnx_clip

    return load_onnx_clip(choice, settings, precision="int8")


register_clip_backend("auto", _load_auto)
register_clip_backend("torch", _load_torch)
register_clip_backend("onnx", _load_onnx)
register_clip_backend("onnx-int8", _load_onnx_int8)
