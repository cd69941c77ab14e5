"""Parquet (pyarrow, the [parquet] extra): one row group per page of records.

Columns: ``id`` (string), ``vector`` (fixed_size_list<float32>[dim]), ``text`` (nullable
string), ``metadata`` (a JSON string) and ``content_hash`` (nullable string). Metadata is a
JSON string rather than one column per key: it is arbitrary nested JSON whose keys differ
from record to record, so columns would need a schema known before the first page and
would turn every missing key into a null. ``json.loads`` (or pandas' ``.map(json.loads)``)
gives it back exactly. The header is in the schema metadata under ``same_same.space``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError, MissingDependencyError
from ..records import Record
from .base import SPACE_KEY, FileHeader, exported_metadata, parse_header, temporary_path

COLUMNS = ("id", "vector", "text", "metadata", "content_hash")


def import_pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise MissingDependencyError("Parquet export and import", "parquet") from exc
    return pyarrow


def file_schema(header: FileHeader) -> Any:
    pa = import_pyarrow()
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), header.space.dim), nullable=False),
            pa.field("text", pa.string()),
            pa.field("metadata", pa.string(), nullable=False),
            pa.field("content_hash", pa.string()),
        ],
        metadata={SPACE_KEY: json.dumps(header.to_dict())},
    )


class ParquetWriter:
    def __init__(self, path: Path, header: FileHeader) -> None:
        self._pa = import_pyarrow()
        self.path = path
        self._partial = temporary_path(path)
        self._schema = file_schema(header)
        self._dim = header.space.dim
        self._writer = self._pa.parquet.ParquetWriter(str(self._partial), self._schema)

    def write(self, records: Sequence[Record]) -> None:
        if not records:
            return
        pa = self._pa
        flat = np.concatenate([np.asarray(r.vector, dtype=np.float32) for r in records])
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), self._dim)
        columns = [
            pa.array([r.id for r in records], pa.string()),
            vectors,
            pa.array([r.text for r in records], pa.string()),
            pa.array([json.dumps(exported_metadata(r)) for r in records], pa.string()),
            pa.array([r.content_hash for r in records], pa.string()),
        ]
        self._writer.write_table(pa.Table.from_arrays(columns, schema=self._schema))

    def finish(self) -> list[Path]:
        self._writer.close()
        os.replace(self._partial, self.path)
        return [self.path]

    def abort(self) -> None:
        self._writer.close()
        self._partial.unlink(missing_ok=True)


class ParquetReader:
    def __init__(self, path: Path) -> None:
        pa = self._pa = import_pyarrow()
        self.path = path
        try:
            self._file = pa.parquet.ParquetFile(str(path))
            schema = self._file.schema_arrow
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InvalidInputError(f"{path}: not a readable Parquet file ({exc})") from exc
        raw = (schema.metadata or {}).get(SPACE_KEY.encode())
        try:
            value = json.loads(raw) if raw is not None else None
        except ValueError:
            value = None
        self.header = parse_header(value, str(path))
        expected = file_schema(self.header)
        for name in COLUMNS:
            field = schema.field(name) if name in schema.names else None
            if field is None or field.type != expected.field(name).type:
                raise InvalidInputError(
                    f"{path}: column {name!r} is missing or is not "
                    f"{expected.field(name).type} (the header says dim {self.header.space.dim})"
                )
        rows = self._file.metadata.num_rows
        if rows != self.header.count:
            raise InvalidInputError(
                f"{path}: holds {rows} rows, its header says {self.header.count}"
            )

    def batches(self, size: int) -> Iterator[list[Record]]:
        pa = self._pa
        dim = self.header.space.dim
        try:
            for batch in self._file.iter_batches(batch_size=size, columns=list(COLUMNS)):
                vectors = batch.column("vector")
                if vectors.null_count:
                    raise InvalidInputError(f"{self.path}: a row has no vector")
                matrix = vectors.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
                ids = batch.column("id").to_pylist()
                texts = batch.column("text").to_pylist()
                hashes = batch.column("content_hash").to_pylist()
                metadata = batch.column("metadata").to_pylist()
                yield [
                    Record(
                        id=ids[i],
                        vector=np.array(matrix[i], dtype=np.float32),
                        text=texts[i],
                        metadata=load_metadata(metadata[i], self.path, ids[i]),
                        content_hash=hashes[i],
                    )
                    for i in range(len(ids))
                ]
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInputError(f"{self.path}: damaged Parquet data ({exc})") from exc

    def close(self) -> None:
        self._file.close()


def load_metadata(text: str | None, path: Path, record_id: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        value = None
    if not isinstance(value, dict) or record_id is None:
        raise InvalidInputError(f"{path}: record {record_id!r}: no id, or metadata not an object")
    return value
