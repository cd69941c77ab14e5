"""``same-same export -n NS -o FILE``, and ``same-same ingest parquet:FILE`` (npy:, vectors:)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..config import resolve_data_dir
from ..exchange import (
    DEFAULT_PAGE_SIZE,
    ExchangeFormat,
    ExportOptions,
    ImportOptions,
    export_namespace,
    import_file,
    list_formats,
)
from ..storage import open_store
from .options import data_dir_option, json_option, namespace_option, store_option


@click.command("export")
@namespace_option()
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="The file to write: .parquet, .npy (with a sibling .jsonl) or .jsonl.",
)
@click.option(
    "--format",
    "format_name",
    type=click.Choice([f.name for f in list_formats()]),
    default=None,
    help="parquet, npy or jsonl [default: from the output's extension].",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 100_000),
    default=DEFAULT_PAGE_SIZE,
    show_default=True,
    help="Records read from the store and held in memory at once.",
)
@data_dir_option
@store_option
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
@json_option
def export_command(
    namespace: str,
    output: str,
    format_name: str | None,
    page_size: int,
    data_dir: str | None,
    store_spec: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Write a namespace's ids, vectors, texts and metadata to a file.

    \b
    same-same export -n photos -o photos.parquet    Parquet (pandas, DuckDB, Spark)
    same-same export -n photos -o photos.npy        photos.npy + photos.jsonl
    same-same export -n photos -o photos.jsonl      JSON Lines, vectors inline
    same-same ingest parquet:photos.parquet -n photos2   bring it back
    """
    options = ExportOptions(format=format_name, page_size=page_size)
    with open_store(resolve_data_dir(data_dir), store_spec) as store:
        report = export_namespace(store, namespace, Path(output), options)
    if not quiet:
        files = " and ".join(str(path) for path in report.paths)
        click.echo(
            f"exported {report.count} records of namespace {namespace!r} to {files}", err=True
        )
    if as_json:
        click.echo(json.dumps(report.to_dict()))


def ingest_export_file(
    exchange_format: ExchangeFormat,
    path: Path,
    namespace: str,
    data_dir: str | None,
    store_spec: str | None,
    batch_size: int | None,
    dry_run: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """``same-same ingest parquet:FILE``: the records, vectors included, as the file has
    them (no embedder runs), upserted ``--batch-size`` at a time."""
    from .ingest import refuse_read_only, save_indexes

    options = ImportOptions(
        format=exchange_format.name,
        batch_size=batch_size or DEFAULT_PAGE_SIZE,
        dry_run=dry_run,
    )
    with open_store(resolve_data_dir(data_dir), store_spec) as store:
        refuse_read_only(store, dry_run)
        report = import_file(store, path, namespace, options)
        index_failure = save_indexes(store) if not dry_run else None
    if not quiet:
        verb = "read (dry run, nothing stored)" if dry_run else "imported"
        click.echo(
            f"{verb} {report.count} records from {path} into namespace {namespace!r}", err=True
        )
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    if index_failure is not None:
        raise index_failure


__all__ = ["export_command", "ingest_export_file"]
