"""Thumbnails of ingested images, cached in the data directory.

Images are found through the record the store holds (never a path from a request),
only for records the image ingest wrote (``Record.from_image_ingest``, which no
request can set), and only while the file's bytes still hash to the record's content
hash (the sha256 the ingest recorded). Metadata and hashes can be written through the
API, so neither alone proves anything: without these checks a client could point a
record at any file the server can read.

A record that is not the ingest's, a file that is gone, and a file that changed all
get the same answer (``ImageMissingError``, which names no path), so the answers do not
tell whether some path exists on the server.

A cached thumbnail's name carries a signature of the source file (path, mtime, size,
hash): when the file is re-ingested the name changes, the stale thumbnail is removed
and a fresh one is rendered.
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from .errors import InvalidInputError, NotFoundError, SameSameError
from .records import Record
from .storage import VectorStore

THUMBNAIL_SIZES = (64, 128, 256, 512, 1024)
"""The edge lengths rendered and cached: a few per record, whatever clients ask for."""
MIN_THUMBNAIL_SIZE = 1
MAX_THUMBNAIL_SIZE = THUMBNAIL_SIZES[-1]
DEFAULT_THUMBNAIL_SIZE = 256
THUMBNAIL_MEDIA_TYPE = "image/jpeg"
_JPEG_QUALITY = 82

# Where sources/images.py records the absolute path of each image file.
_ABSOLUTE_PATH_KEY = "abs_path"
_ESCAPED_BYTE = re.compile(r"\\x([0-9a-f]{2})")


class NoImageError(NotFoundError):
    """The record exists but is not an image (a text record)."""

    code = "no_image"


class ImageMissingError(NotFoundError):
    """No file can be served for the record: it is not the image ingest's, or its file is
    gone, unreadable or no longer the one that was ingested (edited or replaced).

    One message for all of these, naming no path: see the module docstring."""

    code = "image_missing"

    def __init__(self, record_id: str) -> None:
        super().__init__(
            f"the image file of record {record_id!r} is no longer available",
            hint="ingest the images again (same-same ingest; --prune forgets removed files)",
        )


class ImageUnreadableError(SameSameError):
    """The file exists but cannot be decoded as an image any more."""

    code = "image_unreadable"
    status = 422


@dataclass(frozen=True)
class ImageFile:
    """An ingested image file as it is on disk now."""

    path: Path
    media_type: str
    etag: str
    mtime_ns: int
    size_bytes: int


@dataclass(frozen=True)
class Thumbnail:
    path: Path
    etag: str
    media_type: str = THUMBNAIL_MEDIA_TYPE
    data: bytes | None = None
    """The JPEG itself when it could not be cached (a read-only or full data directory)."""

    def read_bytes(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()


SIZE_HINT = (
    f"use size={MIN_THUMBNAIL_SIZE}..{MAX_THUMBNAIL_SIZE}; "
    f"thumbnails come in {', '.join(map(str, THUMBNAIL_SIZES))} pixels"
)


def check_thumbnail_size(size: Any) -> int:
    """The fixed size that serves a requested edge length: the smallest of
    ``THUMBNAIL_SIZES`` at least as large (InvalidInputError outside 1..1024)."""
    text = str(size).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise InvalidInputError(
            f"thumbnail size must be a whole number of pixels, got {str(size)[:40]!r}",
            hint=SIZE_HINT,
        )
    value = int(text)
    if not MIN_THUMBNAIL_SIZE <= value <= MAX_THUMBNAIL_SIZE:
        raise InvalidInputError(f"thumbnail size {value} is out of range", hint=SIZE_HINT)
    return next(fixed for fixed in THUMBNAIL_SIZES if fixed >= value)


def find_image_path(record: Record) -> Path:
    """The absolute path the image ingest recorded for ``record`` (not checked on disk)."""
    if not record.from_image_ingest:
        if record.metadata.get("type") != "image":
            raise NoImageError(
                f"record {record.id!r} is not an image",
                hint="thumbnails and originals exist only for image records",
            )
        raise ImageMissingError(record.id)  # as for a missing file: see the module docstring
    for value in (record.metadata.get(_ABSOLUTE_PATH_KEY), record.metadata.get("path")):
        if isinstance(value, str) and value and Path(value).is_absolute():
            return Path(value)
    raise ImageMissingError(record.id)


def restore_undecodable_path(path: Path) -> Path:
    """Undo the ``\\xNN`` escapes the image source writes for file names that are not UTF-8.

    The store keeps UTF-8 text, so such names are stored in a readable escaped form;
    the file on disk has the raw bytes.
    """
    text = str(path)
    if "\\x" not in text or path.exists():
        return path
    raw = _ESCAPED_BYTE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), text)
    restored = Path(os.fsdecode(os.fsencode(raw)))
    return restored if restored.exists() else path


def guess_image_media_type(path: Path) -> str:
    """The media type of an image file: the format table's, else the platform's guess."""
    from .imaging.formats import guess_media_type

    known = guess_media_type(path.name)
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed if guessed and guessed.startswith("image/") else "application/octet-stream"


def open_image_file(record: Record) -> ImageFile:
    """The file behind an image ingest's record, checked to be the ingested one now."""
    path = restore_undecodable_path(find_image_path(record))
    try:
        stat = path.stat()
    except OSError:
        raise ImageMissingError(record.id) from None
    if not path.is_file() or not record.content_hash:
        raise ImageMissingError(record.id)
    try:
        content_hash = _hash_file(str(path), stat.st_mtime_ns, stat.st_size)
    except OSError:  # not cached: a file made readable again is served again
        raise ImageMissingError(record.id) from None
    if record.content_hash != content_hash:
        raise ImageMissingError(record.id)
    signature = _sign(str(path), str(stat.st_mtime_ns), str(stat.st_size), record.content_hash)
    return ImageFile(
        path=path,
        media_type=guess_image_media_type(path),
        etag=f'"{signature}"',
        mtime_ns=stat.st_mtime_ns,
        size_bytes=stat.st_size,
    )


@functools.lru_cache(maxsize=4096)
def _hash_file(path: str, mtime_ns: int, size: int) -> str:
    """sha256 of a file's bytes; mtime and size are in the key so an edited file is hashed again."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


_RENDERS = threading.BoundedSemaphore(2)
"""Thumbnails rendered at once in this process: a first render of a very large file
holds a strip-reduced copy of it, so concurrent first requests must not multiply that."""


def render_thumbnail(path: Path, size: int) -> bytes:
    """A JPEG no larger than ``size`` x ``size``, upright (EXIF orientation applied).

    Decoded as the ingest decodes (``imaging.decode_image``): big JPEGs at a reduced
    scale inside libjpeg, other big files strip by strip in their own mode, so the
    full-size picture is never converted at once; smaller images are not enlarged and
    transparency is flattened onto white.
    """
    from .imaging import ImageDecodeError, decode_image
    from .imaging.query import release_freed_memory

    with _RENDERS:
        try:
            picture = decode_image(path, min_side=size, max_side=size).image
        except ImageDecodeError as exc:
            raise ImageUnreadableError(
                f"cannot read image {path.name}: {exc.reason}",
                hint="the file may be damaged or in a format Pillow cannot decode",
            ) from None
        try:
            out = BytesIO()
            picture.save(out, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
            return out.getvalue()
        finally:
            picture.close()
            release_freed_memory()


def _sign(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:16]


class ThumbnailCache:
    """Rendered thumbnails under ``data_dir/thumbnails``, one file per (record, size, version)."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = Path(data_dir) / "thumbnails"

    def get(self, record_id: str, image: ImageFile, size: int, namespace: str = "") -> Thumbnail:
        """The cached thumbnail of ``image`` at ``size``, rendering it when missing or stale."""
        size = check_thumbnail_size(size)
        # Ids may hold any character; the cache name uses a digest so none reaches the path.
        key = _sign("id", namespace, record_id)
        version = _sign(image.etag, str(size))
        folder = self.directory / key[:2]
        target = folder / f"{key}-{size}-{version}.jpg"
        thumbnail = Thumbnail(path=target, etag=f'"{version}"')
        if target.is_file():
            return thumbnail
        data = render_thumbnail(image.path, size)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._remove_stale(folder, f"{key}-{size}-", keep=target)
            self._write_atomically(target, data)
        except OSError:  # served all the same, rendered again next time
            return Thumbnail(path=target, etag=thumbnail.etag, data=data)
        return thumbnail

    def clear(self) -> int:
        """Delete every cached thumbnail; returns how many."""
        removed = 0
        for path in self.directory.glob("*/*.jpg"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed

    @staticmethod
    def _remove_stale(folder: Path, prefix: str, keep: Path) -> None:
        for old in folder.glob(f"{prefix}*.jpg"):
            if old != keep:
                old.unlink(missing_ok=True)

    @staticmethod
    def _write_atomically(target: Path, data: bytes) -> None:
        # Two requests may render the same thumbnail at once; rename makes the last one win
        # without anyone reading a half-written file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".jpg")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def open_record_image(
    store: VectorStore, record_id: str, namespace: str | None = None
) -> ImageFile:
    """The image file of a stored record (RecordNotFoundError, NoImageError, ImageMissingError)."""
    _, record = store.get(record_id, namespace)
    return open_image_file(record)


def get_record_thumbnail(
    store: VectorStore,
    cache: ThumbnailCache,
    record_id: str,
    size: Any = DEFAULT_THUMBNAIL_SIZE,
    namespace: str | None = None,
) -> Thumbnail:
    """The thumbnail of a stored image record, from the cache or freshly rendered."""
    pixels = check_thumbnail_size(size)
    found_in, record = store.get(record_id, namespace)
    return cache.get(record.id, open_image_file(record), pixels, namespace=found_in)
