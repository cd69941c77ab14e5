"""``FILE.npy`` (a float32 matrix, one row per record) and its sibling ``FILE.jsonl``.

The sibling holds the header line, then per row ``{"id", "text", "metadata",
"content_hash"}`` in the matrix's row order. The matrix is written through a memory map
(``np.lib.format.open_memmap``, its row count known up front) and read through one, so
neither side holds more than a page of vectors in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from ..ingest.batching import chunked
from ..records import Record
from .base import FileHeader, temporary_path
from .jsonl import LinesReader, LinesWriter, build_record


def sibling_path(path: Path) -> Path:
    """``vectors.npy`` -> ``vectors.jsonl``."""
    return path.with_suffix(".jsonl")


class NpyWriter:
    def __init__(self, path: Path, header: FileHeader) -> None:
        self.path = path
        self._partial = temporary_path(path)
        self._count = header.count
        self._matrix = np.lib.format.open_memmap(
            self._partial, mode="w+", dtype=np.float32, shape=(header.count, header.space.dim)
        )
        self._lines = LinesWriter(sibling_path(path), header, with_vector=False)
        self._row = 0

    def write(self, records: Sequence[Record]) -> None:
        end = self._row + len(records)
        if end > self._count:
            raise InvalidInputError(
                f"the namespace grew during the export (more than {self._count} records)",
                hint="export it again when nothing is writing to it",
            )
        for offset, record in enumerate(records):
            self._matrix[self._row + offset] = np.asarray(record.vector, dtype=np.float32)
        self._row = end
        self._lines.write(records)

    def finish(self) -> list[Path]:
        if self._row != self._count:
            self.abort()
            raise InvalidInputError(
                f"the namespace shrank during the export ({self._row} of {self._count} records)",
                hint="export it again when nothing is writing to it",
            )
        self._matrix.flush()
        del self._matrix
        os.replace(self._partial, self.path)
        return [self.path, *self._lines.finish()]

    def abort(self) -> None:
        if hasattr(self, "_matrix"):
            del self._matrix
        self._partial.unlink(missing_ok=True)
        self._lines.abort()


class NpyReader:
    def __init__(self, path: Path) -> None:
        self.path = path
        sibling = sibling_path(path)
        if not sibling.is_file():
            raise InvalidInputError(
                f"{path}: its records file {sibling.name} is missing",
                hint="an .npy export is two files: FILE.npy and FILE.jsonl",
            )
        try:
            matrix = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # numpy's header parser raises what a tokenizer raises
            raise InvalidInputError(f"{path}: not a readable .npy file ({exc})") from exc
        self._lines = LinesReader(sibling)
        self.header = self._lines.header
        expected = (self.header.count, self.header.space.dim)
        if matrix.dtype != np.float32 or matrix.ndim != 2 or matrix.shape != expected:
            self._lines.close()
            raise InvalidInputError(
                f"{path}: holds a {matrix.dtype} matrix of shape {matrix.shape}; "
                f"{sibling.name} says float32 {expected}"
            )
        self._matrix = matrix

    def batches(self, size: int) -> Iterator[list[Record]]:
        records = (
            build_record(fields, np.array(self._matrix[row], dtype=np.float32))
            for row, (_, fields) in enumerate(self._lines.lines())
        )
        return chunked(records, size)

    def close(self) -> None:
        self._lines.close()
        del self._matrix
