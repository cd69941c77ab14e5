"""Moving records between a store and a file, a page at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError, SpaceMismatchError
from ..records import Record, stamp_namespace
from ..storage.base import VectorStore
from .base import DEFAULT_PAGE_SIZE, FileHeader, RecordReader, RecordWriter


@dataclass(frozen=True)
class ExportOptions:
    format: str | None = None
    """A registered format name; None: from the file's extension."""
    page_size: int = DEFAULT_PAGE_SIZE
    """Records read from the store, and held in memory, at once."""


@dataclass(frozen=True)
class ImportOptions:
    format: str | None = None
    batch_size: int = DEFAULT_PAGE_SIZE
    """Records read from the file and upserted (one transaction) at once."""
    dry_run: bool = False
    """Read and check every record, store nothing."""


@dataclass(frozen=True)
class ExportReport:
    namespace: str
    format: str
    count: int
    paths: tuple[Path, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "format": self.format,
            "count": self.count,
            "files": [str(path) for path in self.paths],
        }


@dataclass(frozen=True)
class ImportReport:
    namespace: str
    source: str
    count: int
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "source": self.source,
            "imported": 0 if self.dry_run else self.count,
            "read": self.count,
            "dry_run": self.dry_run,
        }


def iter_record_pages(
    store: VectorStore, namespace: str, page_size: int = DEFAULT_PAGE_SIZE
) -> Iterator[list[Record]]:
    """The namespace's records with their vectors, ``page_size`` at a time, by id (each
    page continues after the last id: a page costs the same at the end as at the start)."""
    if page_size < 1:
        raise InvalidInputError(f"page size must be at least 1, not {page_size}")
    return store.iter_records(namespace, page_size, with_vectors=True)


def export_records(
    store: VectorStore,
    namespace: str,
    path: Path,
    format_name: str,
    create_writer: Callable[[Path, FileHeader], RecordWriter],
    options: ExportOptions,
) -> ExportReport:
    info = store.get_namespace(namespace)
    header = FileHeader(space=info.space, count=info.count, writers=info.writers)
    writer = create_writer(path, header)
    written = 0
    try:
        for page in iter_record_pages(store, namespace, options.page_size):
            writer.write(page)
            written += len(page)
        if written != header.count:
            raise InvalidInputError(
                f"namespace {namespace!r} changed during the export "
                f"({written} records read, {header.count} counted)",
                hint="export it again when nothing is writing to it",
            )
        paths = writer.finish()
    except BaseException:
        writer.abort()
        raise
    return ExportReport(namespace, format_name, written, tuple(paths))


def check_space(store: VectorStore, header: FileHeader, path: Path, namespace: str) -> None:
    """Refuse a file whose vectors are of another space than the namespace's."""
    info = store.find_namespace(namespace)
    if info is not None and info.space != header.space:
        raise SpaceMismatchError(
            f"{path.name} holds vectors of {header.space.describe()}, namespace "
            f"{namespace!r} holds {info.space.describe()}: they cannot be mixed",
            hint="import it into another namespace with -n NAME",
        )


def import_records(
    store: VectorStore,
    reader: RecordReader,
    path: Path,
    namespace: str,
    options: ImportOptions,
) -> ImportReport:
    header = reader.header
    check_space(store, header, path, namespace)
    if not options.dry_run:
        store.ensure_namespace(namespace, header.space)
    # one backend named: the vectors are its (fp32 and int8 must not mix, storage.writers)
    writer = header.writers[0] if len(header.writers) == 1 else None
    count = 0
    try:
        for batch in reader.batches(options.batch_size):
            for record in batch:
                record.metadata = stamp_namespace(record.metadata, namespace)
            if not options.dry_run:
                store.upsert(namespace, batch, writer=writer)
            count += len(batch)
    except InvalidInputError as exc:
        if options.dry_run or count == 0:
            raise
        raise InvalidInputError(
            f"{exc.message}; the {count} records before it are stored",
            hint="fix the file and import it again: records are replaced by id",
        ) from exc
    return ImportReport(namespace, str(path), count, options.dry_run)
