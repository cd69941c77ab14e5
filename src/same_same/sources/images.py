"""Image sources: a folder of images (``images:DIR``) or a list file (``image-list:FILE``).

Sources only find files; the image pipeline reads and decodes them. A folder walk
takes the files whose extension is in ``imaging.formats.IMAGE_FORMATS``; a list file
names its files, so each listed file is read whatever its extension (the decoder
goes by the same table, and by the content for an extension it does not list). Each item's id
comes from the file's resolved absolute path, so ingesting the same files again
updates their records in place. Entries that can never be read (broken or looping
symlinks, FIFOs, unreadable folders, missing list entries) come out as ``BadItem``s
with a reason, and the walk carries on.

File names that are not valid UTF-8 are walked and opened as the bytes they are
(Python's surrogate escapes); what is stored and shown is a readable form with
``\\xNN`` escapes, since the store keeps UTF-8 text.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import os
import stat
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SourceError

# What a folder walk picks up: the extensions of the one format table.
from ..imaging.formats import IMAGE_EXTENSIONS as IMAGE_EXTENSIONS
from ..imaging.formats import has_image_extension
from .base import BadItem, Source, SourceItem


def derive_image_id(real_path: str) -> str:
    """The stable id of the image file at ``real_path`` (absolute, symlinks resolved)."""
    return "img-" + hashlib.sha1(os.fsencode(real_path)).hexdigest()[:20]


def format_path(path: str) -> str:
    """``path`` as printable UTF-8: bytes that are not UTF-8 become ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.ENOENT:
        return "file not found"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


def _image_metadata(filename: str, shown_path: str, abs_path: str) -> dict[str, Any]:
    return {
        "type": "image",
        "filename": format_path(filename),
        "path": format_path(shown_path),
        "extension": os.path.splitext(filename)[1].lower(),
        "abs_path": format_path(abs_path),
    }


class ImageSource(Source):
    """A source of image files; the pipeline asks it which stored records it owns."""

    modality = "image"

    @abstractmethod
    def owns(self, metadata: dict[str, Any]) -> bool:
        """Whether a stored record came from this source (``--prune`` may remove it)."""


@dataclass
class _WalkState:
    folders: set[tuple[int, int]]
    """(device, inode) of every real folder walked"""
    files: set[str]
    """ids of the files given so far (a file reached through a link comes once)"""


class ImageFolderSource(ImageSource):
    """Every image file under a folder, in sorted path order.

    Symlinked folders are followed, but each real folder is walked once, so a link
    back to an ancestor is reported as a loop instead of recursing forever.
    """

    def __init__(self, path: str | os.PathLike[str], recursive: bool = True) -> None:
        self.shown = os.fspath(path)
        self.root = os.path.expanduser(self.shown)
        self.recursive = recursive
        _check_folder(self.root, format_path(self.shown))
        self.real_root = os.path.realpath(self.root)
        self._abs_root_shown = format_path(self.real_root)

    def describe(self) -> str:
        return f"images:{format_path(self.shown)}"

    def items(self) -> Iterator[SourceItem | BadItem]:
        try:
            info = os.stat(self.root)
        except OSError as exc:  # removed since the source was opened
            raise SourceError(f"cannot read folder {format_path(self.shown)}: {exc}") from None
        key = (info.st_dev, info.st_ino)
        yield from self._walk(self.root, self.real_root, "", (key,), _WalkState({key}, set()))

    def count_hint(self) -> int | None:
        """How many entries ``items`` will give: a walk without reading any file."""
        return sum(1 for _ in self.items())

    def owns(self, metadata: dict[str, Any]) -> bool:
        abs_path = metadata.get("abs_path")
        if not isinstance(abs_path, str):
            return False
        prefix = self._abs_root_shown.rstrip("/") + "/"
        if not abs_path.startswith(prefix):
            return False
        return self.recursive or "/" not in abs_path[len(prefix) :]

    def item_for(self, path: str) -> SourceItem | BadItem | None:
        """The item the walk gives for the file at ``path`` (a path under the folder, as
        given or absolute), without walking; None for what the walk passes over (not an
        image name, outside the folder, in a subfolder of a non-recursive source)."""
        absolute = os.path.abspath(os.path.expanduser(path))
        rel = os.path.relpath(absolute, os.path.abspath(self.root))
        if rel == "." or rel.startswith(".." + os.sep) or rel == "..":
            return None
        if not self.recursive and os.sep in rel:
            return None
        name = os.path.basename(rel)
        if not has_image_extension(name):
            return None
        location = format_path(os.path.join(self.shown, rel))
        try:
            info = os.stat(absolute)
        except OSError as exc:
            return BadItem(location, describe_os_error(exc))
        if not stat.S_ISREG(info.st_mode):
            is_link = os.path.islink(absolute)
            return BadItem(location, _describe_not_a_file(absolute, is_link))
        return SourceItem(
            location=location,
            id=derive_image_id(os.path.realpath(absolute)),
            path=Path(os.path.join(self.root, rel)),
            metadata=_image_metadata(name, rel, os.path.join(self.real_root, rel)),
        )

    def _walk(
        self,
        folder: str,
        real_folder: str,
        relative: str,
        ancestors: tuple[tuple[int, int], ...],
        state: _WalkState,
    ) -> Iterator[SourceItem | BadItem]:
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            shown = format_path(os.path.join(self.shown, relative)).rstrip("/") + "/"
            yield BadItem(shown, f"cannot read folder: {describe_os_error(exc)}")
            return
        for entry in entries:
            rel = f"{relative}{entry.name}"
            location = format_path(os.path.join(self.shown, rel))
            try:
                is_dir = entry.is_dir()
            except OSError as exc:  # ELOOP: a symlink that points at itself
                yield BadItem(location, describe_os_error(exc))
                continue
            if is_dir:
                if self.recursive:
                    yield from self._enter(entry, real_folder, rel, location, ancestors, state)
                continue
            if not has_image_extension(entry.name):
                continue
            try:
                is_file = entry.is_file()
                is_link = entry.is_symlink()
            except OSError as exc:
                yield BadItem(location, describe_os_error(exc))
                continue
            if not is_file:
                yield BadItem(location, _describe_not_a_file(entry.path, is_link))
                continue
            real = os.path.join(real_folder, entry.name)
            record_id = derive_image_id(os.path.realpath(real) if is_link else real)
            if record_id in state.files:  # a link to a file already walked
                continue
            state.files.add(record_id)
            yield SourceItem(
                location=location,
                id=record_id,
                path=Path(entry.path),
                metadata=_image_metadata(entry.name, rel, os.path.join(self.real_root, rel)),
            )

    def _enter(
        self,
        entry: os.DirEntry[str],
        real_parent: str,
        rel: str,
        location: str,
        ancestors: tuple[tuple[int, int], ...],
        state: _WalkState,
    ) -> Iterator[SourceItem | BadItem]:
        try:
            info = entry.stat()
        except OSError as exc:
            yield BadItem(location, describe_os_error(exc))
            return
        key = (info.st_dev, info.st_ino)
        if key in ancestors:
            yield BadItem(location, "symlink loop (links back to a folder above it)")
            return
        if key in state.folders:  # the same folder reached through another link: walked already
            return
        state.folders.add(key)
        real = (
            os.path.realpath(entry.path)
            if entry.is_symlink()
            else os.path.join(real_parent, entry.name)
        )
        yield from self._walk(entry.path, real, rel + "/", (*ancestors, key), state)


def _check_folder(folder: str, shown: str) -> None:
    """SourceError (one line, nothing ingested) unless ``folder`` is a readable folder."""
    try:
        info = os.stat(folder)
        if not stat.S_ISDIR(info.st_mode):
            raise SourceError(
                f"not a folder: {shown}",
                hint=f"for a file listing image paths use image-list:{shown}",
            )
        with os.scandir(folder):
            pass
    except FileNotFoundError:
        raise SourceError(f"no such folder: {shown}") from None
    except OSError as exc:
        raise SourceError(f"cannot read folder {shown}: {describe_os_error(exc)}") from None


def _describe_not_a_file(path: str, is_link: bool) -> str:
    if is_link and not os.path.exists(path):
        return _describe_broken_link(path)
    return "not a regular file"


def _describe_broken_link(path: str) -> str:
    try:
        return f"broken symlink (to {format_path(os.readlink(path))})"
    except OSError:  # replaced meanwhile
        return "broken symlink"


class ImageListSource(ImageSource):
    """Images named in a text file: ``path[,label,...]`` per line.

    ``#`` at the start of a line, or after white space, starts a comment that runs
    to the end of the line (``a.jpg, red  # note``); a ``#`` inside a name
    (``photo#1.jpg``) or inside double quotes is kept. Blank lines are ignored;
    relative paths are taken from the list file's folder. A path holding a comma (or
    `` #``) can be double-quoted.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.shown = os.fspath(path)
        expanded = os.path.expanduser(self.shown)
        try:
            with open(expanded, "rb") as stream:
                data = stream.read()
        except FileNotFoundError:
            raise SourceError(f"no such file: {format_path(self.shown)}") from None
        except IsADirectoryError:
            raise SourceError(
                f"{format_path(self.shown)} is a folder",
                hint=f"for a folder of images use images:{format_path(self.shown)}",
            ) from None
        except OSError as exc:
            shown = format_path(self.shown)
            raise SourceError(f"cannot read {shown}: {describe_os_error(exc)}") from None
        # surrogateescape keeps non-UTF-8 file names in the list openable as they are
        self.lines = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff").splitlines()
        self.list_path = os.path.abspath(expanded)
        self.folder = os.path.dirname(self.list_path)
        self._list_shown = format_path(self.list_path)

    def describe(self) -> str:
        return f"image-list:{format_path(self.shown)}"

    def count_hint(self) -> int | None:
        return sum(1 for _ in self._entries())

    def owns(self, metadata: dict[str, Any]) -> bool:
        return metadata.get("list_file") == self._list_shown

    def _entries(self) -> Iterator[tuple[int, list[str]]]:
        for number, line in enumerate(self.lines, start=1):
            stripped = strip_comment(line).strip()
            if stripped:
                fields = next(csv.reader([stripped], skipinitialspace=True), [])
                yield number, [field.strip() for field in fields]

    def items(self) -> Iterator[SourceItem | BadItem]:
        name = os.path.basename(self.shown)
        first_line: dict[str, int] = {}
        for number, fields in self._entries():
            entry = fields[0] if fields else ""
            labels = [label for label in fields[1:] if label]
            location = format_path(f"{entry} ({name} line {number})")
            if not entry:
                yield BadItem(location, "no image path before the comma")
                continue
            abs_path = os.path.abspath(os.path.join(self.folder, os.path.expanduser(entry)))
            problem = _check_listed_file(abs_path)
            if problem:
                yield BadItem(location, problem)
                continue
            record_id = derive_image_id(os.path.realpath(abs_path))
            if record_id in first_line:
                yield BadItem(location, f"listed again (first on line {first_line[record_id]})")
                continue
            first_line[record_id] = number
            metadata = _image_metadata(os.path.basename(abs_path), abs_path, abs_path)
            metadata["list_file"] = self._list_shown
            if labels:
                metadata["label"] = labels[0]
                metadata["labels"] = labels
            yield SourceItem(location, id=record_id, path=Path(abs_path), metadata=metadata)


def strip_comment(line: str) -> str:
    """``line`` without its comment: from a ``#`` that starts the line or follows white
    space, outside double quotes."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == "#" and not quoted and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


def _check_listed_file(path: str) -> str | None:
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return _describe_broken_link(path)
        return describe_os_error(exc)
    if stat.S_ISDIR(info.st_mode):
        return "is a folder, not an image (use images:DIR for folders)"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    return None
