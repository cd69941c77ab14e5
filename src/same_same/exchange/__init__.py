"""Export a namespace to a file and import it back: Parquet, ``.npy`` + ``.jsonl``, JSONL.

``export_namespace(store, "photos", Path("photos.parquet"))`` writes the records a page at
a time; ``import_file(store, Path("photos.parquet"), "photos")`` reads them back in
batches through the store's upsert, refusing a file whose embedding space differs from
the namespace's. Formats are registered by name (``register_format``); a new format is
one module with a writer and a reader plus one line below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInputError, UnknownNameError
from ..storage.base import VectorStore
from .base import DEFAULT_PAGE_SIZE, SPACE_KEY, FileHeader, RecordReader, RecordWriter
from .transfer import (
    ExportOptions,
    ExportReport,
    ImportOptions,
    ImportReport,
    export_records,
    import_records,
    iter_record_pages,
)


@dataclass(frozen=True)
class ExchangeFormat:
    name: str
    extensions: tuple[str, ...]
    """Which file names export to it by default (the first is its own)."""
    create_writer: Callable[[Path, FileHeader], RecordWriter]
    open_reader: Callable[[Path], RecordReader]
    source_name: str
    """What ``same-same ingest SOURCE_NAME:FILE`` calls it."""
    summary: str


_FORMATS: dict[str, ExchangeFormat] = {}


def register_format(exchange_format: ExchangeFormat) -> None:
    _FORMATS[exchange_format.name] = exchange_format


def list_formats() -> list[ExchangeFormat]:
    return [_FORMATS[name] for name in sorted(_FORMATS)]


def get_format(name: str) -> ExchangeFormat:
    if name not in _FORMATS:
        raise UnknownNameError("export format", name, list(_FORMATS))
    return _FORMATS[name]


def format_for_path(path: Path, name: str | None = None) -> ExchangeFormat:
    """The format ``name`` says, else the one ``path``'s extension names."""
    if name is not None:
        return get_format(name)
    suffix = path.suffix.lower()
    for exchange_format in list_formats():
        if suffix in exchange_format.extensions:
            return exchange_format
    known = ", ".join(ext for f in list_formats() for ext in f.extensions)
    raise InvalidInputError(
        f"cannot tell the format of {path.name!r} from its extension (known: {known})",
        hint="name it with --format " + "|".join(_FORMATS),
    )


def parse_vector_source(spec: str) -> tuple[ExchangeFormat, Path] | None:
    """``parquet:FILE``, ``npy:FILE``, ``vectors:FILE.jsonl``, ``FILE.parquet`` or
    ``FILE.npy`` -> the format and path; None for any other ingest source."""
    name, sep, arg = spec.partition(":")
    for exchange_format in list_formats():
        if sep and name == exchange_format.source_name and arg:
            return exchange_format, Path(arg).expanduser()
    suffix = Path(spec).suffix.lower()
    for exchange_format in list_formats():
        # .jsonl stays the text source's: only the explicit vectors: prefix reads vectors
        if exchange_format.name != "jsonl" and suffix in exchange_format.extensions:
            return exchange_format, Path(spec).expanduser()
    return None


def open_export(path: Path, format_name: str | None = None) -> RecordReader:
    """Open and check an export file (its header, its size); InvalidInputError if damaged."""
    exchange_format = format_for_path(path, format_name)
    if not path.is_file():
        raise InvalidInputError(f"no file {str(path)!r}")
    return exchange_format.open_reader(path)


def _parquet_writer(path: Path, header: FileHeader) -> RecordWriter:
    from .parquet import ParquetWriter

    return ParquetWriter(path, header)


def _parquet_reader(path: Path) -> RecordReader:
    from .parquet import ParquetReader

    return ParquetReader(path)


def _npy_writer(path: Path, header: FileHeader) -> RecordWriter:
    from .npy import NpyWriter

    return NpyWriter(path, header)


def _npy_reader(path: Path) -> RecordReader:
    from .npy import NpyReader

    return NpyReader(path)


def _jsonl_writer(path: Path, header: FileHeader) -> RecordWriter:
    from .jsonl import create_vector_lines_writer

    return create_vector_lines_writer(path, header)


def _jsonl_reader(path: Path) -> RecordReader:
    from .jsonl import VectorLinesReader

    return VectorLinesReader(path)


register_format(
    ExchangeFormat(
        "parquet",
        (".parquet", ".pq"),
        _parquet_writer,
        _parquet_reader,
        "parquet",
        "Parquet: id, vector (fixed-size float32 list), text, metadata (JSON), content_hash",
    )
)
register_format(
    ExchangeFormat(
        "npy",
        (".npy",),
        _npy_writer,
        _npy_reader,
        "npy",
        "a float32 .npy matrix and a sibling .jsonl of ids, texts and metadata",
    )
)
register_format(
    ExchangeFormat(
        "jsonl",
        (".jsonl", ".ndjson"),
        _jsonl_writer,
        _jsonl_reader,
        "vectors",
        "JSON Lines with the vectors inline",
    )
)


def export_namespace(
    store: VectorStore, namespace: str, path: Path, options: ExportOptions | None = None
) -> ExportReport:
    """Write ``namespace`` to ``path`` in ``options.format`` (default: from the extension)."""
    options = options or ExportOptions()
    exchange_format = format_for_path(path, options.format)
    return export_records(
        store, namespace, path, exchange_format.name, exchange_format.create_writer, options
    )


def import_file(
    store: VectorStore, path: Path, namespace: str, options: ImportOptions | None = None
) -> ImportReport:
    """Upsert the records of the export at ``path`` into ``namespace`` (created when absent)."""
    options = options or ImportOptions()
    reader = open_export(path, options.format)
    try:
        return import_records(store, reader, path, namespace, options)
    finally:
        reader.close()


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "SPACE_KEY",
    "ExchangeFormat",
    "ExportOptions",
    "ExportReport",
    "FileHeader",
    "ImportOptions",
    "ImportReport",
    "RecordReader",
    "RecordWriter",
    "export_namespace",
    "format_for_path",
    "get_format",
    "import_file",
    "iter_record_pages",
    "list_formats",
    "open_export",
    "parse_vector_source",
    "register_format",
]
