"""``same-same serve``: the REST API and the search page."""

from __future__ import annotations

import os

import click

from ..config import API_KEY_ENV, resolve_data_dir
from .options import (
    ModelFlags,
    data_dir_option,
    embedder_option,
    model_options,
    namespace_option,
    store_option,
    watch_timing_options,
)


@click.command("serve")
@click.option(
    "-a",
    "--addr",
    default="127.0.0.1:8080",
    show_default=True,
    help="HOST:PORT to listen on; ':8080' or '0.0.0.0:8080' to expose it.",
)
@click.option("-d", "--debug", is_flag=True, help="Debug logs.")
@click.option(
    "--api-key",
    envvar=API_KEY_ENV,
    default=None,
    help="Require this key on /api/* (Authorization: Bearer KEY or X-API-Key) "
    f"[env {API_KEY_ENV}].",
)
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Read the API key from FILE (its first line); --api-key and its variable win.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=None,
    help="Largest request body; a bigger one is answered 413 [default: 32 MiB].",
)
@click.option(
    "--metrics-auth",
    is_flag=True,
    help="Require the API key on /metrics too (open by default, like /health).",
)
@click.option(
    "-w",
    "--workers",
    type=int,
    default=1,
    show_default=True,
    envvar="SAME_SAME_WORKERS",
    help="Server processes sharing the port (0: one per CPU core); more answer more "
    "queries at once [env SAME_SAME_WORKERS].",
)
@click.option("--access-log", is_flag=True, help="Log one line per request.")
@data_dir_option
@store_option
@click.option(
    "--watch",
    "watch_folders",
    multiple=True,
    metavar="images:DIR",
    help="Keep this folder in sync while serving, as `same-same watch` does (repeatable; "
    "with -e clip, -n and the model options).",
)
@embedder_option(default="clip")
@namespace_option(help_text="--watch: the namespace the folders are kept in.")
@model_options
@watch_timing_options
def serve_command(
    addr: str,
    debug: bool,
    api_key: str | None,
    api_key_file: str | None,
    max_body_bytes: int | None,
    metrics_auth: bool,
    workers: int,
    access_log: bool,
    data_dir: str | None,
    store_spec: str | None,
    watch_folders: tuple[str, ...],
    embedder: str,
    namespace: str,
    model_flags: ModelFlags,
    poll_seconds: float | None,
    settle_seconds: float,
) -> None:
    """Serve the REST API (/api/v1/...) and the search page (/).

    With --watch images:DIR (and -e clip), the server also keeps that folder in sync,
    as `same-same watch` does, in a thread of its own.
    """
    from ..ingest import IngestOptions
    from ..server import DEFAULT_MAX_BODY_BYTES, ServeOptions, ServerSettings, parse_addr, serve
    from ..server.auth import check_api_key, read_api_key_file
    from ..watch import WatchOptions, WatchRequest

    if api_key is None and API_KEY_ENV in os.environ:  # click reads an empty variable as unset
        api_key = os.environ[API_KEY_ENV]
    if api_key is None and api_key_file is not None:
        api_key = read_api_key_file(api_key_file)
    host, port = parse_addr(addr)
    options = ServeOptions(host=host, port=port, workers=workers, access_log=access_log)
    store_dir = resolve_data_dir(data_dir)
    embedder_options = model_flags.embedder_options(store_dir)
    watch_options = WatchOptions(
        ingest=IngestOptions(namespace=namespace),
        poll_seconds=poll_seconds,
        settle_seconds=settle_seconds,
    )
    settings = ServerSettings(
        data_dir=store_dir,
        api_key=check_api_key(api_key),
        debug=debug,
        max_body_bytes=max_body_bytes or DEFAULT_MAX_BODY_BYTES,
        store=store_spec,
        metrics_require_key=metrics_auth,
        embedder_options=embedder_options,
        watches=tuple(
            WatchRequest(folder, embedder, embedder_options, watch_options)
            for folder in watch_folders
        ),
    )
    serve(settings, options)
