"""JSON Lines with the vectors inline: a header line, then one record per line.

``{"id": ..., "vector": [...], "text": ..., "metadata": {...}, "content_hash": ...}``.
Each float32 is written as the shortest decimal that reads back as the same float64, and
a float32 widened to float64 and narrowed back is unchanged: the vectors come back
bit-exact. The ``.npy`` format's sibling file is the same without ``vector``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import InvalidInputError
from ..ingest.batching import chunked
from ..records import Record
from .base import FileHeader, exported_metadata, header_line, parse_header_line, temporary_path


def record_line(record: Record, with_vector: bool) -> str:
    value: dict[str, Any] = {"id": record.id}
    if with_vector:
        value["vector"] = np.asarray(record.vector, dtype=np.float32).tolist()
    value["text"] = record.text
    value["metadata"] = exported_metadata(record)
    value["content_hash"] = record.content_hash
    return json.dumps(value, ensure_ascii=False) + "\n"


def parse_record_line(line: str, where: str) -> dict[str, Any]:
    """One record line's fields, checked; InvalidInputError naming ``where``."""
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise InvalidInputError(f"{where}: not valid JSON") from exc
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise InvalidInputError(f"{where}: not a record (no string id)")
    if not isinstance(value.get("metadata", {}), dict):
        raise InvalidInputError(f"{where}: metadata is not a JSON object")
    for key in ("text", "content_hash"):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise InvalidInputError(f"{where}: {key} is not a string")
    return value


def count_lines(path: Path) -> int:
    """Lines in ``path`` (a last line without a newline counts), read in blocks."""
    lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


class LinesWriter:
    """Writes the header line, then a line per record (``with_vector`` inline or not)."""

    def __init__(self, path: Path, header: FileHeader, with_vector: bool) -> None:
        self.path = path
        self._partial = temporary_path(path)
        self._with_vector = with_vector
        self._handle: IO[str] = self._partial.open("w", encoding="utf-8")
        self._handle.write(header_line(header))

    def write(self, records: Sequence[Record]) -> None:
        self._handle.writelines(record_line(r, self._with_vector) for r in records)

    def finish(self) -> list[Path]:
        self._handle.close()
        os.replace(self._partial, self.path)
        return [self.path]

    def abort(self) -> None:
        self._handle.close()
        self._partial.unlink(missing_ok=True)


class LinesReader:
    """Opens ``path``, reads its header and checks it has one line per record it counts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._handle: IO[str] = path.open("r", encoding="utf-8")
            first = self._handle.readline()
            self.header = parse_header_line(first, str(path))
            lines = count_lines(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"{path}: cannot be read ({exc})") from exc
        if lines - 1 != self.header.count:
            self._handle.close()
            raise InvalidInputError(
                f"{path}: holds {lines - 1} records, its header says {self.header.count} "
                "(truncated or appended to?)"
            )

    def lines(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(where, fields)`` per record line."""
        try:
            for number, line in enumerate(self._handle, start=2):
                where = f"{self.path} line {number}"
                yield where, parse_record_line(line, where)
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{self.path}: not UTF-8 text ({exc})") from exc

    def close(self) -> None:
        self._handle.close()


def build_record(fields: dict[str, Any], vector: np.ndarray) -> Record:
    return Record(
        id=fields["id"],
        vector=vector,
        text=fields.get("text"),
        metadata=fields.get("metadata", {}),
        content_hash=fields.get("content_hash"),
    )


class VectorLinesReader:
    """The JSONL format: vectors inline."""

    def __init__(self, path: Path) -> None:
        self._lines = LinesReader(path)
        self.header = self._lines.header

    def batches(self, size: int) -> Iterator[list[Record]]:
        dim = self.header.space.dim
        records = (
            build_record(fields, read_vector(fields.get("vector"), dim, where))
            for where, fields in self._lines.lines()
        )
        return chunked(records, size)

    def close(self) -> None:
        self._lines.close()


def read_vector(value: Any, dim: int, where: str) -> np.ndarray:
    if not isinstance(value, list) or len(value) != dim:
        raise InvalidInputError(f"{where}: vector is not a list of {dim} numbers")
    try:
        return np.array(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{where}: vector is not a list of {dim} numbers") from exc


def create_vector_lines_writer(path: Path, header: FileHeader) -> LinesWriter:
    return LinesWriter(path, header, with_vector=True)
