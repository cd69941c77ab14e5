"""A load generator that costs the machine little: many clients over a few processes.

``run_clients(factory, count, concurrency, processes)`` runs ``count`` queries with
``concurrency`` clients. A client is a thread with its own connection (for HTTP one
persistent HTTP/1.1 connection, bodies encoded before the clock starts); client ``k``
runs queries ``k, k + concurrency, ...``. The clients are spread over ``processes``
spawned processes (0: threads of this process), so the load generator is not held back
by one interpreter's GIL. Every process connects first and waits at a barrier; the wall
time runs from the first query sent to the last answer read, over all processes
(``time.perf_counter`` is the system-wide monotonic clock on Linux).

A factory is a picklable object whose call makes one client's search function
(``search(i) -> ids, best first``); ``HTTPSearch`` is the one for same-same's API.
Standard library only: the peers' virtualenv imports this module too.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Search = Callable[[int], list[str]]
"""Query number in, record ids out, best first; raises on a failed query."""


class SearchFactory(Protocol):
    """Makes one client's search function (its own connection); picklable."""

    def __call__(self) -> Search: ...


@dataclass
class LoadResult:
    latencies_ms: list[float]
    """One per query, in query order."""
    answers: list[list[str]]
    wall_s: float
    concurrency: int
    processes: int
    errors: list[str] = field(default_factory=list)

    @property
    def queries_per_s(self) -> float:
        return len(self.latencies_ms) / self.wall_s if self.wall_s > 0 else float("nan")


@dataclass(frozen=True)
class HTTPSearch:
    """POSTs ``bodies[i % len(bodies)]`` to ``path`` on 127.0.0.1:``port``, one kept-alive
    connection per client."""

    port: int
    path: str
    bodies: Sequence[bytes]

    def __call__(self) -> Search:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        conn.connect()
        headers = {"Content-Type": "application/json"}

        def search(i: int) -> list[str]:
            conn.request("POST", self.path, body=self.bodies[i % len(self.bodies)], headers=headers)
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {payload[:300]!r}")
            return [hit["id"] for hit in json.loads(payload)["results"]]

        return search


def default_processes(concurrency: int) -> int:
    """One client process per core, never more than clients."""
    return max(1, min(concurrency, os.cpu_count() or 1))


def _run_threads(
    searches: dict[int, Search], count: int, concurrency: int
) -> tuple[list[tuple[int, float, list[str]]], list[str], float, float]:
    """Runs each client's queries on its own thread: (i, ms, ids) rows, errors, first, last."""
    rows: list[tuple[int, float, list[str]]] = []
    errors: list[str] = []
    lock = threading.Lock()
    marks: list[float] = []

    def client(k: int) -> None:
        search = searches[k]
        mine: list[tuple[int, float, list[str]]] = []
        first = time.perf_counter()
        for i in range(k, count, concurrency):
            began = time.perf_counter()
            try:
                ids = search(i)
            except Exception as error:  # one failed query is reported, the run goes on
                with lock:
                    errors.append(f"query {i}: {error}")
                ids = []
            mine.append((i, (time.perf_counter() - began) * 1000, ids))
        last = time.perf_counter()
        with lock:
            rows.extend(mine)
            marks.extend((first, last))

    threads = [threading.Thread(target=client, args=(k,)) for k in searches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return rows, errors, min(marks, default=0.0), max(marks, default=0.0)


def _process_main(
    factory: SearchFactory,
    clients: list[int],
    count: int,
    concurrency: int,
    barrier: Any,
    results: Any,
) -> None:
    searches = {k: factory() for k in clients}
    barrier.wait()
    results.put(_run_threads(searches, count, concurrency))


def run_clients(
    factory: SearchFactory, count: int, concurrency: int, processes: int | None = None
) -> LoadResult:
    """``count`` queries by ``concurrency`` clients over ``processes`` processes (see above)."""
    processes = default_processes(concurrency) if processes is None else processes
    processes = min(processes, concurrency)
    if processes <= 0:
        searches = {k: factory() for k in range(concurrency)}
        parts = [_run_threads(searches, count, concurrency)]
    else:
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(processes)
        queue = context.Queue()
        workers = [
            context.Process(
                target=_process_main,
                args=(
                    factory,
                    list(range(p, concurrency, processes)),
                    count,
                    concurrency,
                    barrier,
                    queue,
                ),
                daemon=True,
            )
            for p in range(processes)
        ]
        for worker in workers:
            worker.start()
        parts = []
        for _ in workers:
            while True:
                try:
                    parts.append(queue.get(timeout=5))
                    break
                except Exception:
                    if any(w.exitcode not in (None, 0) for w in workers):
                        for w in workers:
                            w.kill()
                        raise RuntimeError("a load-generator process failed") from None
        for worker in workers:
            worker.join()
    latencies = [0.0] * count
    answers: list[list[str]] = [[] for _ in range(count)]
    errors: list[str] = []
    for rows, part_errors, _, _ in parts:
        errors.extend(part_errors)
        for i, ms, ids in rows:
            latencies[i], answers[i] = ms, ids
    first = min(part[2] for part in parts)
    last = max(part[3] for part in parts)
    return LoadResult(latencies, answers, last - first, concurrency, max(processes, 0), errors)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (linear interpolation, as numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(result: LoadResult, recall_at_10: float) -> dict[str, Any]:
    """The row a report keeps for one concurrency level."""
    return {
        "concurrency": result.concurrency,
        "client_processes": result.processes,
        "queries": len(result.latencies_ms),
        "qps": result.queries_per_s,
        "p50_ms": percentile(result.latencies_ms, 50),
        "p99_ms": percentile(result.latencies_ms, 99),
        "recall_at_10": recall_at_10,
        "errors": len(result.errors),
        "first_error": result.errors[0] if result.errors else None,
    }
