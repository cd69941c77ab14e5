"""Where the server runs store searches: on the event loop while they are quick.

Handing a search to a thread costs more than the search. With eight clients on an
embedded store, eight of anyio's threads waited in turn for the store's one cache
lock and for the interpreter: 3.0-3.5 ms of server CPU per vector search at 50k
vectors, against 2.0 ms run on the event loop itself (bench/README.md, "Many
clients"). But a search is not always quick: the first one may load a namespace's
index, and one after another process wrote may first insert its rows. On the loop,
such a search would stall every other request, ``/health`` included.

So a store whose searches run in this process (``VectorStore.search_threads`` is 1:
they take one lock anyway) is searched on the loop while searches are quick, and
on a thread of the runner's own otherwise: the first search, every search after one
that took longer than ``INLINE_BUDGET_S``, and any search while one is still running
on the thread (it holds the store's lock; waiting for it on the loop would stall
the loop). A write holding the store's lock can still hold up one search on the
loop; that search then takes long, and the next ones go to the thread. A store that
waits on a server (Milvus) says how many searches overlap usefully, and they always
run on that many threads.

Only store-bound searches come here. Text and image queries, which may load a model
for seconds, stay in the shared pool.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

INLINE_BUDGET_S = 0.02
"""A search that took longer sends the next one to a thread; one quicker, back to the loop."""


class SearchRunner:
    """Runs store searches for the server's event loop (see the module's docstring)."""

    def __init__(
        self,
        threads: int,
        inline_budget_s: float = INLINE_BUDGET_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.threads = max(1, threads)
        self.inline_allowed = self.threads == 1
        self.inline_budget_s = inline_budget_s
        self._clock = clock
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="same-same-search")
        self._last_s = float("inf")  # unknown until the first search: not on the loop
        self._in_thread = 0
        self.inline_runs = 0
        self.thread_runs = 0

    async def run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``call(*args, **kwargs)``, on the loop or on one of the runner's threads."""
        if self.inline_allowed and self._in_thread == 0 and self._last_s <= self.inline_budget_s:
            self.inline_runs += 1
            return self._timed(call, *args, **kwargs)
        self.thread_runs += 1
        self._in_thread += 1
        try:
            loop = asyncio.get_running_loop()
            timed = functools.partial(self._timed, call, *args, **kwargs)
            return await loop.run_in_executor(self._pool, timed)
        finally:
            self._in_thread -= 1

    def _timed(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        started = self._clock()
        try:
            return call(*args, **kwargs)
        finally:
            self._last_s = self._clock() - started

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["INLINE_BUDGET_S", "SearchRunner"]
