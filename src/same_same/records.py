"""The data that flows between sources, embedders, the store and the API, and how a
record's identity is derived from its content."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EmbeddingSpace:
    """The identity of a vector space: which model made the vectors.

    Two namespaces are searchable together only when their spaces are equal.
    ``pretrained`` is a tag (``openai``), a hub name or a path to local weights.
    """

    embedder: str
    model: str
    pretrained: str
    dim: int

    def describe(self) -> str:
        tag = f"/{self.pretrained}" if self.pretrained else ""
        return f"{self.embedder}:{self.model}{tag} (dim {self.dim})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "embedder": self.embedder,
            "model": self.model,
            "pretrained": self.pretrained,
            "dim": self.dim,
        }


NAMESPACE_KEY = "namespace"
"""Every record's metadata names its namespace, so a filter can select by it."""


def derive_text_id(text: str) -> str:
    """A stable id for a record whose source gives none: the same text, the same id."""
    return "txt-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


def hash_text(text: str) -> str:
    """The content hash of a text record (unchanged texts are not embedded again)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stamp_namespace(metadata: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """A copy of ``metadata`` naming ``namespace``: every write path stamps it here."""
    return {**metadata, NAMESPACE_KEY: namespace}


@dataclass
class Record:
    """One stored item: a vector plus what a user wants back with it.

    ``content_hash`` identifies the content that produced the vector (the text,
    or the bytes of an image file) so unchanged items are skipped and renamed
    files reuse their vector.

    ``from_image_ingest`` is True only for records the image ingest wrote from a file
    it read and hashed: the API serves files for those alone. No request can set it
    (metadata and hashes can be written through the API, so neither proves where a
    record came from); an update through the API keeps it only while the record's
    vector and content hash stay the ingest's.
    """

    id: str
    vector: np.ndarray
    text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    content_hash: str | None = None
    from_image_ingest: bool = False


@dataclass(frozen=True)
class Match:
    """One search result."""

    id: str
    score: float
    """Cosine similarity to the query."""
    namespace: str
    text: str | None
    metadata: dict[str, Any]
    relevance: float | None = None
    """Calibrated relevance in [0, 1] (``relevance``); None where the namespace has none."""
    keyword_rank: int | None = None
    """Rank in the keyword index's list (keyword and hybrid searches), None if not in it."""
    recency_score: float | None = None
    """``score`` with the photo's age blended in (``options.recency``, see ``ordering``);
    results are ordered by it where it is set."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "score": self.score,
            "namespace": self.namespace,
            "metadata": self.metadata,
        }
        if self.text is not None:
            out["text"] = self.text
        if self.relevance is not None:
            out["relevance"] = self.relevance
        if self.keyword_rank is not None:
            out["keyword_rank"] = self.keyword_rank
        if self.recency_score is not None:
            out["recency_score"] = self.recency_score
        return out


@dataclass(frozen=True)
class NamespaceInfo:
    """A namespace: its space, its size and the backends that wrote its vectors.

    ``writers``: sorted names of what embedded the stored vectors (clip: ``torch``,
    ``onnx``, ``onnx-int8``); empty when nothing said (raw vectors, older versions).
    """

    name: str
    space: EmbeddingSpace
    count: int
    writers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "count": self.count,
            "space": self.space.to_dict(),
            "writers": list(self.writers),
        }
