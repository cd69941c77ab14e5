"""The error a single bad image file raises."""

from __future__ import annotations

from ..errors import SameSameError


class ImageDecodeError(SameSameError):
    """One image file cannot be used; ``reason`` says why in a few words.

    Ingest reports it as ``skipping LOCATION: REASON`` and carries on; the API
    answers 400 for an uploaded image that raises it.
    """

    code = "image_decode_error"
    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooManyPixelsError(ImageDecodeError):
    """An image has more pixels than the caller allows (a possible decompression bomb).

    ``size`` is ``(width, height)`` when the header was read, None when Pillow's own
    guard refused the file first (it reports only the pixel count).
    """

    def __init__(
        self, reason: str, *, pixels: int | None, limit: int, size: tuple[int, int] | None = None
    ) -> None:
        super().__init__(reason)
        self.pixels = pixels
        self.limit = limit
        self.size = size
