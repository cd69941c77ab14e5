"""Moving a preprocessed batch from host memory to the model's device.

On CUDA the batch is copied into a page-locked (pinned) host buffer that is kept and
reused, then sent with a non-blocking copy: the GPU's copy engine reads pinned memory
directly, with no extra copy through a driver buffer, and the next kernels can be
queued while it runs. The buffer is reused safely because every encode ends by
reading its features back to the host, which waits for the copy. Elsewhere the numpy
array is wrapped without copying.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class HostStaging:
    """Puts ``(N, 3, H, W)`` float32 batches on ``device`` in ``dtype``.

    ``buffered``: copy through a reused host buffer (None: on CUDA only). The buffer
    is pinned when the device is a CUDA GPU; on a CPU the buffered path runs the same
    copies without pinning (tests use it there).
    """

    def __init__(self, device: str, dtype: Any, buffered: bool | None = None) -> None:
        self.device = device
        self.dtype = dtype
        self.on_cuda = device.startswith("cuda")
        self.buffered = self.on_cuda if buffered is None else buffered
        self._buffer: Any = None

    @property
    def buffer_rows(self) -> int:
        """How many images the kept host buffer holds (0: none kept)."""
        return 0 if self._buffer is None else int(self._buffer.shape[0])

    @property
    def pinned(self) -> bool:
        return self._buffer is not None and bool(self._buffer.is_pinned())

    def to_device(self, pixels: np.ndarray) -> Any:
        """The batch as a tensor on the device, in the model's dtype."""
        import torch

        host = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
        if self.buffered:
            staged = self._buffer_for(host.shape)[: host.shape[0]]
            staged.copy_(host)
            host = staged
        # the copy moves float32 and the cast runs on the device: the CPU's only work
        # is the memcpy into the pinned buffer
        on_device = host.to(self.device, non_blocking=self.buffered and self.on_cuda)
        return on_device.to(self.dtype)

    def _buffer_for(self, shape: tuple[int, ...]) -> Any:
        import torch

        buffer = self._buffer
        if buffer is None or buffer.shape[1:] != shape[1:] or buffer.shape[0] < shape[0]:
            pin = self.on_cuda and torch.cuda.is_available()
            buffer = torch.empty(shape, dtype=torch.float32, pin_memory=pin)
            self._buffer = buffer
        return buffer
