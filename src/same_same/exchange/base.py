"""What every exchange format shares: the file's header, and the writer and reader seams.

A file holds one namespace's records (id, vector, text, metadata, content hash) and its
*header*: the embedding space the vectors belong to, how many records there are and the
backends that wrote them. The namespace's name is not part of a record: metadata leaves
without its ``namespace`` key and comes back stamped with the namespace it is imported into.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import InvalidInputError
from ..records import NAMESPACE_KEY, EmbeddingSpace, Record

SPACE_KEY = "same_same.space"
"""The header's key: Parquet schema metadata key, and the first line of the JSONL files."""

FORMAT_VERSION = 1

DEFAULT_PAGE_SIZE = 1000
"""Records read from the store (export) or written to it (import) at once."""


@dataclass(frozen=True)
class FileHeader:
    space: EmbeddingSpace
    count: int
    writers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "space": self.space.to_dict(),
            "count": self.count,
            "writers": list(self.writers),
        }


def parse_header(value: Any, where: str) -> FileHeader:
    """The header ``to_dict`` wrote; InvalidInputError naming ``where`` for anything else."""
    try:
        space = value["space"]
        header = FileHeader(
            space=EmbeddingSpace(
                embedder=str(space["embedder"]),
                model=str(space["model"]),
                pretrained=str(space["pretrained"]),
                dim=int(space["dim"]),
            ),
            count=int(value["count"]),
            writers=tuple(str(writer) for writer in value.get("writers", ())),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInputError(f"{where}: not a same-same export (no valid header)") from exc
    if header.space.dim < 1 or header.count < 0:
        raise InvalidInputError(f"{where}: not a same-same export (bad dimension or count)")
    return header


def header_line(header: FileHeader) -> str:
    """The JSONL files' first line."""
    return json.dumps({SPACE_KEY: header.to_dict()}) + "\n"


def parse_header_line(line: str, where: str) -> FileHeader:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise InvalidInputError(f"{where}: not a same-same export (no header line)") from exc
    if not isinstance(value, dict) or SPACE_KEY not in value:
        raise InvalidInputError(f"{where}: not a same-same export (no header line)")
    return parse_header(value[SPACE_KEY], where)


def exported_metadata(record: Record) -> dict[str, Any]:
    """The record's metadata without the namespace it lived in (the importer stamps its own)."""
    return {key: value for key, value in record.metadata.items() if key != NAMESPACE_KEY}


class RecordWriter(Protocol):
    """Writes one file, a page of records at a time; nothing is at ``path`` until ``finish``."""

    def write(self, records: Sequence[Record]) -> None: ...

    def finish(self) -> list[Path]:
        """Move the finished file(s) into place; returns their paths."""
        ...

    def abort(self) -> None:
        """Remove what was written (a failed export leaves no half file)."""
        ...


class RecordReader(Protocol):
    """An opened, checked export file: its header, then its records in batches."""

    header: FileHeader

    def batches(self, size: int) -> Iterator[list[Record]]: ...

    def close(self) -> None: ...


def temporary_path(path: Path) -> Path:
    """Where a file is written before it is moved to ``path`` (same folder: a rename)."""
    return path.with_name(f".{path.name}.partial")
