"""What ``/metrics`` reports, in Prometheus's text format, from a registry of the app's own.

Each app has its own ``CollectorRegistry`` (never prometheus-client's global one), so
two apps in one process (the tests make many) count apart. Requests are counted by
route *template* (``/api/v1/vectors/{record_id:path}``), never by raw path, so record
ids cannot multiply the series. What the store holds (vectors per namespace, the
indexes in memory) and the models loaded are read at scrape time by a collector: a
scrape costs one ``list_namespaces`` and reads nothing else from the store.

With several worker processes (``serve --workers N``) each process counts its own
requests, and a scrape is answered by whichever worker the kernel hands it to. Summed
without a word, such numbers would be wrong; so in that case every per-process
series carries a ``worker`` label (the pid): each worker's counters stay a series of
their own, and a dashboard sums the series the scrapes have seen (docs/metrics.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..errors import SameSameError
from ..watch import ChangeKind

if TYPE_CHECKING:
    from ..embedder_cache import EmbedderCache
    from ..ingest import IngestReport
    from ..search import SearchKind, SearchResult
    from ..storage import LoadedIndex, VectorStore
    from ..watch import Change

__all__ = ["CONTENT_TYPE_LATEST", "MetricsMiddleware", "ServerMetrics"]

UNMATCHED_ROUTE = "<unmatched>"
"""The route label of a request no route answers (a 404 of any path: one series)."""

REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
SEARCH_BUCKETS = REQUEST_BUCKETS


class ServerMetrics:
    """The app's metrics; ``render()`` is the body of ``GET /metrics``."""

    def __init__(
        self,
        store: VectorStore,
        embedders: EmbedderCache,
        per_worker: bool = False,
    ) -> None:
        self.registry = CollectorRegistry()
        self.worker = str(os.getpid()) if per_worker else None
        worker = ["worker"] if per_worker else []
        self.requests = Counter(
            "same_same_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            [*worker, "method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "same_same_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by route template.",
            [*worker, "method", "route", "status"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.search_seconds = Histogram(
            "same_same_search_duration_seconds",
            "Time a search took in the search service (the took_ms of its answer), by "
            "ranking mode (vector, keyword, hybrid) and query kind (text, image, vector, "
            "record).",
            [*worker, "mode", "kind"],
            buckets=SEARCH_BUCKETS,
            registry=self.registry,
        )
        self.watch_files = Counter(
            "same_same_ingest_files",
            "Files an in-server ingest (serve --watch) went through, by namespace and "
            "outcome: seen, added, updated, moved, removed, unchanged, skipped.",
            ["namespace", "outcome"],
            registry=self.registry,
        )
        self.watch_passes = Counter(
            "same_same_ingest_passes",
            "Passes an in-server ingest (serve --watch) made over its folder, by namespace.",
            ["namespace"],
            registry=self.registry,
        )
        self.watch_last_pass = Gauge(
            "same_same_ingest_last_pass_timestamp_seconds",
            "When the last pass of an in-server ingest ended (Unix time), by namespace.",
            ["namespace"],
            registry=self.registry,
        )
        info = Gauge(
            "same_same_server_info",
            "Always 1; the version and the process (pid) that answered this scrape.",
            ["version", "pid"],
            registry=self.registry,
        )
        info.labels(__version__, str(os.getpid())).set(1)
        ProcessCollector(registry=self.registry)
        self.registry.register(StoreCollector(store, embedders, self.worker))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # -- what the app tells -------------------------------------------------

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = self._with_worker(method, route, str(status))
        self.requests.labels(*labels).inc()
        self.request_seconds.labels(*labels).observe(seconds)

    def observe_search(self, kind: SearchKind, result: SearchResult) -> None:
        """``SearchObserver``: a search by ``kind`` answered ``result``."""
        labels = self._with_worker(result.mode, kind)
        self.search_seconds.labels(*labels).observe(result.took_ms / 1000.0)

    def observe_pass(
        self, namespace: str, report: IngestReport | None, changes: Sequence[Change]
    ) -> None:
        """``watch.PassObserver``: a pass of a watch into ``namespace`` ended."""
        counts = {kind.value: 0 for kind in ChangeKind}
        for change in changes:
            counts[change.kind.value] += 1
        if report is not None:
            counts["seen"] = report.seen
            counts["unchanged"] = report.unchanged
            counts["skipped"] = report.skipped + report.failed
        for outcome, count in counts.items():
            # .inc(0) too: each outcome's series exists from the first pass on
            self.watch_files.labels(namespace, outcome).inc(count)
        self.watch_passes.labels(namespace).inc()
        self.watch_last_pass.labels(namespace).set(time.time())

    def _with_worker(self, *labels: str) -> tuple[str, ...]:
        return labels if self.worker is None else (self.worker, *labels)


class StoreCollector(Collector):
    """Read at each scrape: vectors per namespace, indexes in memory, models loaded."""

    def __init__(self, store: VectorStore, embedders: EmbedderCache, worker: str | None) -> None:
        self.store = store
        self.embedders = embedders
        self.worker = worker

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "same_same_store_up", "1 when the store answered this scrape's questions, else 0."
        )
        vectors = GaugeMetricFamily(
            "same_same_vectors", "Vectors stored, by namespace.", labels=["namespace"]
        )
        try:
            infos = self.store.list_namespaces()
            indexes = self.store.loaded_indexes()
        except SameSameError:  # a store server that is down: the scrape still answers
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            yield up
            for info in infos:
                vectors.add_metric([info.name], info.count)
            yield vectors
            yield from self._index_families(indexes)
        yield from self._model_families()

    def _index_families(self, indexes: Sequence[LoadedIndex]) -> Iterable[Metric]:
        worker = ["worker"] if self.worker is not None else []
        own = [self.worker] if self.worker is not None else []
        in_memory = GaugeMetricFamily(
            "same_same_index_vectors",
            "Vectors in a namespace's approximate index as this process holds it.",
            labels=[*worker, "namespace"],
        )
        saved_bytes = GaugeMetricFamily(
            "same_same_index_saved_bytes",
            "Size of a namespace's saved index file.",
            labels=["namespace"],
        )
        saved_at = GaugeMetricFamily(
            "same_same_index_last_save_timestamp_seconds",
            "When a namespace's index file was last saved, by any process (Unix time).",
            labels=["namespace"],
        )
        for index in indexes:
            in_memory.add_metric([*own, index.namespace], index.vectors)
            if index.saved_bytes is not None:
                saved_bytes.add_metric([index.namespace], index.saved_bytes)
            if index.saved_at is not None:
                saved_at.add_metric([index.namespace], index.saved_at)
        yield from (in_memory, saved_bytes, saved_at)

    def _model_families(self) -> Iterable[Metric]:
        worker = ["worker"] if self.worker is not None else []
        own = [self.worker] if self.worker is not None else []
        load = GaugeMetricFamily(
            "same_same_model_load_seconds",
            "How long loading a model took in this process, by embedder, model, pretrained "
            "tag and use (query, or the precision of the namespace it writes).",
            labels=[*worker, "embedder", "model", "pretrained", "use"],
        )
        for model in self.embedders.loaded_models():
            use = "query" if model.precision is None else f"write-{model.precision}"
            labels = [*own, model.embedder, model.model, model.pretrained, use]
            load.add_metric(labels, model.seconds)
        yield load


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The template of the route that answered (or would answer) ``scope``."""
    route = scope.get("route")
    if route is None:  # refused before routing (401, 413): find what would have answered
        for candidate in routes:
            if not isinstance(candidate, (Route, Mount)):
                continue  # a group of routes: its routes are in the list themselves
            match, _ = candidate.matches(scope)
            if match is Match.FULL:
                route = candidate
                break
    if isinstance(route, (Route, Mount)):
        return route.path or "/"
    return UNMATCHED_ROUTE


class MetricsMiddleware:
    """Counts and times every HTTP request, labelled by route template and status."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.observe_request(
                scope["method"],
                route_template(self.routes, scope),
                status,
                time.perf_counter() - started,
            )
