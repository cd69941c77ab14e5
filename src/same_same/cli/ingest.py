"""``same-same ingest [flags] SOURCE``."""

from __future__ import annotations

import json
import sys
import time

import click

from ..config import resolve_data_dir
from ..embedder_cache import EmbedderCache
from ..embedders import (
    Embedder,
    create_embedder,
    is_image_embedder,
)
from ..errors import (
    DiskFullError,
    NamespaceNotFoundError,
    ReadOnlyStoreError,
    SameSameError,
    StoreError,
)
from ..exchange import parse_vector_source
from ..ingest import IngestOptions, Progress, run_ingest
from ..ingest.ray_options import EmbedderRecipe, RayOptions
from ..sources import SourceOptions, open_source
from ..storage import VectorStore, open_store
from .export import ingest_export_file
from .options import (
    BooleanValueCommand,
    ModelFlags,
    batch_size_option,
    data_dir_option,
    embedder_option,
    image_decode_options,
    json_option,
    model_options,
    namespace_option,
    recursive_option,
    store_option,
)
from .ray_option import normalize_ray_flag


class IngestCommand(BooleanValueCommand):
    boolean_flags = {
        "--recursive": ("--recursive", "--no-recursive"),
        "-r": ("--recursive", "--no-recursive"),
    }

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, normalize_ray_flag(args))


def refuse_read_only(store: VectorStore, dry_run: bool) -> None:
    """Fail before reading or embedding anything when nothing could be stored."""
    if store.read_only and not dry_run:
        raise ReadOnlyStoreError(
            "the store is read-only: nothing can be ingested (searches still work)",
            hint="remount the data directory writable, or ingest as a user who can write it",
        )


def describe_stored(store: VectorStore, namespace: str) -> str:
    """How many records the namespace holds (read back: the store stays readable)."""
    try:
        count = store.count(namespace)
    except NamespaceNotFoundError:
        return f"nothing is stored in namespace {namespace!r}"
    except StoreError:
        return "what was committed before it is stored"
    return f"{count} records are stored in namespace {namespace!r}"


def save_indexes(store: VectorStore) -> StoreError | None:
    """Save the store's indexes now (a store without any has nothing to do here)."""
    save = getattr(store, "save_indexes", None)
    if save is None:
        return None
    try:
        save()
    except StoreError as exc:
        return exc
    return None


def split_columns(values: tuple[str, ...]) -> tuple[str, ...]:
    """``--meta-col a,b --meta-col c`` -> ("a", "b", "c")."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


@click.command("ingest", cls=IngestCommand)
@click.argument("source")
@embedder_option()
@namespace_option()
@data_dir_option
@store_option
@batch_size_option
@click.option(
    "--sample", type=click.IntRange(1), default=None, help="Ingest a random sample of N items."
)
@click.option("--dry-run", is_flag=True, help="Read and embed, write nothing.")
@click.option("-v", "--verbose", is_flag=True, help="One line per item.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--text-col", default=None, help="CSV/JSON: the field holding the text.")
@click.option("--id-col", default=None, help="CSV/JSON: the field holding a stable id.")
@click.option(
    "--meta-col",
    multiple=True,
    help="CSV/JSON: keep only these fields as metadata (repeat or comma-separate).",
)
@recursive_option
@click.option("--prune", is_flag=True, help="images: remove records of files that are gone.")
@model_options
@image_decode_options
@click.option(
    "--ray",
    "ray_address",
    default=None,
    metavar="[ADDRESS]",
    help="images: decode and embed on a Ray cluster: auto (default: a local one) or "
    "ray://HOST:PORT; needs the [ray] extra.",
)
@click.option(
    "--ray-actors",
    type=click.IntRange(1, 1024),
    default=None,
    help="--ray: embedding actors, one model each [default: one per GPU, or per 4 CPUs].",
)
@json_option
def ingest_command(
    source: str,
    embedder: str,
    namespace: str,
    data_dir: str | None,
    store_spec: str | None,
    batch_size: int | None,
    sample: int | None,
    dry_run: bool,
    verbose: bool,
    quiet: bool,
    text_col: str | None,
    id_col: str | None,
    meta_col: tuple[str, ...],
    recursive: bool,
    prune: bool,
    model_flags: ModelFlags,
    workers: int | None,
    gpu_decode: str,
    ray_address: str | None,
    ray_actors: int | None,
    as_json: bool,
) -> None:
    """Embed SOURCE and store it.

    \b
    SOURCE is one of:
      demo, quotes            built-in quotes (author, year, tags)
      FILE.csv / csv:FILE     CSV with a header (--text-col, --id-col, --meta-col)
      FILE.jsonl / jsonl:FILE JSON Lines (also .ndjson); FILE.json / json:FILE
      images:DIR              a folder of images (-e clip)
      image-list:FILE         a list of image paths with optional labels (-e clip)
      FILE.parquet / parquet:FILE, FILE.npy / npy:FILE, vectors:FILE.jsonl
                              a `same-same export` file: its vectors, no embedding

    Exit status: 0 all stored, 3 some items skipped, 1 nothing done.
    """
    exported = parse_vector_source(source)
    if exported is not None:
        ingest_export_file(
            *exported, namespace, data_dir, store_spec, batch_size, dry_run, quiet, as_json
        )
        return
    opened = open_source(
        source,
        SourceOptions(
            text_col=text_col, id_col=id_col, meta_cols=split_columns(meta_col), recursive=recursive
        ),
    )
    store_dir = resolve_data_dir(data_dir)
    embedder_options = model_flags.embedder_options(store_dir, batch_size=batch_size, quiet=quiet)
    model = create_embedder(embedder, embedder_options)
    if opened.modality == "image" and not is_image_embedder(model):
        raise click.UsageError(f"{opened.describe()} holds images; embed them with -e clip")
    ray = None
    if ray_address is not None:
        recipe = EmbedderRecipe.capture(embedder, embedder_options)
        ray = RayOptions(recipe, address=ray_address, actors=ray_actors)
    if opened.modality == "text" and ray is None:
        model.load()  # fail before reading anything; an image ingest loads in the background
    options = IngestOptions(
        namespace=namespace,
        batch_size=batch_size,
        dry_run=dry_run,
        sample=sample,
        prune=prune,
        verbose=verbose,
        workers=workers,
        ray=ray,
        gpu_decode=gpu_decode,
    )
    progress = Progress(
        unit="images" if opened.modality == "image" else "records", enabled=not quiet
    )
    with open_store(store_dir, store_spec) as store:
        refuse_read_only(store, dry_run)
        try:
            report = run_ingest(store, model, opened, options, progress)
        except DiskFullError as exc:
            # One line with what is safe: every batch committed before the full one.
            raise DiskFullError(
                f"disk full while storing a batch; {describe_stored(store, namespace)}",
                hint="free some space and run the same command again: it stores only "
                "what is missing",
            ) from exc
        # Saved here rather than at close, so a failure (a full disk) is told, not logged.
        index_failure = save_indexes(store)
        if not dry_run:
            calibrate_after_ingest(store, report.namespace, model, quiet)
    for line in report.summary_lines():
        click.echo(line, err=True)
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    sys.stdout.flush()
    if index_failure is not None:
        raise index_failure  # the records are stored; the message says so
    if report.exit_code:
        sys.exit(report.exit_code)


def calibrate_after_ingest(
    store: VectorStore, namespace: str, model: Embedder, quiet: bool
) -> None:
    """Refresh the namespace's relevance calibration when it is missing or stale, so that
    searches find it made; a failure here is told in one line and stores nothing less."""
    from ..relevance import Calibrations

    info = store.find_namespace(namespace)
    if info is None or info.count == 0:
        return
    calibrations = Calibrations(store, EmbedderCache())
    started = time.perf_counter()
    try:
        if calibrations.stored_is_current(info):
            return
        calibrations.refresh(info, model)
    except SameSameError as error:
        click.echo(f"warning: relevance not calibrated: {error}", err=True)
        return
    if not quiet:
        took = time.perf_counter() - started
        click.echo(f"calibrated relevance for {namespace!r} in {took:.1f} s", err=True)


__all__ = ["ingest_command"]
