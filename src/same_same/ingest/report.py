"""What an ingest did, and the exit status it maps to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXIT_OK = 0
"""Every item was stored or already up to date."""
EXIT_NOTHING_DONE = 1
"""A fatal error (missing file, unknown source, model unavailable) or every item was bad."""
EXIT_SOME_SKIPPED = 3
"""Some items were skipped as bad; all others were stored."""


@dataclass
class IngestReport:
    source: str
    namespace: str
    dry_run: bool = False
    seen: int = 0
    stored: int = 0
    unchanged: int = 0
    reused: int = 0
    skipped: int = 0
    failed: int = 0
    """Items read fine whose vector came out unusable (not finite); not stored."""
    pruned: int = 0
    moved: int = 0
    """Records of moved files replaced by the record at the new path (their vector kept)."""
    seconds: float = 0.0
    unit: str = "records"
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        done = self.stored + self.unchanged
        return done / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        bad = self.skipped + self.failed
        if bad == 0:
            return EXIT_OK
        if self.stored + self.unchanged == 0:
            return EXIT_NOTHING_DONE
        return EXIT_SOME_SKIPPED

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "namespace": self.namespace,
            "dry_run": self.dry_run,
            "seen": self.seen,
            "stored": self.stored,
            "unchanged": self.unchanged,
            "reused": self.reused,
            "skipped": self.skipped,
            "failed": self.failed,
            "pruned": self.pruned,
            "moved": self.moved,
            "seconds": round(self.seconds, 3),
            "rate": round(self.rate, 2),
            "unit": self.unit,
        }

    def summary_lines(self) -> list[str]:
        verb = "would store" if self.dry_run else "stored"
        lines = [
            f"{verb} {self.stored} {self.unit} in namespace {self.namespace!r} from {self.source}",
            f"  unchanged {self.unchanged}, reused {self.reused}, skipped {self.skipped}, "
            f"failed {self.failed}, pruned {self.pruned}",
            f"  {self.seconds:.1f}s, {self.rate:.1f} {self.unit}/s",
        ]
        return lines
