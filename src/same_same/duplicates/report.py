"""What ``find_duplicates`` answers: groups of duplicates, each with a keeper."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DuplicateMember:
    """One record of a group. ``score``: its cosine to the group's keeper.

    ``exact``: the same content hash as the keeper (a byte-for-byte copy of the file,
    or the same text); its score is 1.0.
    """

    id: str
    score: float
    exact: bool
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "score": self.score, "exact": self.exact, "metadata": self.metadata}


@dataclass(frozen=True)
class DuplicateGroup:
    """Records that are copies of one another: the suggested keeper and the others, best first."""

    keeper: DuplicateMember
    members: tuple[DuplicateMember, ...]

    @property
    def size(self) -> int:
        return 1 + len(self.members)

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "keeper": self.keeper.to_dict(),
            "members": [member.to_dict() for member in self.members],
        }


@dataclass(frozen=True)
class DuplicateReport:
    """The groups of one namespace, largest first, and how they were found.

    ``total_groups`` counts every group found; ``groups`` holds at most the limit asked.
    ``default_threshold``: whether ``threshold`` is the namespace's default.
    """

    namespace: str
    threshold: float
    default_threshold: bool
    scanned: int
    total_groups: int
    groups: tuple[DuplicateGroup, ...]
    took_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "threshold": self.threshold,
            "default_threshold": self.default_threshold,
            "scanned": self.scanned,
            "total_groups": self.total_groups,
            "groups": [group.to_dict() for group in self.groups],
            "took_ms": self.took_ms,
        }


__all__ = ["DuplicateGroup", "DuplicateMember", "DuplicateReport"]
