"""Searching the store: by text, by raw vector, by a stored record, by an image.

The CLI and the HTTP routes both call :class:`SearchService`; they only parse
input and format the :class:`SearchResult`.

Which namespaces a query searches: an explicit namespace is searched alone;
otherwise every namespace of the one embedding space the query can be compared
with. When namespaces of several spaces qualify, the request must name one
(:class:`~same_same.errors.AmbiguousSpaceError` lists them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .embedder_cache import EmbedderCache, has_registered_embedder
from .embedders import EmbedderOptions, is_image_embedder
from .errors import AmbiguousSpaceError, InvalidInputError, NotFoundError, UnsupportedModalityError
from .hybrid import HybridWeights, candidate_pool_size, parse_hybrid_weights, rerank_hybrid
from .records import EmbeddingSpace, Match, NamespaceInfo
from .storage import Filters, VectorStore
from .validation import (
    check_embedded,
    check_filters,
    check_limit,
    check_query_text,
    coerce_vector,
    namespace_not_found,
    require_namespace,
)

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_LIMIT = 10


@dataclass(frozen=True)
class SearchResult:
    matches: list[Match]
    namespaces: list[str]
    space: EmbeddingSpace
    took_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [match.to_dict() for match in self.matches],
            "total": len(self.matches),
            "namespaces": self.namespaces,
            "took_ms": round(self.took_ms, 3),
        }


def decode_image(data: bytes) -> Image.Image:
    """Bytes of a query image file to an upright RGB image, decoded no bigger than a search needs.

    ImageDecodeError (a 400) when bad; TooManyPixelsError (a 400) past
    ``imaging.query.QUERY_MAX_PIXELS``, far below what ingest allows.
    """
    from .imaging.query import decode_query_image

    return decode_query_image(bytes(data))


def _describe_namespaces(infos: Sequence[NamespaceInfo]) -> str:
    return ", ".join(f"{info.name} ({info.space.describe()})" for info in infos)


class SearchService:
    """Search a store; keeps each space's embedder and recent query vectors for reuse."""

    def __init__(
        self,
        store: VectorStore,
        embedder_options: EmbedderOptions | None = None,
        embedders: EmbedderCache | None = None,
    ) -> None:
        self.store = store
        self.embedders = embedders or EmbedderCache(embedder_options)

    # -- namespaces ---------------------------------------------------------

    def resolve_namespaces(
        self,
        namespace: str | None,
        *,
        accepts: Callable[[EmbeddingSpace], bool] = lambda space: True,
        query_kind: str = "query",
        explain_none: Callable[[list[NamespaceInfo]], InvalidInputError] | None = None,
    ) -> tuple[list[str], EmbeddingSpace]:
        """The namespaces to search and their common space.

        ``accepts`` says which spaces the query can be compared with; it is not
        applied to an explicitly named namespace (the embedder says what it cannot do).
        """
        if namespace is not None:  # one lookup, not a listing (a remote store pays per call)
            found = self.store.find_namespace(namespace)
            if found is not None:
                return [found.name], found.space
        infos = self.store.list_namespaces()
        if not infos:
            raise NotFoundError(
                "nothing to search: the store has no namespaces yet",
                hint="ingest something first, e.g. `same-same ingest demo`, "
                "or add vectors with POST /api/v1/vectors",
            )
        if namespace is not None:
            raise namespace_not_found(namespace, infos)
        candidates = [info for info in infos if accepts(info.space)]
        # An empty namespace answers nothing, so it never makes a query ambiguous.
        candidates = [info for info in candidates if info.count > 0] or candidates[:1]
        if not candidates:
            if explain_none is not None:
                raise explain_none(infos)
            raise InvalidInputError(
                f"no namespace can answer a {query_kind}; existing: {_describe_namespaces(infos)}",
                hint="namespaces filled with raw vectors are searched by vector",
            )
        spaces = list(dict.fromkeys(info.space for info in candidates))
        if len(spaces) > 1:
            raise AmbiguousSpaceError(
                f"namespaces of {len(spaces)} embedding spaces could answer this {query_kind}: "
                f"{_describe_namespaces(candidates)}",
                hint="say which namespace to search",
            )
        return [info.name for info in candidates], spaces[0]

    # -- searches -----------------------------------------------------------

    def search_text(
        self,
        text: str,
        namespace: str | None = None,
        limit: int = DEFAULT_LIMIT,
        filters: Filters | None = None,
        hybrid: HybridWeights | Mapping[str, Any] | None = None,
        exact: bool | None = None,
    ) -> SearchResult:
        """Embed ``text`` with the namespace's own model and rank by cosine (or hybrid).

        ``exact``: passed to the store (True: no approximate index).
        """
        started = time.perf_counter()
        text = check_query_text(text)
        limit = check_limit(limit)
        filters = check_filters(filters)
        weights = hybrid if isinstance(hybrid, HybridWeights) else parse_hybrid_weights(hybrid)
        namespaces, space = self.resolve_namespaces(
            namespace, accepts=has_registered_embedder, query_kind="text query"
        )
        vector = check_embedded(self.embedders.embed_query(space, text), "the query text")
        if weights is None or weights.keyword == 0:
            matches = self.store.search(
                namespaces, vector, limit=limit, filters=filters, exact=exact
            )
        else:
            pool = self.store.search(
                namespaces, vector, limit=candidate_pool_size(limit), filters=filters, exact=exact
            )
            matches = rerank_hybrid(text, pool, weights, limit)
        return self._result(matches, namespaces, space, started)

    def search_vector(
        self,
        vector: Any,
        namespace: str | None = None,
        limit: int = DEFAULT_LIMIT,
        filters: Filters | None = None,
        exclude_ids: Sequence[str] = (),
        exact: bool | None = None,
    ) -> SearchResult:
        """Rank by cosine similarity to a raw vector.

        Without a namespace, the namespaces whose dimension equals the vector's.
        """
        started = time.perf_counter()
        query = coerce_vector(vector)
        limit = check_limit(limit)
        filters = check_filters(filters)
        dim = int(query.shape[0])

        def explain_no_dim(infos: list[NamespaceInfo]) -> InvalidInputError:
            dims = sorted({info.space.dim for info in infos})
            return InvalidInputError(
                f"no namespace holds vectors of dim {dim}; "
                f"existing dims: {', '.join(str(d) for d in dims)}"
            )

        namespaces, space = self.resolve_namespaces(
            namespace,
            accepts=lambda candidate: candidate.dim == dim,
            query_kind=f"vector of dim {dim}",
            explain_none=explain_no_dim,
        )
        if space.dim != dim:
            raise InvalidInputError(
                f"namespace {namespaces[0]!r} holds vectors of dim {space.dim}; "
                f"the query vector has {dim} values"
            )
        matches = self.store.search(
            namespaces, query, limit=limit, filters=filters, exclude_ids=exclude_ids, exact=exact
        )
        return self._result(matches, namespaces, space, started)

    def search_similar(
        self,
        record_id: str,
        namespace: str | None = None,
        limit: int = DEFAULT_LIMIT,
        filters: Filters | None = None,
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
        if namespace is not None:
            require_namespace(self.store, namespace)  # a clear error listing the namespaces
        home, record = self.store.get(record_id, namespace)
        space = require_namespace(self.store, home).space
        if namespace is not None:
            namespaces = [namespace]
        else:
            namespaces = [info.name for info in self.store.list_namespaces() if info.space == space]
        matches = self.store.search(
            namespaces, record.vector, limit=limit, filters=filters, exclude_ids=[record_id]
        )
        return self._result(matches, namespaces, space, started)

    def search_image(
        self,
        image: bytes | Image.Image,
        namespace: str | None = None,
        limit: int = DEFAULT_LIMIT,
        filters: Filters | None = None,
    ) -> SearchResult:
        """Embed an image (bytes of a file, or a PIL image) with the namespace's model."""
        started = time.perf_counter()
        limit = check_limit(limit)
        filters = check_filters(filters)
        picture = decode_image(image) if isinstance(image, (bytes, bytearray)) else image
        namespaces, space = self.resolve_namespaces(
            namespace, accepts=self._can_embed_images, query_kind="image query"
        )
        embedder = self.embedders.get(space)
        if not is_image_embedder(embedder):
            raise UnsupportedModalityError(
                f"embedder {embedder.name!r} embeds text only", hint="use -e clip for images"
            )
        vector = embedder.embed_image(picture)
        matches = self.store.search(namespaces, vector, limit=limit, filters=filters)
        return self._result(matches, namespaces, space, started)

    # -- helpers ------------------------------------------------------------

    def _can_embed_images(self, space: EmbeddingSpace) -> bool:
        return has_registered_embedder(space) and is_image_embedder(self.embedders.get(space))

    @staticmethod
    def _result(
        matches: list[Match], namespaces: list[str], space: EmbeddingSpace, started: float
    ) -> SearchResult:
        took_ms = (time.perf_counter() - started) * 1000.0
        return SearchResult(matches=matches, namespaces=namespaces, space=space, took_ms=took_ms)
