"""``same-same eval CAPTIONS.csv``: retrieval figures of a model on captioned images."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

from ..config import resolve_data_dir
from ..embedders import create_embedder, is_image_embedder
from ..relevance import GOOD_MATCH_RELEVANCE
from .options import ModelFlags, data_dir_option, json_option, model_options


def format_report(figures: dict[str, object]) -> list[str]:
    t2i, i2t = figures["text_to_image"], figures["image_to_text"]
    assert isinstance(t2i, dict) and isinstance(i2t, dict)
    lines = [
        f"images {figures['images']}, captions {figures['captions']}",
        "text->image  R@1 {recall@1:.3f}  R@5 {recall@5:.3f}  R@10 {recall@10:.3f}"
        "  MRR {mrr:.3f}".format(**t2i),
        "image->text  R@1 {recall@1:.3f}  R@5 {recall@5:.3f}  R@10 {recall@10:.3f}"
        "  MRR {mrr:.3f}".format(**i2t),
    ]
    duplicates = figures["duplicates"]
    if isinstance(duplicates, dict):
        lines.append(
            "duplicates   precision {precision:.3f}  recall {recall:.3f}"
            "  ({found_pairs} pairs found, {true_pairs} true)".format(**duplicates)
            + f" at threshold {figures['duplicate_threshold']}"
        )
    judged = figures["no_good_match"]
    assert isinstance(judged, dict)
    lines.append(
        "no good match  off-topic answered {off_topic_answered_no_good_match:.3f}"
        " (false positives {false_positive_rate:.3f}), on-topic answered"
        " {false_negative_rate:.3f}, top-5 hits kept {on_topic_top5_kept:.3f}"
        " at min_relevance {min_relevance}".format(**judged)
    )
    return lines


@click.command("eval")
@click.argument("captions", type=click.Path(dir_okay=False))
@click.option(
    "-e", "--embedder", default="clip", show_default=True, help="An image embedder: clip."
)
@model_options
@click.option(
    "--min-relevance",
    type=click.FloatRange(0, 1),
    default=GOOD_MATCH_RELEVANCE,
    show_default=True,
    help='The relevance cut the "no good match" figures are measured at.',
)
@click.option(
    "--duplicate-threshold",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="Cosine for duplicates (default: the calibrated one).",
)
@data_dir_option
@json_option
def eval_command(
    captions: str,
    embedder: str,
    model_flags: ModelFlags,
    min_relevance: float,
    duplicate_threshold: float | None,
    data_dir: str | None,
    as_json: bool,
) -> None:
    """Measure retrieval on CAPTIONS.csv (path,caption[,group] per row).

    The images are ingested into a temporary store with the model, then searched:
    text->image and image->text recall@1/5/10 and MRR, duplicate precision and
    recall (rows of one group are copies), and how often held-out off-topic queries
    are answered "no good match". Nothing is written to the data directory.
    """
    from ..evaluation import EvalOptions, read_captions, run_eval
    from ..storage import open_store

    captions_set = read_captions(captions)
    model = create_embedder(
        embedder,
        model_flags.embedder_options(resolve_data_dir(data_dir)),
    )
    if not is_image_embedder(model):
        raise click.UsageError(f"embedder {embedder!r} embeds text only; eval needs -e clip")
    options = EvalOptions(min_relevance=min_relevance, duplicate_threshold=duplicate_threshold)
    with tempfile.TemporaryDirectory(prefix="same-same-eval-") as folder:
        with open_store(Path(folder)) as store:
            report = run_eval(
                captions_set,
                model,
                store,
                options,
                on_step=None if as_json else lambda step: click.echo(step, err=True),
            )
    figures = report.to_dict()
    if as_json:
        click.echo(json.dumps(figures))
        return
    for line in format_report(figures):
        click.echo(line)
