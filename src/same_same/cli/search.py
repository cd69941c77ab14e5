"""``same-same search "text"`` and ``same-same search --image PATH``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..config import resolve_data_dir
from ..embedders import EmbedderOptions
from ..errors import InvalidInputError
from ..records import Match
from ..storage import open_store
from .options import data_dir_option, json_option, namespace_option, store_option


def parse_filters_option(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        filters = json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"--filter is not valid JSON: {exc.msg}") from None
    if not isinstance(filters, dict):
        raise InvalidInputError('--filter takes a JSON object, e.g. {"label": {"eq": "beach"}}')
    return filters


def format_match(rank: int, match: Match) -> str:
    meta = match.metadata
    if match.text is not None:
        label = match.text if len(match.text) <= 100 else match.text[:97] + "..."
        author = f" — {meta['author']}" if "author" in meta else ""
        return f"{rank:>3}. {match.score:.3f}  {label}{author}"
    where = meta.get("path") or meta.get("filename") or match.id
    extra = f"  [{meta['label']}]" if meta.get("label") else ""
    return f"{rank:>3}. {match.score:.3f}  {where}{extra}"


@click.command("search")
@click.argument("text", required=False)
@click.option(
    "--image",
    "image_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Search by an image file instead of text.",
)
@click.option(
    "--like", "like_id", default=None, help="Search by a stored record's id (more like this)."
)
@namespace_option(
    default=None, help_text="Namespace (default: every namespace of the query's space)."
)
@click.option("-k", "--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option(
    "--filter", "filters", default=None, help='Metadata filters as JSON: {"year": {"gte": 1900}}.'
)
@data_dir_option
@store_option
@json_option
def search_command(
    text: str | None,
    image_path: str | None,
    like_id: str | None,
    namespace: str | None,
    limit: int,
    filters: str | None,
    data_dir: str | None,
    store_spec: str | None,
    as_json: bool,
) -> None:
    """Search the store by TEXT, by --image PATH, or --like ID."""
    from ..search import SearchService

    given = [x for x in (text, image_path, like_id) if x]
    if len(given) != 1:
        raise click.UsageError("give exactly one of TEXT, --image PATH or --like ID")
    parsed_filters = parse_filters_option(filters)
    store_dir = resolve_data_dir(data_dir)
    with open_store(store_dir, store_spec) as store:
        service = SearchService(store, EmbedderOptions(data_dir=store_dir))
        if text:
            result = service.search_text(
                text, namespace=namespace, limit=limit, filters=parsed_filters
            )
        elif image_path:
            path = Path(image_path).expanduser()
            if not path.is_file():
                raise InvalidInputError(f"no such file: {path}")
            result = service.search_image(
                path.read_bytes(), namespace=namespace, limit=limit, filters=parsed_filters
            )
        else:
            assert like_id is not None
            result = service.search_similar(
                like_id, namespace=namespace, limit=limit, filters=parsed_filters
            )
    matches = result.matches
    if as_json:
        click.echo(json.dumps({"results": [m.to_dict() for m in matches], "total": len(matches)}))
        return
    if not matches:
        click.echo("no matches", err=True)
        return
    for rank, match in enumerate(matches, start=1):
        click.echo(format_match(rank, match))
