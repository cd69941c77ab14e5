"""``Client``: the REST API from Python, one blocking call per route.

from same_same.client import Client

with Client("http://127.0.0.1:8080", api_key="...") as client:
    for hit in client.search("a dog on a beach", limit=5):
        print(hit.score, hit.id)
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
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


class Client:
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.options = ClientOptions(
            api_key=api_key,
            timeout_s=timeout_s,
            retry=retry or RetryPolicy(),
            headers=dict(headers or {}),
        )
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=self.options.all_headers(),
            timeout=timeout_s,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(self, call: Call[T]) -> T:
        """Send one call, retrying as the policy allows; the answer parsed, or the
        server's error raised as the library's exception."""
        attempts = Attempts(call, self.options.retry)
        while True:
            attempts.start()
            try:
                response = self._http.send(call.build(self._http))
            except httpx.TransportError as error:
                if not attempts.should_retry_error(error):
                    raise attempts.failure(self.base_url) from error
            else:
                if not attempts.should_retry_response(response):
                    return read_answer(call, response)
            time.sleep(attempts.delay())

    # -- search ---------------------------------------------------------------

    def search(
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
        return self.send(
            calls.search_text(
                text, namespace=namespace, limit=limit, filters=filters, mode=mode,
                min_score=min_score, min_relevance=min_relevance, sort=sort, exact=exact,
                options=options,
            )
        )  # fmt: skip

    def search_vector(
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
        return self.send(
            calls.search_vector(
                embedding, namespace=namespace, limit=limit, filters=filters,
                exclude_ids=exclude_ids, min_score=min_score, min_relevance=min_relevance,
                sort=sort, exact=exact,
            )
        )  # fmt: skip

    def search_image(
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
        return self.send(
            calls.search_image(
                image, namespace=namespace, limit=limit, filters=filters,
                min_score=min_score, min_relevance=min_relevance, sort=sort,
            )
        )  # fmt: skip

    def search_similar(
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
        return self.send(
            calls.search_similar(
                record_id, namespace=namespace, limit=limit, filters=filters,
                min_score=min_score, min_relevance=min_relevance, sort=sort,
            )
        )  # fmt: skip

    # -- vectors --------------------------------------------------------------

    def add_vector(
        self,
        embedding: Sequence[float],
        *,
        id: str | None = None,
        namespace: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        text: str | None = None,
    ) -> VectorRecord:
        """Store a vector (normalised by the server); an existing id is replaced."""
        return self.send(
            calls.add_vector(embedding, id=id, namespace=namespace, metadata=metadata, text=text)
        )

    def embed_text(
        self,
        text: str,
        *,
        id: str | None = None,
        namespace: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> VectorRecord:
        """Embed ``text`` with the namespace's model and store it."""
        return self.send(calls.embed_text(text, id=id, namespace=namespace, metadata=metadata))

    def get_vector(
        self, record_id: str, *, namespace: str | None = None, include_embedding: bool = True
    ) -> VectorRecord:
        return self.send(
            calls.get_vector(record_id, namespace=namespace, include_embedding=include_embedding)
        )

    def update_vector(
        self,
        record_id: str,
        *,
        namespace: str | None = None,
        embedding: Sequence[float] | None = None,
        metadata: Mapping[str, Any] | None = None,
        text: str | None = None,
    ) -> VectorRecord:
        """Change a record; ``metadata`` replaces the old metadata whole."""
        return self.send(
            calls.update_vector(
                record_id, namespace=namespace, embedding=embedding, metadata=metadata, text=text
            )
        )

    def delete_vector(self, record_id: str, *, namespace: str | None = None) -> Deleted:
        return self.send(calls.delete_vector(record_id, namespace=namespace))

    def count(self, namespace: str | None = None) -> int:
        """Vectors in one namespace, or in all of them."""
        return self.send(calls.count_vectors(namespace))

    def list_vectors(
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
        return self.send(
            calls.list_vectors(
                namespace=namespace, offset=offset, limit=limit,
                include_embedding=include_embedding, filters=filters, sort=sort,
            )
        )  # fmt: skip

    def iter_vectors(
        self,
        *,
        namespace: str | None = None,
        page_size: int = 100,
        include_embedding: bool = False,
        filters: Filters | None = None,
        sort: str | None = None,
    ) -> Iterator[VectorRecord]:
        """Every record, page after page (following ``next_offset``)."""
        offset: int | None = 0
        while offset is not None:
            page = self.list_vectors(
                namespace=namespace, offset=offset, limit=page_size,
                include_embedding=include_embedding, filters=filters, sort=sort,
            )  # fmt: skip
            yield from page.vectors
            offset = page.next_offset

    # -- namespaces, duplicates, media, health ----------------------------------

    def list_namespaces(self) -> list[Namespace]:
        return self.send(calls.list_namespaces())

    def get_namespace(self, name: str) -> Namespace:
        """One namespace; NamespaceNotFoundError when there is none of that name."""
        return calls.pick_namespace(self.list_namespaces(), name)

    def delete_namespace(self, name: str) -> str:
        """Delete a namespace and every record in it; returns its name."""
        return self.send(calls.delete_namespace(name))

    def find_duplicates(
        self,
        *,
        namespace: str | None = None,
        threshold: float | None = None,
        limit: int | None = None,
        neighbours: int | None = None,
    ) -> DuplicateReport:
        """Groups of copies in one namespace, each with the record to keep."""
        return self.send(
            calls.find_duplicates(
                namespace=namespace, threshold=threshold, limit=limit, neighbours=neighbours
            )
        )

    def get_image(self, record_id: str, *, namespace: str | None = None) -> bytes:
        """The bytes of an image record's file."""
        return self.send(calls.get_image(record_id, namespace=namespace))

    def get_thumbnail(
        self, record_id: str, *, size: int | None = None, namespace: str | None = None
    ) -> bytes:
        """A JPEG of an image record, at most ``size`` pixels on its longest edge."""
        return self.send(calls.get_thumbnail(record_id, size=size, namespace=namespace))

    def health(self) -> Health:
        return self.send(calls.get_health())
