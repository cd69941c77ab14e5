"""Query images: decoded only as big as a search needs, refused when huge, a few at a time.

A search embeds its query image at the model's input size (224 pixels for most CLIP
models), so a 32 KB PNG that claims 12000x12000 pixels must not cost 700 MB. Query
images get a much lower pixel limit than ingest (``QUERY_MAX_PIXELS``); JPEGs are
decoded at 1/2 to 1/8 scale inside libjpeg and other big images shrunk in their own
colour mode before they become RGB (``decode_image_bytes``'s ``min_side``); the
server decodes at most a few at once (``QueryImageDecoder``); and the memory a big
decode used is handed back to the system afterwards (``release_freed_memory``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError, SameSameError
from .decode import decode_image_bytes
from .errors import ImageDecodeError, TooManyPixelsError

if TYPE_CHECKING:
    from PIL import Image

QUERY_MAX_PIXELS = 50_000_000
"""Query images may have at most this many pixels (ingest allows ``MAX_IMAGE_PIXELS``).

Room for the 48- and 50-megapixel photos of recent phones; decoding a 50-megapixel
PNG still takes up to 200 MB for a moment (Pillow holds RGBA in four bytes a pixel).
"""

QUERY_MIN_SIDE = 512
"""Query images are decoded with their shorter side at least this long (2x for non-JPEGs).

The largest input of the usual CLIP models (SigLIP's 512; most take 224), so the
model's own resize only ever shrinks: its vector is that of the full-size image to
within rounding, and a search ranks the same.
"""

DEFAULT_QUERY_DECODES = 2
"""How many query images a server decodes at once; more requests wait for a turn."""

DEFAULT_QUERY_DECODE_WAIT_S = 30.0
"""How long a request waits for a decode turn before it is answered 503 (busy)."""

DEFAULT_QUERY_WAITING = 32
"""How many requests may wait for a turn at once; the next one is answered 503 at once."""


QUERY_SIZE_HINT = "a search looks at about 1000 pixels a side: shrink the image first"


class QueryImagesBusyError(SameSameError):
    """Every query-image decode turn is taken and the wait ran out (or the queue is full)."""

    code = "busy"
    status = 503


def decode_query_image(
    data: bytes, *, max_pixels: int = QUERY_MAX_PIXELS, min_side: int = QUERY_MIN_SIDE
) -> Image.Image:
    """An uploaded query image as upright RGB, decoded no bigger than a search needs.

    Raises TooManyPixelsError (a 400) past ``max_pixels``, before anything is decoded,
    and ImageDecodeError for a file that is not a usable image.
    """
    try:
        return decode_image_bytes(data, min_side=min_side, max_pixels=max_pixels).image
    except TooManyPixelsError as exc:
        refused = TooManyPixelsError(
            describe_query_limit(exc.size, exc.pixels, max_pixels),
            pixels=exc.pixels,
            limit=max_pixels,
            size=exc.size,
        )
        refused.hint = QUERY_SIZE_HINT
        raise refused from None
    finally:
        # cheap (a twentieth of a millisecond when there is nothing to give back), and
        # a failed decode may have filled a full-size image before it failed
        release_freed_memory()


def describe_query_limit(size: tuple[int, int] | None, pixels: int | None, limit: int) -> str:
    """"the image is 12000x12000 = 144 megapixels; query images may have at most 50 megapixels"."""
    if size is not None:
        what = f"the image is {size[0]}x{size[1]} = {_count_pixels(size[0] * size[1])}"
    elif pixels is not None:
        what = f"the image has {_count_pixels(pixels)}"
    else:
        what = "the image has too many pixels"
    return f"{what}; query images may have at most {_count_pixels(limit)}"


def _count_pixels(pixels: int) -> str:
    if pixels < 100_000:
        return f"{pixels:,} pixels"
    return f"{pixels / 1e6:.1f}".removesuffix(".0") + " megapixels"


def release_freed_memory() -> None:
    """Give the memory a big decode freed back to the system.

    glibc keeps freed heap memory for reuse, per thread arena: after a burst of big
    decodes on the server's worker threads the process stayed at gigabytes while idle.
    ``malloc_trim`` returns the free pages of every arena. A no-op where there is no
    glibc (macOS, musl).
    """
    trim = _find_malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _find_malloc_trim() -> Callable[[int], Any] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    trim: Callable[[int], Any] | None = getattr(libc, "malloc_trim", None)
    return trim


class QueryImageDecoder:
    """Decodes query images for a server, at most ``slots`` at a time.

    A request holds a turn (``turn()``) while it reads its upload and decodes it
    (``decode``, in a worker thread); others wait up to ``wait_seconds``, at most
    ``max_waiting`` of them, then get QueryImagesBusyError (503). ``active``,
    ``waiting`` and ``peak`` (the most turns ever held at once) say how it is going.
    """

    def __init__(
        self,
        *,
        slots: int = DEFAULT_QUERY_DECODES,
        max_pixels: int = QUERY_MAX_PIXELS,
        wait_seconds: float = DEFAULT_QUERY_DECODE_WAIT_S,
        max_waiting: int = DEFAULT_QUERY_WAITING,
        decode: Callable[[bytes], Image.Image] | None = None,
    ) -> None:
        if slots < 1:
            raise InvalidInputError(f"query image decodes must be at least 1, got {slots}")
        if max_pixels < 1:
            raise InvalidInputError(f"query image pixels must be at least 1, got {max_pixels}")
        self.slots = slots
        self.max_pixels = max_pixels
        self.wait_seconds = wait_seconds
        self.max_waiting = max_waiting
        self._decode = decode or functools.partial(decode_query_image, max_pixels=max_pixels)
        self.active = 0
        self.waiting = 0
        self.peak = 0
        self._semaphore: Any = None  # an anyio.Semaphore, made inside the event loop

    def decode(self, data: bytes) -> Image.Image:
        """Decode one query image (blocking: call it from a worker thread)."""
        if not data:
            raise ImageDecodeError("empty file (0 bytes)")
        return self._decode(bytes(data))

    def discard(self, picture: Image.Image) -> None:
        """Free a decoded picture once its search is done, and give the memory back.

        Freed on another thread than the one that decoded it, its pixels go back to
        the decoding thread's arena, where nothing would trim them: idle RSS crept up
        by one picture per burst without this.
        """
        picture.close()
        release_freed_memory()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold one of the ``slots`` decode turns (waits; QueryImagesBusyError when none comes)."""
        import anyio

        if self._semaphore is None:
            self._semaphore = anyio.Semaphore(self.slots)
        if self.active >= self.slots and self.waiting >= self.max_waiting:
            raise self._busy(self.waiting)
        self.waiting += 1
        try:
            with anyio.fail_after(self.wait_seconds):
                await self._semaphore.acquire()
        except TimeoutError:
            raise self._busy(self.waiting - 1) from None
        finally:
            self.waiting -= 1
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            yield
        finally:
            self.active -= 1
            self._semaphore.release()

    def _busy(self, others_waiting: int) -> QueryImagesBusyError:
        return QueryImagesBusyError(
            f"the server is busy decoding {self.active} query images "
            f"({others_waiting} more waiting); no turn came within {self.wait_seconds:g} s",
            hint="try again in a moment",
        )
