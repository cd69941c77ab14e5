"""``same-same models``: list, pull, export and import CLIP models (air-gapped machines)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..config import resolve_data_dir
from ..embedders.clip.model_folders import models_dir
from ..model_store import (
    BundleOptions,
    export_bundle,
    format_size,
    import_bundle,
    list_models,
    pull_model,
)
from .options import data_dir_option, json_option
from .transfer_progress import TransferDisplay


def _options(data_dir: str | None, quiet: bool = False) -> BundleOptions:
    """Step lines and a bar of bytes on stderr (``transfer_progress``); -q: neither."""
    resolved = resolve_data_dir(data_dir)
    if quiet:
        return BundleOptions(data_dir=resolved)
    display = TransferDisplay()
    return BundleOptions(data_dir=resolved, say=display.say, progress=display)


quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")


@click.group("models")
def models_command() -> None:
    """CLIP models on this machine, and bundles that carry them to machines without network.

    \b
    same-same models list                               known models, which are here
    same-same models pull ViT-B-32 openai               download into the models folder
    same-same models export ViT-B-32 openai -o b.tar    weights, config, tokenizer, ONNX
    same-same models import b.tar                       on the offline machine
    """


@models_command.command("list")
@click.option("--present", is_flag=True, help="Only the models on this machine.")
@data_dir_option
@json_option
def list_command(present: bool, data_dir: str | None, as_json: bool) -> None:
    """Known CLIP models (open_clip's pretrained tags, the tiny model, the models folder):
    dimension, and where and how large when present."""
    resolved = resolve_data_dir(data_dir)
    entries = list_models(resolved, present_only=present)
    folder = models_dir(resolved)
    if as_json:
        payload = {"models_dir": str(folder), "models": [entry.to_dict() for entry in entries]}
        click.echo(json.dumps(payload))
        return
    click.echo(f"models folder: {folder}", err=True)
    rows = [
        (
            entry.model,
            entry.pretrained or "-",
            str(entry.dim or "?"),
            format_size(entry.size_bytes) if entry.size_bytes is not None else "-",
            entry.location or "-",
        )
        for entry in entries
    ]
    header = ("MODEL", "PRETRAINED", "DIM", "SIZE", "WHERE")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


@models_command.command("pull")
@click.argument("model")
@click.argument("pretrained", required=False)
@data_dir_option
@quiet_option
@json_option
def pull_command(
    model: str, pretrained: str | None, data_dir: str | None, quiet: bool, as_json: bool
) -> None:
    """Download MODEL (PRETRAINED tag) into the models folder (needs network)."""
    pulled = pull_model(model, pretrained, _options(data_dir, quiet))
    _report(pulled.describe(), str(pulled.folder), pulled.size_bytes, as_json)


@models_command.command("export")
@click.argument("model")
@click.argument("pretrained", required=False)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Bundle file to write (.tar).",
)
@data_dir_option
@quiet_option
@json_option
def export_command(
    model: str,
    pretrained: str | None,
    output: str,
    data_dir: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Write MODEL (PRETRAINED tag) as one bundle: weights, config, tokenizer files and
    exported ONNX files, with sha256 checksums."""
    path = Path(output).expanduser()
    contents = export_bundle(model, pretrained, path, _options(data_dir, quiet))
    _report(contents.describe(), str(path), path.stat().st_size, as_json)


@models_command.command("import")
@click.argument("bundle", type=click.Path(dir_okay=False))
@data_dir_option
@quiet_option
@json_option
def import_command(bundle: str, data_dir: str | None, quiet: bool, as_json: bool) -> None:
    """Check BUNDLE's checksums and install its model into the models folder."""
    imported = import_bundle(Path(bundle).expanduser(), _options(data_dir, quiet))
    _report(imported.describe(), str(imported.folder), imported.size_bytes, as_json)


def _report(model: str, path: str, size: int, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"model": model, "path": path, "size_bytes": size}))
    else:
        click.echo(f"{model}\t{path}\t{format_size(size)}")
