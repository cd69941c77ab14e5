"""How a request is sent: timeouts, the API key, and retries with exponential backoff.

A request is retried when the server could not be reached (connection refused or
timed out before it was sent) and, when it is safe to send twice, when the
connection broke mid-way or a proxy answered 502/503/504. A read that timed out is
not retried: the server is still working on it. Safe: GET, PUT and DELETE,
and searches (read-only POSTs). A POST that stores something is not sent twice once
the server may have received it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from .errors import ServerUnreachableError, build_error

T = TypeVar("T")

RETRY_STATUSES = frozenset({502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts``: tries in all (1: never retry). The n-th retry waits
    ``backoff_s * 2 ** (n - 1)``, at most ``max_backoff_s``."""

    attempts: int = 4
    backoff_s: float = 0.25
    max_backoff_s: float = 4.0
    statuses: frozenset[int] = RETRY_STATUSES

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("backoff must not be negative")

    def delay_before(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 is the first)."""
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** (retry - 1)))


@dataclass(frozen=True)
class ClientOptions:
    """Everything a client is made with, besides its URL."""

    api_key: str | None = None
    timeout_s: float | None = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    headers: Mapping[str, str] = field(default_factory=dict)

    def all_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", **self.headers}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call, described once for both clients: what to send, how to read the answer.

    ``read_only``: a POST that changes nothing (a search), so it may be sent twice."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    files: Mapping[str, Any] | None = None
    data: Mapping[str, Any] | None = None
    read_only: bool = False

    @property
    def repeatable(self) -> bool:
        return self.read_only or self.method in IDEMPOTENT_METHODS

    def build(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        return http.build_request(
            self.method,
            self.path,
            params={k: v for k, v in (self.params or {}).items() if v is not None},
            json=self.json,
            files=self.files,
            data=self.data,
        )


class Attempts:
    """The retry loop's decisions, shared by the sync and async clients."""

    def __init__(self, call: Call[Any], policy: RetryPolicy) -> None:
        self.call = call
        self.policy = policy
        self.made = 0
        self.last_failure = ""

    def start(self) -> None:
        self.made += 1

    def should_retry_error(self, error: httpx.TransportError) -> bool:
        """After a failed send: whether to try again (False: raise ``failure()``)."""
        self.last_failure = (
            f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        )
        if self.made >= self.policy.attempts:
            return False
        if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            return True  # never sent
        if isinstance(error, httpx.TimeoutException):
            # A slow answer is still being worked on: sending it again adds to the load.
            return False
        return self.call.repeatable  # the connection broke mid-way

    def should_retry_response(self, response: httpx.Response) -> bool:
        return (
            self.made < self.policy.attempts
            and response.status_code in self.policy.statuses
            and self.call.repeatable
        )

    def delay(self) -> float:
        return self.policy.delay_before(self.made)

    def failure(self, base_url: str) -> ServerUnreachableError:
        tries = "once" if self.made == 1 else f"{self.made} times"
        return ServerUnreachableError(
            f"no answer from {base_url} to {self.call.method} {self.call.path} "
            f"(tried {tries}; last: {self.last_failure})",
            attempts=self.made,
            hint="is `same-same serve` running at that address?",
        )


def read_answer(call: Call[T], response: httpx.Response) -> T:
    """The parsed answer, or the server's error raised as the library's exception."""
    if response.is_error:
        try:
            body = response.json()
        except ValueError:
            body = None
        raise build_error(response.status_code, body, response.reason_phrase or "error")
    return call.parse(response)


__all__ = ["Attempts", "Call", "ClientOptions", "RetryPolicy", "read_answer"]
