"""The source interface: where items to ingest come from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Modality = Literal["text", "image"]


@dataclass(frozen=True)
class SourceOptions:
    """Flags of ``same-same ingest`` that sources read."""

    text_col: str | None = None
    id_col: str | None = None
    meta_cols: tuple[str, ...] = ()
    recursive: bool = True


@dataclass
class SourceItem:
    """One item to embed: a text, or an image file.

    ``location`` names it in messages (``data.csv line 12``, ``beach/sunset.jpg``).
    ``id`` is the stable id when the source knows one; otherwise the pipeline
    derives it from the content.
    """

    location: str
    id: str | None = None
    text: str | None = None
    path: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BadItem:
    """An item the source could not read; reported with its reason and skipped."""

    location: str
    reason: str


class Source(ABC):
    """Yields items in a stable order. Opening checks the source exists (SourceError)."""

    #: what the items hold
    modality: Modality = "text"

    @abstractmethod
    def items(self) -> Iterator[SourceItem | BadItem]:
        """The items, in a stable order."""

    def count_hint(self) -> int | None:
        """How many items to expect, when cheap to know (for the progress bar)."""
        return None

    @abstractmethod
    def describe(self) -> str:
        """A short human name: ``demo``, ``csv:data.csv``, ``images:./photos``."""
