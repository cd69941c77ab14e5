"""The namespace catalog: which namespaces exist, their embedding space and collection.

A namespace's row keeps its space as JSON, with the names of the backends that
wrote its vectors under ``writers`` and its notes under ``notes`` beside the
space's fields.

Every read of the catalog asks Milvus (at the store's consistency level), so a
namespace another process creates or deletes is seen at once. ``remembered``
entries let a search start before the catalog answers; the search then checks the
fresh answer (see ``MilvusStore.search``).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from ...records import EmbeddingSpace
from .layout import (
    CATALOG_FIELDS,
    KEY,
    PLACEHOLDER,
    VECTOR,
    catalog_index,
    catalog_name,
    catalog_schema,
    data_collection_name,
    in_list,
    literal,
    namespace_uid,
)
from .location import MilvusLocation


@dataclass(frozen=True)
class Entry:
    """One namespace: ``uid`` prefixes its records' keys in ``collection``."""

    uid: str
    name: str
    space: EmbeddingSpace
    collection: str
    writers: tuple[str, ...] = ()
    notes: str = "{}"
    """The namespace's notes (``VectorStore.read_note``), as one JSON object's text."""


class Catalog:
    def __init__(self, client: Any, pymilvus: Any, location: MilvusLocation) -> None:
        self._client = client
        self._location = location
        self.name = catalog_name(location)
        self._remembered: dict[str, Entry] = {}
        self._lock = threading.Lock()
        index = catalog_index(client)
        if not client.has_collection(self.name, timeout=location.timeout):
            create_collection(client, self.name, catalog_schema(pymilvus), index, location)
        load(client, self.name, index, location)

    def entry_for(self, name: str, space: EmbeddingSpace) -> Entry:
        return Entry(
            namespace_uid(self._location.scope, name),
            name,
            space,
            data_collection_name(self._location, space),
        )

    def find(self, name: str) -> Entry | None:
        found = self.find_many([name])
        return found.get(name)

    def find_many(self, names: list[str]) -> dict[str, Entry]:
        uids = [namespace_uid(self._location.scope, name) for name in names]
        rows = self._query(in_list(KEY, uids))
        found = {entry.name: entry for entry in map(_entry, rows) if entry.name in names}
        with self._lock:
            for name in names:
                if name in found:
                    self._remembered[name] = found[name]
                else:
                    self._remembered.pop(name, None)
        return found

    def remembered(self, names: list[str]) -> dict[str, Entry] | None:
        """The entries last seen for ``names``, or None unless every one was seen."""
        with self._lock:
            if all(name in self._remembered for name in names):
                return {name: self._remembered[name] for name in names}
        return None

    def all(self) -> list[Entry]:
        rows = self._query(f"scope == {literal(self._location.scope)}")
        return sorted(map(_entry, rows), key=lambda entry: entry.name)

    def add(self, entry: Entry) -> None:
        row = {
            KEY: entry.uid,
            "scope": self._location.scope,
            "name": entry.name,
            "space": json.dumps(
                {
                    **entry.space.to_dict(),
                    "writers": list(entry.writers),
                    "notes": json.loads(entry.notes),
                }
            ),
            "collection": entry.collection,
            VECTOR: PLACEHOLDER,
        }
        self._client.upsert(self.name, [row], timeout=self._location.timeout)
        with self._lock:
            self._remembered[entry.name] = entry

    def remove(self, entry: Entry) -> None:
        self._client.delete(self.name, ids=[entry.uid], timeout=self._location.timeout)
        with self._lock:
            self._remembered.pop(entry.name, None)

    def _query(self, expression: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._client.query(
            self.name,
            filter=expression,
            output_fields=CATALOG_FIELDS,
            limit=16_384,
            consistency_level=self._location.consistency,
            timeout=self._location.timeout,
        )
        return rows


def create_collection(
    client: Any, name: str, schema: Any, index: Any, location: MilvusLocation
) -> None:
    """Create and load ``name``; another process creating it at the same time is fine."""
    try:
        client.create_collection(
            name,
            schema=schema,
            index_params=index,
            consistency_level=location.consistency,
            timeout=location.timeout,
        )
    except Exception:
        if not client.has_collection(name, timeout=location.timeout):
            raise


def load(client: Any, name: str, index: Any, location: MilvusLocation) -> None:
    """Make sure ``name`` is indexed and loaded: a crash (or another process still
    creating it) may have left it created but without its index, or not loaded."""
    from pymilvus.client.types import LoadState

    if client.get_load_state(name, timeout=location.timeout).get("state") == LoadState.Loaded:
        return
    if not client.list_indexes(name, timeout=location.timeout):
        client.create_index(name, index, timeout=location.timeout)
    client.load_collection(name, timeout=max(location.timeout, 60))


def _entry(row: dict[str, Any]) -> Entry:
    space = json.loads(row["space"])
    writers = tuple(space.pop("writers", ()))  # rows of older versions have none
    notes = json.dumps(space.pop("notes", {}), sort_keys=True)
    return Entry(
        uid=row[KEY],
        name=row["name"],
        space=EmbeddingSpace(**space),
        collection=row["collection"],
        writers=writers,
        notes=notes,
    )


__all__ = ["Catalog", "Entry", "create_collection", "load"]
