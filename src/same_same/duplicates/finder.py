"""Find the duplicates in a namespace: byte-identical copies first, then near duplicates.

Exact copies share a content hash (``VectorStore.scan_metadata``). Near duplicates
(a resized, recompressed or slightly cropped copy) are found through the store's own
nearest-neighbour search: the records are paged through with their vectors, and each
one (one per set of exact copies) asks the store for its ``neighbours`` nearest
records; those scoring at least the threshold are linked to it. Linked records form
groups (union-find), so a copy of a copy joins its original's group. That is one
search per record, never a comparison of every pair: a namespace large enough to have
an approximate index (``storage.index_settings``) is searched through the index, a
smaller one by the store's exact scan. Only one page of records is held at a time;
what is kept across pages is the ids that have a copy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError, NamespaceNotFoundError
from ..relevance import NOTE_KEY, Calibration
from ..storage import VectorStore
from ..validation import require_namespace
from .keeper import keeper_key
from .report import DuplicateGroup, DuplicateMember, DuplicateReport

DEFAULT_THRESHOLD = 0.95
"""The cosine above which two records count as copies, until calibration says otherwise."""
DEFAULT_LIMIT = 100
DEFAULT_NEIGHBOURS = 10
MAX_NEIGHBOURS = 100
PAGE_SIZE = 1000
"""Records read per page (with their vectors: 2 MB at 512 dimensions)."""
_METADATA_CHUNK = 500

ProgressCallback = Callable[[int, int], None]
"""Called after each page with (records scanned, records in the namespace)."""


@dataclass(frozen=True)
class DuplicateOptions:
    """``threshold``: the lowest cosine that counts as a copy, in (0, 1]; None: the
    namespace's default (``default_threshold``). ``limit``: most groups returned.
    ``neighbours``: nearest records asked per record; a group larger than this is still
    found whole when its members link up through one another."""

    threshold: float | None = None
    limit: int = DEFAULT_LIMIT
    neighbours: int = DEFAULT_NEIGHBOURS


def default_threshold(store: VectorStore, namespace: str) -> float:
    """The duplicate threshold of ``namespace`` when none is given: the one its relevance
    calibration measured for its embedding space (``relevance.duplicate_threshold``),
    else ``DEFAULT_THRESHOLD`` (raw vectors, a store written before calibration)."""
    calibration = Calibration.from_dict(store.read_note(namespace, NOTE_KEY))
    info = store.get_namespace(namespace)
    if calibration is None or calibration.space != info.space:
        return DEFAULT_THRESHOLD
    measured = calibration.duplicate_threshold
    return DEFAULT_THRESHOLD if measured is None else measured


def check_options(options: DuplicateOptions) -> DuplicateOptions:
    """``options`` unless a value is out of range (InvalidInputError naming it)."""
    threshold = options.threshold
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise InvalidInputError(f"threshold must be a number, got {threshold!r}")
        if not math.isfinite(threshold) or not 0 < threshold <= 1:
            raise InvalidInputError(
                f"threshold must be in (0, 1], got {threshold}",
                hint="a cosine similarity: 0.95 keeps close copies, 0.9 looser ones",
            )
    for name, value, highest in (
        ("limit", options.limit, None),
        ("neighbours", options.neighbours, MAX_NEIGHBOURS),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"{name} must be an integer >= 1, got {value!r}")
        if highest is not None and value > highest:
            raise InvalidInputError(f"{name} must be at most {highest}, got {value}")
    return options


def resolve_namespace(store: VectorStore, namespace: str | None) -> str:
    """``namespace``, or the store's only namespace when none is named."""
    if namespace is not None:
        return namespace
    names = [info.name for info in store.list_namespaces()]
    if len(names) == 1:
        return names[0]
    if not names:
        raise NamespaceNotFoundError(
            "the store has no namespace yet", hint="ingest something first"
        )
    raise InvalidInputError(
        f"say which namespace to look in: {', '.join(names)}",
        hint="-n NAME on the command line, ?namespace=NAME in the API",
    )


def find_duplicates(
    store: VectorStore,
    namespace: str,
    options: DuplicateOptions | None = None,
    progress: ProgressCallback | None = None,
) -> DuplicateReport:
    """Groups of copies in ``namespace``, largest first (then by keeper id).

    Raises InvalidInputError for options out of range, NamespaceNotFoundError for an
    unknown namespace. The keeper of each group follows ``duplicates.keeper``.
    """
    started = time.perf_counter()
    options = check_options(options or DuplicateOptions())
    info = require_namespace(store, namespace)
    given = options.threshold
    threshold = float(given) if given is not None else default_threshold(store, namespace)
    links = UnionFind()
    copies = find_exact_copies(store, namespace)
    for ids in set(copies.values()):
        for other in ids[1:]:
            links.union(ids[0], other)
    scanned = 0
    for page in page_records(store, namespace):
        for record in page:
            scanned += 1
            exact = copies.get(record.id, (record.id,))
            if exact[0] != record.id:
                continue  # its byte-identical copies are searched once, from the first
            matches = store.search(
                [namespace], record.vector, limit=options.neighbours, exclude_ids=exact
            )
            for match in matches:
                if match.score < threshold:
                    break  # best first: the rest score lower still
                links.union(record.id, match.id)
        if progress is not None:
            progress(scanned, max(info.count, scanned))
    components = links.components()
    groups = rank_groups(store, namespace, components, copies, options.limit)
    return DuplicateReport(
        namespace=namespace,
        threshold=threshold,
        default_threshold=given is None,
        scanned=scanned,
        total_groups=len(components),
        groups=tuple(groups),
        took_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def find_exact_copies(store: VectorStore, namespace: str) -> dict[str, tuple[str, ...]]:
    """``id -> the sorted ids sharing its content hash``, for ids that have a copy."""
    by_hash: dict[str, list[str]] = {}
    for record_id, content_hash, _ in store.scan_metadata(namespace):
        if content_hash:
            by_hash.setdefault(content_hash, []).append(record_id)
    copies: dict[str, tuple[str, ...]] = {}
    for ids in by_hash.values():
        if len(ids) > 1:
            group = tuple(sorted(ids))
            copies.update(dict.fromkeys(group, group))
    return copies


def page_records(store: VectorStore, namespace: str) -> Iterable[Sequence[Any]]:
    return store.iter_records(namespace, PAGE_SIZE, with_vectors=True)


def rank_groups(
    store: VectorStore,
    namespace: str,
    components: list[list[str]],
    copies: dict[str, tuple[str, ...]],
    limit: int,
) -> list[DuplicateGroup]:
    """The ``limit`` first groups, each with its keeper and scores to it."""
    metadata = read_metadata(store, namespace, [rid for ids in components for rid in ids])
    keyed = []
    for ids in components:
        keeper = min(ids, key=lambda rid: keeper_key(rid, metadata.get(rid, {})))
        keyed.append((-len(ids), keeper, ids))
    keyed.sort(key=lambda item: (item[0], item[1]))
    groups = []
    for _, keeper, ids in keyed[:limit]:
        vectors = {rid: store.get(rid, namespace)[1].vector for rid in ids}
        same_bytes = set(copies.get(keeper, (keeper,)))
        members = [
            DuplicateMember(
                rid,
                1.0 if rid in same_bytes else cosine(vectors[keeper], vectors[rid]),
                rid in same_bytes,
                metadata.get(rid, {}),
            )
            for rid in ids
            if rid != keeper
        ]
        members.sort(key=lambda member: (-member.score, member.id))
        groups.append(
            DuplicateGroup(
                DuplicateMember(keeper, 1.0, True, metadata.get(keeper, {})), tuple(members)
            )
        )
    return groups


def read_metadata(
    store: VectorStore, namespace: str, ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), _METADATA_CHUNK):
        found.update(store.get_metadata(namespace, ids[start : start + _METADATA_CHUNK]))
    return found


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    denominator = float(np.linalg.norm(a64) * np.linalg.norm(b64))
    if denominator == 0.0:
        return 0.0
    return round(min(1.0, max(-1.0, float(a64 @ b64) / denominator)), 6)


class UnionFind:
    """Disjoint sets of ids, grown by ``union``; only ids ever linked are held."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        parent = self._parent.setdefault(item, item)
        root = item
        while parent != root:
            root, parent = parent, self._parent[parent]
        while item != root:  # path compression
            self._parent[item], item = root, self._parent[item]
        return root

    def union(self, a: str, b: str) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self._parent[max(root_a, root_b)] = min(root_a, root_b)

    def components(self) -> list[list[str]]:
        """Every set of two or more ids, each sorted."""
        sets: dict[str, list[str]] = {}
        for item in self._parent:
            sets.setdefault(self.find(item), []).append(item)
        return [sorted(ids) for ids in sets.values() if len(ids) > 1]


__all__ = [
    "DEFAULT_THRESHOLD",
    "DuplicateOptions",
    "check_options",
    "default_threshold",
    "find_duplicates",
    "resolve_namespace",
]
