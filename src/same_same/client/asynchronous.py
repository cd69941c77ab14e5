"""``AsyncClient``: ``Client``'s methods as coroutines, for asyncio programs and notebooks.

async with AsyncClient("http://127.0.0.1:8080") as client:
    results = await client.search("a dog on a beach", limit=5)
    async for record in client.iter_vectors(namespace="photos"):
        ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from . import calls
from .calls import Filters, ImageInput, Mode, SearchOptions
from .results import (
    Deleted,
    DuplicateReport,
    Health,
    Namespace,
    SearchResults,
    VectorPage,
    VectorRecord,
)
from .transport import Attempts, Call, ClientOptions, RetryPolicy, read_answer

T = TypeVar("T")


class AsyncClient:
    """A same-same server at ``base_url``. ``timeout_s``: per request (None: wait forever);
    ``retry``: how connection failures and 502/503/504 answers are retried."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        api_key: str | None = None,
        timeout_s: float | None = 30.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.options = ClientOptions(
            api_key=api_key,
            timeout_s=timeout_s,
            retry=retry or RetryPolicy(),
            headers=dict(headers or {}),
        )
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=self.options.all_headers(),
            timeout=timeout_s,
            transport=transport,
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        """Send one call, retrying as the policy allows; the answer parsed, or the
        server's error raised as the library's exception."""
        attempts = Attempts(call, self.options.retry)
        while True:
            attempts.start()
            try:
                response = await self._http.send(call.build(self._http))
            except httpx.TransportError as error:
                if not attempts.should_retry_error(error):
                    raise attempts.failure(self.base_url) from error
            else:
                if not attempts.should_retry_response(response):
                    return read_answer(call, response)
            await asyncio.sleep(attempts.delay())

    # -- search ---------------------------------------------------------------

    async def search(
        self,
        text: str,
        *,
        namespace: str | None = None,
        limit: int | None = None,
        filters: Filters | None = None,
        mode: Mode | None = None,
        min_score: float | None = None,
        min_relevance: float | None = None,
        sort: str | None = None,
        exact: bool | None = None,
        options: SearchOptions | None = None,
    ) -> SearchResults:
        """Search by text; without a namespace, every namespace of the query's space."""
        return await self.send(
            calls.search_text(
                text, namespace=namespace, limit=limit, filters=filters, mode=mode,
                min_score=min_score, min_relevance=min_relevance, sort=sort, exact=exact,
                options=options,
            )
        )  # fmt: skip

    async def search_vector(
        self,
        embedding: Sequence[float],
        *,
        namespace: str | None = None,
        limit: int | None = None,
        filters: Filters | None = None,
        exclude_ids: Sequence[str] = (),
        min_score: float | None = None,
        min_relevance: float | None = None,
        sort: str | None = None,
        exact: bool | None = None,
    ) -> SearchResults:
        """Rank stored vectors by cosine similarity to ``embedding``."""
        return await self.send(
            calls.search_vector(
                embedding, namespace=namespace, limit=limit, filters=filters,
                exclude_ids=exclude_ids, min_score=min_score, min_relevance=min_relevance,
                sort=sort, exact=exact,
            )
        )  # fmt: skip

    async def search_image(
        self,
        image: ImageInput,
        *,
        namespace: str | None = None,
        limit: int | None = None,
        filters: Filters | None = None,
        min_score: float | None = None,
        min_relevance: float | None = None,
        sort: str | None = None,
    ) -> SearchResults:
        """Search by an image: a file's path, its bytes or a binary file (uploaded)."""
        return await self.send(
            calls.search_image(
                image, namespace=namespace, limit=limit, filters=filters,
                min_score=min_score, min_relevance=min_relevance, sort=sort,
            )
        )  # fmt: skip

    async def search_similar(
        self,
        record_id: str,
        *,
        namespace: str | None = None,
        limit: int | None = None,
        filters: Filters | None = None,
        min_score: float | None = None,
        min_relevance: float | None = None,
        sort: str | None = None,
    ) -> SearchResults:
        """More like a stored record (the record itself is left out)."""
        return await self.send(
            calls.search_similar(
                record_id, namespace=namespace, limit=limit, filters=filters,
                min_score=min_score, min_relevance=min_relevance, sort=sort,
            )
        )  # fmt: skip

    # -- vectors --------------------------------------------------------------

    async def add_vector(
        self,
        embedding: Sequence[float],
        *,
        id: str | None = None,
        namespace: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        text: str | None = None,
    ) -> VectorRecord:
        """Store a vector (normalised by the server); an existing id is replaced."""
        return await self.send(
            calls.add_vector(embedding, id=id, namespace=namespace, metadata=metadata, text=text)
        )

    async def embed_text(
        self,
        text: str,
        *,
        id: str | None = None,
        namespace: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> VectorRecord:
        """Embed ``text`` with the namespace's model and store it."""
        return await self.send(
            calls.embed_text(text, id=id, namespace=namespace, metadata=metadata)
        )

    async def get_vector(
        self, record_id: str, *, namespace: str | None = None, include_embedding: bool = True
    ) -> VectorRecord:
        return await self.send(
            calls.get_vector(record_id, namespace=namespace, include_embedding=include_embedding)
        )

    async def update_vector(
        self,
        record_id: str,
        *,
        namespace: str | None = None,
        embedding: Sequence[float] | None = None,
        metadata: Mapping[str, Any] | None = None,
        text: str | None = None,
    ) -> VectorRecord:
        """Change a record; ``metadata`` replaces the old metadata whole."""
        return await self.send(
            calls.update_vector(
                record_id, namespace=namespace, embedding=embedding, metadata=metadata, text=text
            )
        )

    async def delete_vector(self, record_id: str, *, namespace: str | None = None) -> Deleted:
        return await self.send(calls.delete_vector(record_id, namespace=namespace))

    async def count(self, namespace: str | None = None) -> int:
        """Vectors in one namespace, or in all of them."""
        return await self.send(calls.count_vectors(namespace))

    async def list_vectors(
        self,
        *,
        namespace: str | None = None,
        offset: int = 0,
        limit: int = 100,
        include_embedding: bool = False,
        filters: Filters | None = None,
        sort: str | None = None,
    ) -> VectorPage:
        """One page of records; ``iter_vectors`` follows the pages for you."""
        return await self.send(
            calls.list_vectors(
                namespace=namespace, offset=offset, limit=limit,
                include_embedding=include_embedding, filters=filters, sort=sort,
            )
        )  # fmt: skip

    async def iter_vectors(
        self,
        *,
        namespace: str | None = None,
        page_size: int = 100,
        include_embedding: bool = False,
        filters: Filters | None = None,
        sort: str | None = None,
    ) -> AsyncIterator[VectorRecord]:
        """Every record, page after page (following ``next_offset``)."""
        offset: int | None = 0
        while offset is not None:
            page = await self.list_vectors(
                namespace=namespace, offset=offset, limit=page_size,
                include_embedding=include_embedding, filters=filters, sort=sort,
            )  # fmt: skip
            for record in page.vectors:
                yield record
            offset = page.next_offset

    # -- namespaces, duplicates, media, health ----------------------------------

    async def list_namespaces(self) -> list[Namespace]:
        return await self.send(calls.list_namespaces())

    async def get_namespace(self, name: str) -> Namespace:
        """One namespace; NamespaceNotFoundError when there is none of that name."""
        return calls.pick_namespace(await self.list_namespaces(), name)

    async def delete_namespace(self, name: str) -> str:
        """Delete a namespace and every record in it; returns its name."""
        return await self.send(calls.delete_namespace(name))

    async def find_duplicates(
        self,
        *,
        namespace: str | None = None,
        threshold: float | None = None,
        limit: int | None = None,
        neighbours: int | None = None,
    ) -> DuplicateReport:
        """Groups of copies in one namespace, each with the record to keep."""
        return await self.send(
            calls.find_duplicates(
                namespace=namespace, threshold=threshold, limit=limit, neighbours=neighbours
            )
        )

    async def get_image(self, record_id: str, *, namespace: str | None = None) -> bytes:
        """The bytes of an image record's file."""
        return await self.send(calls.get_image(record_id, namespace=namespace))

    async def get_thumbnail(
        self, record_id: str, *, size: int | None = None, namespace: str | None = None
    ) -> bytes:
        """A JPEG of an image record, at most ``size`` pixels on its longest edge."""
        return await self.send(calls.get_thumbnail(record_id, size=size, namespace=namespace))

    async def health(self) -> Health:
        return await self.send(calls.get_health())
