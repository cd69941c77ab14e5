"""How an ingest runs: one frozen options object, checked once, for every pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import DEFAULT_NAMESPACE
from ..errors import InvalidInputError
from .ray_options import RayOptions

GPU_DECODE_AUTO, GPU_DECODE_ON, GPU_DECODE_OFF = "auto", "on", "off"
GPU_DECODE_CHOICES = (GPU_DECODE_AUTO, GPU_DECODE_ON, GPU_DECODE_OFF)


@dataclass(frozen=True)
class IngestOptions:
    """What ``same-same ingest`` flags (and Python callers) decide about a run.

    ``batch_size``: items per model batch and per committed transaction (None: the
    embedder's own choice for its device). ``sample``: a deterministic sample of N
    items. ``prune``: image sources only; delete records of files that are gone.
    ``dry_run``: read and embed as a real run would, write nothing. ``verbose``: one
    line per item. ``workers``: image decode threads (None: one per core, capped for
    the device; 0: decode in the calling thread). ``ray``: embed on a Ray cluster
    (``--ray``; None: in this process). ``gpu_decode``: where JPEGs are decoded
    (``--gpu-decode``): ``auto`` on the model's CUDA GPU, never on a CPU; ``on`` with
    torchvision on the model's GPU, or on the CPU; ``off`` always with PIL.
    """

    namespace: str = DEFAULT_NAMESPACE
    batch_size: int | None = None
    dry_run: bool = False
    sample: int | None = None
    prune: bool = False
    verbose: bool = False
    workers: int | None = None
    ray: RayOptions | None = None
    gpu_decode: str = GPU_DECODE_AUTO

    def __post_init__(self) -> None:
        if not isinstance(self.namespace, str) or not self.namespace.strip():
            raise InvalidInputError("the namespace must be a non-empty name")
        if self.batch_size is not None and not _is_count(self.batch_size, 1):
            raise InvalidInputError("--batch-size must be at least 1")
        if self.sample is not None and not _is_count(self.sample, 1):
            raise InvalidInputError("--sample must be at least 1")
        if self.workers is not None and not _is_count(self.workers, 0):
            raise InvalidInputError("--workers must be 0 (decode in the main thread) or more")
        if self.gpu_decode not in GPU_DECODE_CHOICES:
            raise InvalidInputError(
                f"unknown --gpu-decode {self.gpu_decode!r}; known: {', '.join(GPU_DECODE_CHOICES)}"
            )


def _is_count(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least
