"""What the API answers, as typed dataclasses; each keeps the JSON it came from in ``raw``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Hit:
    """One search result. ``relevance``: calibrated 0..1, where the namespace has a
    calibration; ``keyword_rank`` and ``recency_score`` only in the modes that make them."""

    id: str
    score: float
    namespace: str
    metadata: dict[str, Any]
    text: str | None = None
    relevance: float | None = None
    keyword_rank: int | None = None
    recency_score: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Hit:
        return cls(
            id=str(data["id"]),
            score=float(data["score"]),
            namespace=str(data["namespace"]),
            metadata=dict(data.get("metadata") or {}),
            text=data.get("text"),
            relevance=_optional_float(data.get("relevance")),
            keyword_rank=data.get("keyword_rank"),
            recency_score=_optional_float(data.get("recency_score")),
            raw=data,
        )


@dataclass(frozen=True)
class SearchResults:
    """A search's answer; iterating it gives the hits, best first."""

    hits: list[Hit]
    total: int
    namespaces: list[str]
    took_ms: float
    mode: str | None
    no_good_match: bool
    best_score: float | None
    best_relevance: float | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def ids(self) -> list[str]:
        return [hit.id for hit in self.hits]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchResults:
        return cls(
            hits=[Hit.from_json(item) for item in data["results"]],
            total=int(data["total"]),
            namespaces=list(data.get("namespaces") or []),
            took_ms=float(data.get("took_ms") or 0.0),
            mode=data.get("mode"),
            no_good_match=bool(data.get("no_good_match")),
            best_score=_optional_float(data.get("best_score")),
            best_relevance=_optional_float(data.get("best_relevance")),
            raw=data,
        )


@dataclass(frozen=True)
class VectorRecord:
    """A stored record; ``embedding`` is None when it was not asked for."""

    id: str
    namespace: str
    metadata: dict[str, Any]
    text: str | None = None
    embedding: list[float] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VectorRecord:
        embedding = data.get("embedding")
        return cls(
            id=str(data["id"]),
            namespace=str(data["namespace"]),
            metadata=dict(data.get("metadata") or {}),
            text=data.get("text"),
            embedding=None if embedding is None else [float(x) for x in embedding],
            raw=data,
        )


@dataclass(frozen=True)
class VectorPage:
    """One page of ``list_vectors``; ``next_offset`` is None on the last."""

    vectors: list[VectorRecord]
    total: int
    offset: int
    limit: int
    next_offset: int | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VectorPage:
        return cls(
            vectors=[VectorRecord.from_json(item) for item in data["vectors"]],
            total=int(data["total"]),
            offset=int(data["offset"]),
            limit=int(data["limit"]),
            next_offset=data.get("next_offset"),
            raw=data,
        )


@dataclass(frozen=True)
class Deleted:
    """What a delete removed: a record's id and its namespace."""

    id: str
    namespace: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deleted:
        return cls(id=str(data["deleted"]), namespace=str(data["namespace"]), raw=data)


@dataclass(frozen=True)
class Space:
    """The embedding space of a namespace: which model made its vectors."""

    embedder: str | None
    model: str | None
    pretrained: str | None
    dim: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Space:
        return cls(
            embedder=data.get("embedder"),
            model=data.get("model"),
            pretrained=data.get("pretrained"),
            dim=int(data["dim"]),
        )


@dataclass(frozen=True)
class Namespace:
    name: str
    count: int
    space: Space
    writers: list[str]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Namespace:
        return cls(
            name=str(data["name"]),
            count=int(data["count"]),
            space=Space.from_json(data["space"]),
            writers=list(data.get("writers") or []),
            raw=data,
        )


@dataclass(frozen=True)
class DuplicateMember:
    """A record of a group; ``score``: its cosine to the keeper; ``exact``: same bytes."""

    id: str
    score: float
    exact: bool
    metadata: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DuplicateMember:
        return cls(
            id=str(data["id"]),
            score=float(data["score"]),
            exact=bool(data["exact"]),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(frozen=True)
class DuplicateGroup:
    keeper: DuplicateMember
    members: list[DuplicateMember]

    @property
    def size(self) -> int:
        return 1 + len(self.members)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DuplicateGroup:
        return cls(
            keeper=DuplicateMember.from_json(data["keeper"]),
            members=[DuplicateMember.from_json(item) for item in data["members"]],
        )


@dataclass(frozen=True)
class DuplicateReport:
    namespace: str
    threshold: float
    default_threshold: bool
    scanned: int
    total_groups: int
    groups: list[DuplicateGroup]
    took_ms: float
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DuplicateReport:
        return cls(
            namespace=str(data["namespace"]),
            threshold=float(data["threshold"]),
            default_threshold=bool(data["default_threshold"]),
            scanned=int(data["scanned"]),
            total_groups=int(data["total_groups"]),
            groups=[DuplicateGroup.from_json(item) for item in data["groups"]],
            took_ms=float(data["took_ms"]),
            raw=data,
        )


@dataclass(frozen=True)
class Health:
    status: str
    version: str
    vectors: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Health:
        return cls(
            status=str(data["status"]),
            version=str(data["version"]),
            vectors=int(data["vectors"]),
            raw=data,
        )
