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
