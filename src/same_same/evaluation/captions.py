"""A captions file: which image each caption describes, and which images are copies.

CSV with a header naming at least ``path`` (or ``image``/``file``) and ``caption``
(or ``text``/``sentence``), and optionally ``group``: images of one group are
duplicates of each other. An image may appear on many rows (Flickr30k and COCO
give five captions each); relative paths are taken from the file's folder. A
header-less file is read as ``path,caption[,group]``.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidInputError, SourceError

_PATH_NAMES = ("path", "image", "file", "filename", "image_path")
_CAPTION_NAMES = ("caption", "text", "sentence", "description")
_GROUP_NAMES = ("group", "group_id", "duplicate_group")


@dataclass
class CaptionSet:
    """Images (absolute paths, in file order), their captions and duplicate groups."""

    images: list[Path] = field(default_factory=list)
    captions: dict[Path, list[str]] = field(default_factory=dict)
    groups: dict[Path, str] = field(default_factory=dict)

    @property
    def caption_texts(self) -> list[str]:
        """Every distinct caption, in first-seen order."""
        seen: dict[str, None] = {}
        for image in self.images:
            for caption in self.captions[image]:
                seen.setdefault(caption, None)
        return list(seen)

    def images_described_by(self) -> dict[str, set[Path]]:
        described: dict[str, set[Path]] = {}
        for image in self.images:
            for caption in self.captions[image]:
                described.setdefault(caption, set()).add(image)
        return described

    def duplicate_pairs(self) -> set[frozenset[Path]]:
        members: dict[str, list[Path]] = {}
        for image, group in self.groups.items():
            members.setdefault(group, []).append(image)
        return {
            frozenset((first, second))
            for group in members.values()
            for index, first in enumerate(group)
            for second in group[index + 1 :]
        }


def read_captions(path: str | os.PathLike[str]) -> CaptionSet:
    """The captions file at ``path``; SourceError (one line) when it cannot be used."""
    file = Path(path).expanduser()
    try:
        with open(file, newline="", encoding="utf-8-sig") as stream:
            rows = list(csv.reader(stream))
    except FileNotFoundError:
        raise SourceError(f"no such file: {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read {file}: {exc}") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise InvalidInputError(f"{file} holds no captions")
    columns, body = _columns(rows)
    found = CaptionSet()
    for number, row in enumerate(body, start=2 if columns.header else 1):
        cells = [cell.strip() for cell in row]
        where = f"{file.name} line {number}"
        if len(cells) <= max(columns.path, columns.caption):
            raise InvalidInputError(f"{where}: expected a path and a caption")
        image = (file.parent / os.path.expanduser(cells[columns.path])).resolve()
        caption = cells[columns.caption]
        if not caption:
            raise InvalidInputError(f"{where}: the caption is empty")
        if image not in found.captions:
            found.images.append(image)
            found.captions[image] = []
        if caption not in found.captions[image]:
            found.captions[image].append(caption)
        if columns.group is not None and len(cells) > columns.group and cells[columns.group]:
            found.groups[image] = cells[columns.group]
    return found


@dataclass(frozen=True)
class _Columns:
    path: int
    caption: int
    group: int | None
    header: bool


def _columns(rows: list[list[str]]) -> tuple[_Columns, list[list[str]]]:
    names = [cell.strip().casefold() for cell in rows[0]]

    def find(candidates: tuple[str, ...]) -> int | None:
        return next((names.index(name) for name in candidates if name in names), None)

    path, caption = find(_PATH_NAMES), find(_CAPTION_NAMES)
    if path is not None and caption is not None:
        return _Columns(path, caption, find(_GROUP_NAMES), header=True), rows[1:]
    if path is not None or caption is not None:
        raise InvalidInputError(
            "the captions file's header needs a 'path' and a 'caption' column",
            hint="or leave the header out: path,caption[,group] per line",
        )
    return _Columns(0, 1, 2, header=False), rows


__all__ = ["CaptionSet", "read_captions"]
