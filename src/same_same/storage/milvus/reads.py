"""Reads at the store's consistency level: one query, a count, every row page by page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .layout import KEY, NS, in_list, literal
from .location import MilvusLocation

PAGE = 4_096
"""Rows per query page (Milvus caps a query's offset + limit at 16,384)."""
CHUNK = 1_000
"""Keys per ``in [...]`` expression."""


def query(
    client: Any,
    location: MilvusLocation,
    collection: str,
    expression: str,
    fields: list[str],
    limit: int | None = PAGE,
) -> list[dict[str, Any]]:
    """Rows of ``collection`` where ``expression`` holds (``limit=None``: no limit, as a
    ``count(*)`` needs)."""
    kwargs: dict[str, Any] = {} if limit is None else {"limit": limit}
    rows: list[dict[str, Any]] = client.query(
        collection,
        filter=expression,
        output_fields=fields,
        consistency_level=location.consistency,
        timeout=location.timeout,
        **kwargs,
    )
    return rows


def by_keys(
    client: Any, location: MilvusLocation, collection: str, keys: list[str], fields: list[str]
) -> list[dict[str, Any]]:
    """The rows of ``collection`` whose primary key is one of ``keys``, ``CHUNK`` at a time."""
    rows: list[dict[str, Any]] = []
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        rows.extend(query(client, location, collection, in_list(KEY, chunk), fields))
    return rows


def count(client: Any, location: MilvusLocation, collection: str, expression: str) -> int:
    rows = query(client, location, collection, expression, ["count(*)"], limit=None)
    return int(rows[0]["count(*)"]) if rows else 0


@dataclass(frozen=True)
class KeyPage:
    """``offset`` keys skipped, ``limit`` kept, of those after key ``after`` (when set)."""

    offset: int
    limit: int
    after: str | None = None


def page_keys(
    client: Any, location: MilvusLocation, collection: str, uid: str, page: KeyPage
) -> list[str]:
    """The keys of one page of namespace ``uid``, in key order. A cursor (``after``) starts
    the scan there; an offset is scanned through."""
    keys: list[str] = []
    offset = page.offset
    scan = pages(client, location, collection, uid, [KEY], page.after) if page.limit else ()
    for rows in scan:
        skip = min(offset, len(rows))
        offset -= skip
        keys.extend(row[KEY] for row in rows[skip:])
        if len(keys) >= page.limit:
            break
    return keys[: page.limit]


def pages(
    client: Any,
    location: MilvusLocation,
    collection: str,
    uid: str,
    fields: list[str],
    after: str | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Every row of namespace ``uid`` (after key ``after``), in key order, a page at a time
    (Milvus returns a limited query's rows in primary-key order; each page continues after
    the last)."""
    scope = f"{NS} == {literal(uid)}"
    wanted = fields if KEY in fields else [KEY, *fields]
    while True:
        expression = scope if after is None else f"{scope} and {KEY} > {literal(after)}"
        page = sorted(
            query(client, location, collection, expression, wanted), key=lambda row: row[KEY]
        )
        if page:
            yield page
            after = page[-1][KEY]
        if len(page) < PAGE:
            return


__all__ = ["CHUNK", "PAGE", "KeyPage", "by_keys", "count", "page_keys", "pages", "query"]
