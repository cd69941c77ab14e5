"""Searching the store: by text, by raw vector, by a stored record, by an image.

The CLI and the HTTP routes both call :class:`SearchService`; they only parse
input and format the :class:`SearchResult`. Which namespaces a query searches is
``search_scope``'s; how results are ranked and cut, ``ranking``'s (text queries
rank by vector, by keyword or by both fused, ``fusion``); what their scores mean,
``relevance``'s: every result carries its calibrated relevance where its namespace
has a model, and every answer says whether it holds a good match at all.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .embedder_cache import EmbedderCache, has_registered_embedder
from .embedders import EmbedderOptions, is_image_embedder
from .embedders.hashing import STOPWORDS
from .errors import InvalidInputError, UnsupportedModalityError
from .fusion import fuse_ranks
from .hybrid import HybridWeights, candidate_pool_size, parse_hybrid_weights, rerank_hybrid
from .ordering import blend_recency, sort_matches
from .ranking import RankingOptions, SearchMode, coerce_ranking
from .records import EmbeddingSpace, Match, NamespaceInfo
from .relevance import Calibration, Calibrations, QueryKind, judge_matches
from .search_scope import resolve_scope
from .storage import Filters, VectorStore
from .validation import (
    check_embedded,
    check_filters,
    check_limit,
    check_query_text,
    coerce_vector,
    require_namespace,
)

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

DEFAULT_LIMIT = 10
Ranking = RankingOptions | Mapping[str, Any] | None
SearchKind = Literal["text", "image", "vector", "record"]
"""What a search was asked with: words, an image, a raw vector, a stored record's id."""


@dataclass(frozen=True)
class SearchResult:
    matches: list[Match]
    namespaces: list[str]
    space: EmbeddingSpace
    took_ms: float = 0.0
    mode: SearchMode = "vector"
    no_good_match: bool = False
    """No result is unlikely for an unrelated query (``relevance.judgement``)."""
    best_score: float | None = None
    """The best cosine score found, before any cut-off."""
    best_relevance: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [match.to_dict() for match in self.matches],
            "total": len(self.matches),
            "namespaces": self.namespaces,
            "took_ms": round(self.took_ms, 3),
            "mode": self.mode,
            "no_good_match": self.no_good_match,
            "best_score": self.best_score,
            "best_relevance": self.best_relevance,
        }


class SearchObserver(Protocol):
    """Told of each search answered (the server's ``/metrics`` times them)."""

    def observe_search(self, kind: SearchKind, result: SearchResult) -> None: ...


def keyword_query(text: str) -> str:
    """The words of ``text`` worth looking up: "a", "of", "the" match every caption."""
    return " ".join(word for word in text.split() if word.casefold() not in STOPWORDS)


def decode_image(data: bytes) -> Image.Image:
    """Bytes of a query image file to an upright RGB image, decoded no bigger than a search needs.

    ImageDecodeError (a 400) when bad; TooManyPixelsError (a 400) past
    ``imaging.query.QUERY_MAX_PIXELS``, far below what ingest allows.
    """
    from .imaging.query import decode_query_image

    return decode_query_image(bytes(data))


def _pool_size(limit: int, options: RankingOptions) -> int:
    """Candidates to ask the store for: more where recency may lift older-ranked ones."""
    return candidate_pool_size(limit) if options.recency is not None else limit


class SearchService:
    """Search a store; keeps each space's embedder, recent query vectors and calibrations."""

    def __init__(
        self,
        store: VectorStore,
        embedder_options: EmbedderOptions | None = None,
        embedders: EmbedderCache | None = None,
        observer: SearchObserver | None = None,
    ) -> None:
        self.store = store
        self.embedders = embedders or EmbedderCache(embedder_options)
        self.observer = observer
        self.calibrations = Calibrations(store, self.embedders)

    # -- searches -----------------------------------------------------------

    def search_text(
        self,
        text: str,
        namespace: str | None = None,
        limit: int = DEFAULT_LIMIT,
        filters: Filters | None = None,
        hybrid: HybridWeights | Mapping[str, Any] | None = None,
        exact: bool | None = None,
        ranking: Ranking = None,
    ) -> SearchResult:
        """Embed ``text`` with the namespace's own model; rank by ``ranking.mode``.

        ``hybrid``: ``options.hybrid_weight`` (also accepted inside ``ranking``).
        ``exact``: passed to the store (True: no approximate index).
        """
        started = time.perf_counter()
        text = check_query_text(text)
        limit = check_limit(limit)
        filters = check_filters(filters)
        options = coerce_ranking(ranking)
        if hybrid is not None and options.hybrid is None:
            weights = hybrid if isinstance(hybrid, HybridWeights) else parse_hybrid_weights(hybrid)
            options = replace(options, hybrid=weights)
        infos = resolve_scope(
            self.store, namespace, accepts=has_registered_embedder, query_kind="text query"
        )
        names, space = [info.name for info in infos], infos[0].space
        vector = check_embedded(self.embedders.embed_query(space, text), "the query text")
        calibrations = self._calibrations(infos, options, make=True)
        pool = _pool_size(limit, options)
        matches = self._rank_text(text, names, vector, pool, filters, exact, options)
        result = self._result(matches, infos, calibrations, "text", options, started, limit)
        return self._observed("text", result)

    def _rank_text(
        self,
        text: str,
        names: list[str],
        vector: np.ndarray,
        limit: int,
        filters: Filters | None,
        exact: bool | None,
        options: RankingOptions,
    ) -> list[Match]:
        weights = options.hybrid
        if options.mode == "keyword":
            found = self.store.keyword_search(
                names, keyword_query(text), limit=limit, filters=filters, vector=vector
            )
            return [replace(match, keyword_rank=rank) for rank, match in enumerate(found, 1)]
        if options.mode == "hybrid":
            pool = candidate_pool_size(limit)
            by_vector = self.store.search(names, vector, limit=pool, filters=filters, exact=exact)
            by_words = self.store.keyword_search(
                names, keyword_query(text), limit=pool, filters=filters, vector=vector
            )
            return fuse_ranks(by_vector, by_words, options.rrf_k, limit, weights)
        if weights is None or weights.keyword == 0:
            return self.store.search(names, vector, limit=limit, filters=filters, exact=exact)
        pool_matches = self.store.search(
            names, vector, limit=candidate_pool_size(limit), filters=filters, exact=exact
        )
        return rerank_hybrid(text, pool_matches, weights, limit)

    def search_vector(
        self,
        vector: Any,
        namespace: str | None = None,
        limit: int = DEFAULT_LIMIT,
        filters: Filters | None = None,
        exclude_ids: Sequence[str] = (),
        exact: bool | None = None,
        ranking: Ranking = None,
    ) -> SearchResult:
        """Rank by cosine similarity to a raw vector.

        Without a namespace, the namespaces whose dimension equals the vector's.
        Relevance comes from the namespaces' stored calibrations (a vector search
        loads no model), unless ``min_relevance`` asks for it.
        """
        started = time.perf_counter()
        query = coerce_vector(vector)
        limit = check_limit(limit)
        filters = check_filters(filters)
        options = coerce_ranking(ranking).check_vector_only("vector")
        dim = int(query.shape[0])

        def explain_no_dim(infos: list[NamespaceInfo]) -> InvalidInputError:
            dims = sorted({info.space.dim for info in infos})
            return InvalidInputError(
                f"no namespace holds vectors of dim {dim}; "
                f"existing dims: {', '.join(str(d) for d in dims)}"
            )

        infos = resolve_scope(
            self.store,
            namespace,
            accepts=lambda candidate: candidate.dim == dim,
            query_kind=f"vector of dim {dim}",
            explain_none=explain_no_dim,
        )
        if infos[0].space.dim != dim:
            raise InvalidInputError(
                f"namespace {infos[0].name!r} holds vectors of dim {infos[0].space.dim}; "
                f"the query vector has {dim} values"
            )
        calibrations = self._calibrations(infos, options, make=False)
        matches = self.store.search(
            [info.name for info in infos],
            query,
            limit=_pool_size(limit, options),
            filters=filters,
            exclude_ids=exclude_ids,
            exact=exact,
        )
        result = self._result(matches, infos, calibrations, "image", options, started, limit)
        return self._observed("vector", result)

    def search_similar(
        self,
        record_id: str,
        namespace: str | None = None,
        limit: int = DEFAULT_LIMIT,
        filters: Filters | None = None,
        ranking: Ranking = None,
    ) -> SearchResult:
        """More like a stored record (image-to-image by id); the record itself is left out.

        With a namespace, the record is looked up and its neighbours searched there;
        without one, the record is looked up anywhere and every namespace of its
        space is searched.
        """
        started = time.perf_counter()
        if not isinstance(record_id, str) or not record_id:
            raise InvalidInputError("the record id must be a non-empty string")
        limit = check_limit(limit)
        filters = check_filters(filters)
        options = coerce_ranking(ranking).check_vector_only("record id")
        # a named namespace first: a clear error listing the namespaces
        named = require_namespace(self.store, namespace) if namespace is not None else None
        home, record = self.store.get(record_id, namespace)
        if named is not None:
            infos = [named]
        else:
            space = require_namespace(self.store, home).space
            infos = [info for info in self.store.list_namespaces() if info.space == space]
        calibrations = self._calibrations(infos, options, make=False)
        matches = self.store.search(
            [info.name for info in infos],
            record.vector,
            limit=_pool_size(limit, options),
            filters=filters,
            exclude_ids=[record_id],
        )
        result = self._result(matches, infos, calibrations, "image", options, started, limit)
        return self._observed("record", result)

    def search_image(
        self,
        image: bytes | Image.Image,
        namespace: str | None = None,
        limit: int = DEFAULT_LIMIT,
        filters: Filters | None = None,
        ranking: Ranking = None,
    ) -> SearchResult:
        """Embed an image (bytes of a file, or a PIL image) with the namespace's model."""
        started = time.perf_counter()
        limit = check_limit(limit)
        filters = check_filters(filters)
        options = coerce_ranking(ranking).check_vector_only("image")
        picture = decode_image(image) if isinstance(image, (bytes, bytearray)) else image
        infos = resolve_scope(
            self.store, namespace, accepts=self._can_embed_images, query_kind="image query"
        )
        embedder = self.embedders.get(infos[0].space)
        if not is_image_embedder(embedder):
            raise UnsupportedModalityError(
                f"embedder {embedder.name!r} embeds text only", hint="use -e clip for images"
            )
        vector = embedder.embed_image(picture)
        calibrations = self._calibrations(infos, options, make=True)
        matches = self.store.search(
            [info.name for info in infos], vector, limit=_pool_size(limit, options), filters=filters
        )
        result = self._result(matches, infos, calibrations, "image", options, started, limit)
        return self._observed("image", result)

    # -- helpers ------------------------------------------------------------

    def _observed(self, kind: SearchKind, result: SearchResult) -> SearchResult:
        if self.observer is not None:
            self.observer.observe_search(kind, result)
        return result

    def _can_embed_images(self, space: EmbeddingSpace) -> bool:
        return has_registered_embedder(space) and is_image_embedder(self.embedders.get(space))

    def _calibrations(
        self, infos: list[NamespaceInfo], options: RankingOptions, make: bool
    ) -> dict[str, Calibration | None]:
        """Each namespace's calibration: made now where ``make`` (the model is loaded
        anyway) or where ``min_relevance`` needs one; else as stored."""
        found: dict[str, Calibration | None] = {}
        wanted = make or options.min_relevance is not None
        for info in infos:
            found[info.name] = (
                self.calibrations.current(info) if wanted else self.calibrations.stored(info)
            )
        if options.min_relevance is not None:
            missing = [info.name for info in infos if info.count and found[info.name] is None]
            if missing:  # an empty namespace answers nothing, so it needs none
                raise InvalidInputError(
                    f"namespace {missing[0]!r} has no relevance calibration: it holds raw "
                    "vectors, and no model is known to ask it the calibration's queries",
                    hint="use min_score (raw cosine) for it",
                )
        return found

    @staticmethod
    def _result(
        matches: list[Match],
        infos: list[NamespaceInfo],
        calibrations: Mapping[str, Calibration | None],
        kind: QueryKind,
        options: RankingOptions,
        started: float,
        limit: int,
    ) -> SearchResult:
        judged = judge_matches(matches, calibrations, kind, options)
        kept = judged.matches
        if options.recency is not None:
            kept = blend_recency(kept, options.recency)[:limit]
        if options.sort is not None:
            kept = sort_matches(kept, options.sort)
        return SearchResult(
            matches=kept,
            namespaces=[info.name for info in infos],
            space=infos[0].space,
            took_ms=(time.perf_counter() - started) * 1000.0,
            mode=options.mode,
            no_good_match=judged.no_good_match,
            best_score=judged.best_score,
            best_relevance=judged.best_relevance,
        )
