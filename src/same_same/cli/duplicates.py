"""``same-same duplicates``: groups of copies in a namespace, each with its suggested keeper."""

from __future__ import annotations

import json
import sys

import click

from ..config import resolve_data_dir
from ..duplicates import (
    DuplicateOptions,
    DuplicateReport,
    ProgressCallback,
    find_duplicates,
    resolve_namespace,
)
from ..storage import open_store
from .options import data_dir_option, json_option, namespace_option, store_option


@click.command("duplicates")
@namespace_option(None, "Namespace to look in [default: the store's only one].")
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="Lowest cosine that counts as a copy, in (0, 1] [default: measured for the model "
    "when the namespace was calibrated, else 0.95].",
)
@click.option("--limit", type=int, default=100, show_default=True, help="Most groups to show.")
@data_dir_option
@store_option
@json_option
def duplicates_command(
    namespace: str | None,
    threshold: float | None,
    limit: int,
    data_dir: str | None,
    store_spec: str | None,
    as_json: bool,
) -> None:
    """List groups of duplicate records: byte-identical files first, then near copies
    (resized, recompressed, cropped a little). The first of each group is the one to
    keep (most pixels, original format, biggest file); the others follow with their
    similarity to it.

    \b
    same-same duplicates -n photos
    same-same duplicates -n photos --threshold 0.9 --json
    """
    options = DuplicateOptions(threshold=threshold, limit=limit)
    with open_store(resolve_data_dir(data_dir), store_spec) as store:
        name = resolve_namespace(store, namespace)
        report = find_duplicates(store, name, options, progress=_progress(as_json))
    if as_json:
        click.echo(json.dumps(report.to_dict()))
        return
    _print_report(report)


def _progress(quiet: bool) -> ProgressCallback | None:
    if quiet or not sys.stderr.isatty():
        return None

    def show(scanned: int, total: int) -> None:
        click.echo(f"\rscanned {scanned}/{total}", err=True, nl=scanned >= total)

    return show


def _print_report(report: DuplicateReport) -> None:
    source = "default" if report.default_threshold else "given"
    summary = (
        f"{report.total_groups} group(s) of duplicates among {report.scanned} records in "
        f"{report.namespace!r} (threshold {report.threshold:.4f}, {source})"
    )
    if len(report.groups) < report.total_groups:
        summary += f"; showing the {len(report.groups)} largest"
    click.echo(summary, err=True)
    for number, group in enumerate(report.groups, start=1):
        click.echo(f"group {number}: {group.size} records")
        click.echo(f"  keep  {group.keeper.id}")
        for member in group.members:
            how = "identical" if member.exact else f"{member.score:.4f}"
            click.echo(f"  copy  {member.id}  ({how})")
