"""What a pass changed, told one line per file: added, updated, moved, removed.

Worked out from the records before and after the pass, not from the pipeline's
inner steps: a file whose record is new was added, unless the record of a file that
went away had its content (a move: the new record took its vector); a record whose
content hash changed was updated; a record that went was removed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class ChangeKind(Enum):
    ADDED = "added"
    UPDATED = "updated"
    MOVED = "moved"
    REMOVED = "removed"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    path: str
    """The file as shown (the watched folder as given, joined with its path in it)."""
    old_path: str | None = None
    """Where a moved file was."""

    def __str__(self) -> str:
        if self.kind is ChangeKind.MOVED:
            return f"moved {self.old_path} -> {self.path}"
        return f"{self.kind.value} {self.path}"


@dataclass(frozen=True)
class RecordState:
    """What a pass compares of one record."""

    content_hash: str | None
    path: str


def state_of(metadata: Mapping[str, Any], content_hash: str | None, folder: str) -> RecordState:
    """A record's state; its path shown under ``folder`` as the user gave it."""
    relative = metadata.get("path")
    shown = os.path.join(folder, relative) if isinstance(relative, str) else str(relative)
    return RecordState(content_hash or metadata.get("sha256"), shown)


def describe_changes(
    before: Mapping[str, RecordState], after: Mapping[str, RecordState]
) -> list[Change]:
    """The changes from ``before`` to ``after`` (records by id), in path order."""
    went = {record_id: state for record_id, state in before.items() if record_id not in after}
    went_by_hash: dict[str, list[str]] = {}
    for record_id, state in sorted(went.items(), key=lambda item: item[1].path):
        if state.content_hash:
            went_by_hash.setdefault(state.content_hash, []).append(record_id)
    changes: list[Change] = []
    for record_id, state in sorted(after.items(), key=lambda item: item[1].path):
        earlier = before.get(record_id)
        if earlier is not None and earlier.content_hash == state.content_hash:
            continue
        candidates = went_by_hash.get(state.content_hash or "", [])
        if candidates:
            old = went.pop(candidates.pop(0))
            changes.append(Change(ChangeKind.MOVED, state.path, old.path))
        elif earlier is None:
            changes.append(Change(ChangeKind.ADDED, state.path))
        else:
            changes.append(Change(ChangeKind.UPDATED, state.path))
    changes.extend(Change(ChangeKind.REMOVED, state.path) for state in went.values())
    return sorted(changes, key=lambda change: change.path)
