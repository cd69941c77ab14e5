"""The data that flows between sources, embedders, the store and the API."""

from __future__ import annotations

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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbeddingSpace:
        return cls(
            embedder=str(data["embedder"]),
            model=str(data["model"]),
            pretrained=str(data.get("pretrained") or ""),
            dim=int(data["dim"]),
        )


@dataclass
class Record:
    """One stored item: a vector plus what a user wants back with it.

    ``content_hash`` identifies the content that produced the vector (the text,
    or the bytes of an image file) so unchanged items are skipped and renamed
    files reuse their vector.
    """

    id: str
    vector: np.ndarray
    text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    content_hash: str | None = None


@dataclass(frozen=True)
class Match:
    """One search result."""

    id: str
    score: float
    namespace: str
    text: str | None
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "score": self.score,
            "namespace": self.namespace,
            "metadata": self.metadata,
        }
        if self.text is not None:
            out["text"] = self.text
        return out


@dataclass(frozen=True)
class NamespaceInfo:
    name: str
    space: EmbeddingSpace
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "count": self.count, "space": self.space.to_dict()}
