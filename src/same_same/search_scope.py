"""Which namespaces a query searches.

An explicit namespace is searched alone; otherwise every namespace of the one
embedding space the query can be compared with. When namespaces of several spaces
qualify, the request must name one (:class:`~same_same.errors.AmbiguousSpaceError`
lists them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .errors import AmbiguousSpaceError, InvalidInputError, NotFoundError
from .records import EmbeddingSpace, NamespaceInfo
from .storage import VectorStore
from .validation import namespace_not_found


def describe_namespaces(infos: Sequence[NamespaceInfo]) -> str:
    return ", ".join(f"{info.name} ({info.space.describe()})" for info in infos)


def resolve_scope(
    store: VectorStore,
    namespace: str | None,
    *,
    accepts: Callable[[EmbeddingSpace], bool] = lambda space: True,
    query_kind: str = "query",
    explain_none: Callable[[list[NamespaceInfo]], InvalidInputError] | None = None,
) -> list[NamespaceInfo]:
    """The namespaces to search (one space between them).

    ``accepts`` says which spaces the query can be compared with; it is not
    applied to an explicitly named namespace (the embedder says what it cannot do).
    """
    if namespace is not None:  # one lookup, not a listing (a remote store pays per call)
        found = store.find_namespace(namespace)
        if found is not None:
            return [found]
    infos = store.list_namespaces()
    if not infos:
        raise NotFoundError(
            "nothing to search: the store has no namespaces yet",
            hint="ingest something first, e.g. `same-same ingest demo`, "
            "or add vectors with POST /api/v1/vectors",
        )
    if namespace is not None:
        raise namespace_not_found(namespace, infos)
    candidates = [info for info in infos if accepts(info.space)]
    # An empty namespace answers nothing, so it never makes a query ambiguous.
    candidates = [info for info in candidates if info.count > 0] or candidates[:1]
    if not candidates:
        if explain_none is not None:
            raise explain_none(infos)
        raise InvalidInputError(
            f"no namespace can answer a {query_kind}; existing: {describe_namespaces(infos)}",
            hint="namespaces filled with raw vectors are searched by vector",
        )
    spaces = list(dict.fromkeys(info.space for info in candidates))
    if len(spaces) > 1:
        raise AmbiguousSpaceError(
            f"namespaces of {len(spaces)} embedding spaces could answer this {query_kind}: "
            f"{describe_namespaces(candidates)}",
            hint="say which namespace to search",
        )
    return candidates


__all__ = ["describe_namespaces", "resolve_scope"]
