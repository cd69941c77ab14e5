"""Request bodies, as pydantic models: they type-check input and document the API at /docs.

Types are strict (``"5"`` is not a limit, ``true`` is not a number); the library
checks meaning (ranges, dimensions, finite values) and raises typed errors.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from ..errors import InvalidInputError
from ..ordering import MAX_RECENCY_DAYS
from ..ranking import MAX_RRF_K, RankingOptions, parse_ranking
from ..search import DEFAULT_LIMIT
from ..validation import MAX_LIMIT

Limit = StrictInt
EXACT_DESCRIPTION = (
    "true: exact search even where an approximate index answers (slower on large "
    "namespaces). Default: the store chooses."
)
Vector = list[StrictFloat]


def pick_synonym(body: BaseModel, name: str, synonym: str) -> Any:
    """The value of ``name`` or of its synonym; giving both is an error."""
    value, other = getattr(body, name), getattr(body, synonym)
    if value is not None and other is not None:
        raise InvalidInputError(f"give {name!r} or {synonym!r}, not both")
    return value if value is not None else other


def pick_limit(body: BaseModel) -> int:
    limit = pick_synonym(body, "limit", "top_k")
    return DEFAULT_LIMIT if limit is None else int(limit)


class SearchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hybrid_weight: dict[str, StrictFloat] | None = Field(
        None,
        description='Blend cosine with keyword overlap: {"vector": 0.8, "metadata": 0.2} '
        '("keyword" is a synonym of "metadata"). Weights are normalised to sum to 1. '
        "In hybrid mode they weigh the vector and keyword lists of the rank fusion.",
    )
    rrf_k: StrictInt | None = Field(
        None, ge=1, le=MAX_RRF_K, description="Reciprocal rank fusion's k (hybrid mode, 60)."
    )
    recency: StrictFloat | None = Field(
        None,
        gt=0,
        le=MAX_RECENCY_DAYS,
        description="Half-life in days on when a photo was taken (taken_ts): results are "
        "ordered by recency_score = score * 0.5 ** (age_days / recency); undated records last.",
    )


class Cutoffs(BaseModel):
    """The cut-offs every search route takes."""

    min_score: StrictFloat | None = Field(
        None, ge=-1, le=1, description="Drop results whose cosine score is lower."
    )
    min_relevance: StrictFloat | None = Field(
        None,
        ge=0,
        le=1,
        description="Drop results whose calibrated relevance is lower; a query with no "
        'result above it answers {"results": [], "no_good_match": true}.',
    )
    sort: StrictStr | None = Field(
        None,
        description='Show the results in a field\'s order: "taken_at" (oldest first) or '
        '"-taken_at" (newest first); records without the field last.',
    )

    def ranking(
        self, mode: str | None = None, options: SearchOptions | None = None
    ) -> RankingOptions:
        return parse_ranking(
            mode=mode,
            rrf_k=options.rrf_k if options else None,
            hybrid_weight=options.hybrid_weight if options else None,
            min_score=self.min_score,
            min_relevance=self.min_relevance,
            recency=options.recency if options else None,
            sort=self.sort,
        )


class SearchRequest(Cutoffs):
    """``{"text", "limit", "namespace"}`` or ``{"query", "top_k", "filters", "options"}``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "a sunset over the ocean", "limit": 5},
                {
                    "query": "time and space",
                    "top_k": 5,
                    "filters": {"author": {"eq": "Einstein"}},
                    "options": {"hybrid_weight": {"vector": 0.7, "metadata": 0.3}},
                },
                {"text": "scene-00010.jpg", "mode": "hybrid", "min_relevance": 0.9},
            ]
        },
    )

    text: StrictStr | None = Field(None, description="What to search for.")
    query: StrictStr | None = Field(None, description="Synonym of text.")
    limit: Limit | None = Field(None, ge=1, le=MAX_LIMIT, description="Results (default 10).")
    top_k: Limit | None = Field(None, ge=1, le=MAX_LIMIT, description="Synonym of limit.")
    namespace: StrictStr | None = Field(
        None, description="Default: every namespace of the query's embedding space."
    )
    filters: dict[str, Any] | None = Field(
        None, description='Metadata filters, e.g. {"year": {"gte": 1900}, "type": "image"}.'
    )
    options: SearchOptions | None = None
    mode: Literal["vector", "keyword", "hybrid"] | None = Field(
        None,
        description="vector (default): by meaning; keyword: by the words of record text, "
        "labels, file names, paths and metadata; hybrid: both, fused by reciprocal rank.",
    )
    exact: StrictBool | None = Field(None, description=EXACT_DESCRIPTION)

    def query_text(self) -> str:
        text = pick_synonym(self, "text", "query")
        if text is None:
            raise InvalidInputError('give the text to search for: {"text": "..."}')
        return str(text)


class ImageSearchRequest(Cutoffs):
    """The JSON form of an image search: a base64 image, or the id of a stored record."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"id": "photos/beach/sunset.jpg", "limit": 5}]},
    )

    image: StrictStr | None = Field(
        None, description="Image file bytes, base64 (a data: URL is accepted)."
    )
    id: StrictStr | None = Field(None, description="Search with a stored record's vector.")
    limit: Limit | None = Field(None, ge=1, le=MAX_LIMIT)
    top_k: Limit | None = Field(None, ge=1, le=MAX_LIMIT)
    namespace: StrictStr | None = None
    filters: dict[str, Any] | None = None


class VectorSearchRequest(Cutoffs):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"embedding": [0.1, 0.2, 0.3], "limit": 5}]},
    )

    embedding: Vector = Field(description="The query vector.")
    limit: Limit | None = Field(None, ge=1, le=MAX_LIMIT)
    top_k: Limit | None = Field(None, ge=1, le=MAX_LIMIT)
    namespace: StrictStr | None = Field(
        None, description="Default: the namespaces whose dimension equals the vector's."
    )
    filters: dict[str, Any] | None = None
    exclude_ids: list[StrictStr] = Field(default_factory=list, description="Ids to leave out.")
    exact: StrictBool | None = Field(None, description=EXACT_DESCRIPTION)


class VectorCreateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"id": "v1", "embedding": [0.1, 0.2, 0.3], "metadata": {"tag": "a"}}]
        },
    )

    id: StrictStr | None = Field(None, description="Default: a random id.")
    embedding: Vector
    metadata: dict[str, Any] | None = None
    text: StrictStr | None = None
    namespace: StrictStr | None = Field(None, description="Default: 'default'.")


class VectorUpdateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    embedding: Vector | None = None
    metadata: dict[str, Any] | None = Field(None, description="Replaces the metadata whole.")
    text: StrictStr | None = Field(
        None, description="A new text is embedded again when the namespace has a model."
    )


class EmbedRequest(BaseModel):
    """Fields other than text, id, namespace and metadata are stored as metadata."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"text": "Time is relative", "author": "Einstein"}]},
    )

    text: StrictStr
    id: StrictStr | None = None
    namespace: StrictStr | None = Field(
        None, description="Default: 'default'; a new namespace uses the local embedder."
    )
    metadata: dict[str, Any] | None = None

    def all_metadata(self) -> dict[str, Any]:
        return {**(self.model_extra or {}), **(self.metadata or {})}
