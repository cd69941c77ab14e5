"""``same-same search "text"`` and ``same-same search --image PATH``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import resolve_data_dir
from ..embedders import EmbedderOptions
from ..errors import InvalidInputError
from ..ranking import DEFAULT_RRF_K, MAX_RRF_K, MODES, parse_ranking
from ..records import Match
from ..storage import open_store
from .options import data_dir_option, json_option, namespace_option, store_option

if TYPE_CHECKING:
    from ..search import SearchResult


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
    score = f"{match.score:.3f}"
    if match.relevance is not None:
        score += f" {match.relevance:>4.0%}"
    if match.text is not None:
        label = match.text if len(match.text) <= 100 else match.text[:97] + "..."
        author = f" — {meta['author']}" if "author" in meta else ""
        return f"{rank:>3}. {score}  {label}{author}"
    where = meta.get("path") or meta.get("filename") or match.id
    extra = f"  [{meta['label']}]" if meta.get("label") else ""
    return f"{rank:>3}. {score}  {where}{extra}"


def describe_no_good_match(result: SearchResult) -> str:
    if result.best_score is None:
        return "no good match"
    best = f"best score {result.best_score:.3f}"
    if result.best_relevance is not None:
        best += f", relevance {result.best_relevance:.0%}"
    return f"no good match ({best})"


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
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="vector",
    show_default=True,
    help="Rank by meaning, by the words of names, labels and text, or both fused.",
)
@click.option(
    "--min-score",
    type=click.FloatRange(-1, 1),
    default=None,
    help="Drop results below this cosine.",
)
@click.option(
    "--min-relevance",
    type=click.FloatRange(0, 1),
    default=None,
    help="Drop results below this calibrated relevance; nothing when no good match.",
)
@click.option(
    "--rrf-k",
    type=click.IntRange(1, MAX_RRF_K),
    default=DEFAULT_RRF_K,
    show_default=True,
    help="Reciprocal rank fusion's k (--mode hybrid).",
)
@click.option(
    "--recency",
    type=float,
    default=None,
    metavar="DAYS",
    help="Blend in how recent each photo is: a half-life in days on taken_at.",
)
@click.option(
    "--sort",
    default=None,
    metavar="FIELD",
    help="Show the results in a field's order: taken_at, or -taken_at for newest first.",
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
    mode: str,
    min_score: float | None,
    min_relevance: float | None,
    rrf_k: int,
    recency: float | None,
    sort: str | None,
    data_dir: str | None,
    store_spec: str | None,
    as_json: bool,
) -> None:
    """Search the store by TEXT, by --image PATH, or --like ID.

    Each result shows its cosine score and, where the namespace has a model, its
    calibrated relevance. "no good match" on stderr: nothing is unlikely for an
    unrelated query (the closest are listed unless --min-relevance is given).
    """
    from ..search import SearchService

    given = [x for x in (text, image_path, like_id) if x]
    if len(given) != 1:
        raise click.UsageError("give exactly one of TEXT, --image PATH or --like ID")
    if mode != "vector" and not text:
        raise click.UsageError(f"--mode {mode} needs a TEXT query")
    parsed_filters = parse_filters_option(filters)
    ranking = parse_ranking(
        mode=mode,
        rrf_k=rrf_k,
        min_score=min_score,
        min_relevance=min_relevance,
        recency=recency,
        sort=sort,
    )
    store_dir = resolve_data_dir(data_dir)
    with open_store(store_dir, store_spec) as store:
        service = SearchService(store, EmbedderOptions(data_dir=store_dir))
        if text:
            result = service.search_text(
                text, namespace=namespace, limit=limit, filters=parsed_filters, ranking=ranking
            )
        elif image_path:
            path = Path(image_path).expanduser()
            if not path.is_file():
                raise InvalidInputError(f"no such file: {path}")
            result = service.search_image(
                path.read_bytes(),
                namespace=namespace,
                limit=limit,
                filters=parsed_filters,
                ranking=ranking,
            )
        else:
            assert like_id is not None
            result = service.search_similar(
                like_id, namespace=namespace, limit=limit, filters=parsed_filters, ranking=ranking
            )
    matches = result.matches
    if as_json:
        answer = result.to_dict()
        del answer["took_ms"]  # the same command prints the same JSON
        click.echo(json.dumps(answer))
        return
    if result.no_good_match and result.best_score is not None:
        click.echo(describe_no_good_match(result), err=True)
    elif not matches:
        click.echo("no matches", err=True)
    if not matches:
        return
    for rank, match in enumerate(matches, start=1):
        click.echo(format_match(rank, match))
