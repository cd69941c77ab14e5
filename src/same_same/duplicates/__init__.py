"""Near-duplicate groups: "find my duplicate photos".

``find_duplicates(store, namespace, DuplicateOptions(threshold=0.95))`` returns a
``DuplicateReport``: groups of byte-identical and near-identical records, each with a
suggested keeper (``keeper``'s rule) and every other member's cosine to it.
"""

from __future__ import annotations

from .finder import (
    DEFAULT_THRESHOLD,
    DuplicateOptions,
    ProgressCallback,
    check_options,
    default_threshold,
    find_duplicates,
    resolve_namespace,
)
from .keeper import keeper_key
from .report import DuplicateGroup, DuplicateMember, DuplicateReport

__all__ = [
    "DEFAULT_THRESHOLD",
    "DuplicateGroup",
    "DuplicateMember",
    "DuplicateOptions",
    "DuplicateReport",
    "ProgressCallback",
    "check_options",
    "default_threshold",
    "find_duplicates",
    "keeper_key",
    "resolve_namespace",
]
