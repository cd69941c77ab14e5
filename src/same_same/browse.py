"""Browsing without a query: the records of some namespaces that match a filter, in a
field's order (``"sort": "-taken_at"``: a photo library, newest first).

A page is made from one pass over the namespaces' metadata (``scan_metadata``, which
every store has): the matches are filtered with ``FilterSet.matches``, ordered by
``ordering.sort_items`` (by namespace, then id, without a sort), and only the page's
records are read whole. The cost of a page grows with the namespaces' size (about a
second per hundred thousand records on SQLite), not with the offset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .filters import FilterSet
from .ordering import SortOrder, sort_items
from .records import NamespaceInfo, Record
from .storage import VectorStore


@dataclass(frozen=True)
class BrowseEntry:
    namespace: str
    record_id: str
    metadata: dict[str, Any]


def browse_records(
    store: VectorStore,
    infos: Sequence[NamespaceInfo],
    filters: FilterSet,
    order: SortOrder | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[str, Record]], int]:
    """``([(namespace, record), ...], total)``: the page at ``offset`` and how many match."""
    entries = [
        BrowseEntry(info.name, record_id, metadata)
        for info in infos
        for record_id, _, metadata in store.scan_metadata(info.name)
        if filters.matches(metadata)
    ]
    entries.sort(key=lambda entry: (entry.namespace, entry.record_id))
    if order is not None:
        entries = sort_items(
            entries,
            order,
            lambda entry: entry.metadata,
            lambda entry: (entry.record_id, entry.namespace),
        )
    page = entries[offset : offset + limit]
    return [store.get(entry.record_id, entry.namespace) for entry in page], len(entries)


__all__ = ["browse_records"]
