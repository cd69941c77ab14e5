"""Run the retrieval eval: ingest a captions file's images, then ask and count.

Into a store of its own (the caller passes one, usually in a temporary folder), the
images are ingested through the real pipeline (``image-list:``) with the model under
test. Then:

* text -> image: each distinct caption searched; its first relevant image's rank
  (relevant: the images it describes);
* image -> text: each image's vector ranked against every caption's;
* duplicates (when the file has groups): ``same-same duplicates`` at the
  namespace's default threshold, its pairs against the groups' pairs;
* "no good match": the held-out off-topic queries (``off_topic``) should be
  answered "no good match"; the captions should not, and the relevant images in
  their top 5 should survive the ``min_relevance`` cut.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..duplicates import DuplicateOptions, find_duplicates
from ..embedder_cache import EmbedderCache
from ..embedders import Embedder
from ..errors import InvalidInputError
from ..ingest import IngestOptions, IngestReport, run_ingest
from ..ranking import RankingOptions
from ..relevance import GOOD_MATCH_RELEVANCE
from ..search import SearchService
from ..sources import open_source
from ..sources.images import derive_image_id
from ..storage import VectorStore
from .captions import CaptionSet
from .metrics import (
    PairFigures,
    RankFigures,
    first_relevant_rank,
    pair_figures,
    rank_figures,
)
from .off_topic import OFF_TOPIC_QUERIES

EVAL_NAMESPACE = "eval"
TOP = 10
KEPT_TOP = 5


@dataclass(frozen=True)
class EvalOptions:
    min_relevance: float = GOOD_MATCH_RELEVANCE
    """The cut the "no good match" figures are measured at."""
    off_topic: Sequence[str] = OFF_TOPIC_QUERIES
    duplicate_threshold: float | None = None
    """None: the namespace's calibrated default."""


@dataclass
class EvalReport:
    images: int
    captions: int
    ingest: IngestReport
    text_to_image: RankFigures
    image_to_text: RankFigures
    duplicates: PairFigures | None
    duplicate_threshold: float | None
    off_topic_no_good_match: float
    """Off-topic queries answered "no good match" (1 - the false-positive rate)."""
    on_topic_no_good_match: float
    """Captions answered "no good match" (the false-negative rate)."""
    on_topic_top5_kept: float
    """Relevant images in the captions' top 5 still there after the min_relevance cut."""
    min_relevance: float
    missed_off_topic: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "captions": self.captions,
            "skipped_images": self.ingest.skipped + self.ingest.failed,
            "text_to_image": self.text_to_image.to_dict(),
            "image_to_text": self.image_to_text.to_dict(),
            "duplicates": None if self.duplicates is None else self.duplicates.to_dict(),
            "duplicate_threshold": self.duplicate_threshold,
            "no_good_match": {
                "min_relevance": self.min_relevance,
                "off_topic_queries": self.off_topic_queries,
                "off_topic_answered_no_good_match": round(self.off_topic_no_good_match, 4),
                "false_positive_rate": round(1.0 - self.off_topic_no_good_match, 4),
                "false_negative_rate": round(self.on_topic_no_good_match, 4),
                "on_topic_top5_kept": round(self.on_topic_top5_kept, 4),
                "missed_off_topic": self.missed_off_topic,
            },
        }

    off_topic_queries: int = 0


def run_eval(
    captions: CaptionSet,
    embedder: Embedder,
    store: VectorStore,
    options: EvalOptions | None = None,
    on_step: Callable[[str], None] | None = None,
) -> EvalReport:
    options = options or EvalOptions()
    tell = on_step or (lambda _: None)
    if not captions.images:
        raise InvalidInputError("the captions file names no images")
    tell(f"ingesting {len(captions.images)} images")
    ingest = _ingest(store, embedder, captions)
    ids = {image: derive_image_id(os.path.realpath(image)) for image in captions.images}
    stored = set(store.get_content_hashes(EVAL_NAMESPACE, list(ids.values())))
    present = [image for image in captions.images if ids[image] in stored]
    if not present:
        raise InvalidInputError("none of the captions file's images could be read")
    service = SearchService(store, embedders=EmbedderCache())
    service.embedders.remember(embedder)
    info = store.get_namespace(EVAL_NAMESPACE)
    service.calibrations.refresh(info, embedder)
    texts = [
        text
        for text in captions.caption_texts
        if captions.images_described_by()[text] & set(present)
    ]
    tell(f"text to image: {len(texts)} captions")
    text_ranks, kept, flagged = _text_to_image(service, captions, ids, texts, options)
    tell("image to text")
    image_ranks = _image_to_text(store, embedder, captions, ids, present, texts)
    duplicates, threshold = None, None
    if captions.groups:
        tell("duplicates")
        found = find_duplicates(
            store,
            EVAL_NAMESPACE,
            DuplicateOptions(threshold=options.duplicate_threshold, limit=10**6),
        )
        threshold = found.threshold
        by_id = {ids[image]: image for image in present}
        true_pairs = {pair for pair in captions.duplicate_pairs() if pair <= set(present)}
        found_pairs = set()
        for group in found.groups:
            members = [by_id[m.id] for m in (group.keeper, *group.members) if m.id in by_id]
            found_pairs |= {
                frozenset((a, b)) for i, a in enumerate(members) for b in members[i + 1 :]
            }
        duplicates = pair_figures(true_pairs, found_pairs)  # type: ignore[arg-type]
    tell(f"off-topic: {len(options.off_topic)} queries")
    cut = RankingOptions(min_relevance=options.min_relevance)
    missed = [
        query
        for query in options.off_topic
        if not service.search_text(
            query, namespace=EVAL_NAMESPACE, limit=TOP, ranking=cut
        ).no_good_match
    ]
    off_topic_rate = 1.0 - len(missed) / len(options.off_topic) if options.off_topic else 1.0
    return EvalReport(
        images=len(present),
        captions=len(texts),
        ingest=ingest,
        text_to_image=rank_figures(text_ranks),
        image_to_text=rank_figures(image_ranks),
        duplicates=duplicates,
        duplicate_threshold=threshold,
        off_topic_no_good_match=off_topic_rate,
        on_topic_no_good_match=flagged / len(texts) if texts else 0.0,
        on_topic_top5_kept=kept,
        min_relevance=options.min_relevance,
        missed_off_topic=missed,
        off_topic_queries=len(options.off_topic),
    )


def _ingest(store: VectorStore, embedder: Embedder, captions: CaptionSet) -> IngestReport:
    with tempfile.TemporaryDirectory(prefix="same-same-eval-") as folder:
        listing = Path(folder) / "images.txt"
        lines = ['"' + os.fspath(image).replace('"', '""') + '"' for image in captions.images]
        listing.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
        return run_ingest(
            store,
            embedder,
            open_source(f"image-list:{listing}"),
            IngestOptions(namespace=EVAL_NAMESPACE),
        )


def _text_to_image(
    service: SearchService,
    captions: CaptionSet,
    ids: dict[Path, str],
    texts: list[str],
    options: EvalOptions,
) -> tuple[list[int | None], float, int]:
    described = captions.images_described_by()
    cut = RankingOptions(min_relevance=options.min_relevance)
    ranks: list[int | None] = []
    hits = kept = flagged = 0
    for text in texts:
        relevant = {ids[image] for image in described[text]}
        result = service.search_text(text, namespace=EVAL_NAMESPACE, limit=TOP)
        ranked = [match.id for match in result.matches]
        ranks.append(first_relevant_rank(ranked, relevant))  # type: ignore[arg-type]
        cut_result = service.search_text(text, namespace=EVAL_NAMESPACE, limit=TOP, ranking=cut)
        flagged += cut_result.no_good_match
        survivors = {match.id for match in cut_result.matches[:KEPT_TOP]}
        top = [record_id for record_id in ranked[:KEPT_TOP] if record_id in relevant]
        hits += len(top)
        kept += sum(1 for record_id in top if record_id in survivors)
    return ranks, (kept / hits if hits else 1.0), flagged


def _image_to_text(
    store: VectorStore,
    embedder: Embedder,
    captions: CaptionSet,
    ids: dict[Path, str],
    present: list[Path],
    texts: list[str],
) -> list[int | None]:
    text_vectors = np.asarray(embedder.embed_texts(texts), dtype=np.float32)
    index = {text: position for position, text in enumerate(texts)}
    ranks: list[int | None] = []
    for image in present:
        _, record = store.get(ids[image], EVAL_NAMESPACE)
        scores = text_vectors @ np.asarray(record.vector, dtype=np.float32)
        order = np.argsort(-scores, kind="stable")
        relevant = {index[text] for text in captions.captions[image] if text in index}
        ranks.append(first_relevant_rank(order.tolist(), relevant))  # type: ignore[arg-type]
    return ranks


__all__ = ["EVAL_NAMESPACE", "EvalOptions", "EvalReport", "run_eval"]
