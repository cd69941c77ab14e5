"""The pieces of bench/store.py: a Milvus server, loading a store, Milvus's own client.

Each side of the comparison (the embedded store over HTTP, the Milvus store over
HTTP, Milvus through pymilvus) is loaded and queried with these; the HTTP server,
its timed queries and recall are bench/query.py's.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from query import free_port, metadata_of, rss_kb

Search = Callable[[list[float]], list[str]]
"""A query vector in, record ids out, best first."""
MILVUS_ENV = "SAME_SAME_BENCH_MILVUS"
BATCH = 1_000
TOP = 10
TICK_MS = 20
"""proxy.timeTickInterval of a server started here (the tests' value; Milvus's default is
200 ms). A Strong read waits for the next tick, so it sets the floor of Strong latency."""


# -- the Milvus server ------------------------------------------------------------------


def wait_for_milvus(address: str, timeout: float = 120) -> None:
    from pymilvus import MilvusClient

    deadline = time.monotonic() + timeout
    while True:
        try:
            MilvusClient(uri=f"http://{address}", timeout=5).close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@contextlib.contextmanager
def milvus_server() -> Iterator[tuple[str, str]]:
    """``(HOST:PORT, how)``: $SAME_SAME_BENCH_MILVUS's server, else one started here."""
    given = os.environ.get(MILVUS_ENV, "").strip()
    if given:
        wait_for_milvus(given)
        yield given, f"given by ${MILVUS_ENV} (its settings are its own)"
        return
    from milvus import MilvusServer

    base = Path(tempfile.mkdtemp(prefix="same-same-bench-milvus-"))
    server = MilvusServer()
    server.set_base_dir(str(base))
    server.listen_port = free_port()
    server.config.set("proxy.timeTickInterval", TICK_MS)
    server.config.set("dataNode.dataSync.skipMode.enable", "false")
    server.start()
    address = f"127.0.0.1:{server.listen_port}"
    try:
        wait_for_milvus(address)
        yield address, f"started here (milvus package, proxy.timeTickInterval {TICK_MS} ms)"
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def milvus_pid() -> int | None:
    """The Milvus standalone process (one per machine: it locks /run/milvus/standalone.pid)."""
    done = subprocess.run(
        ["pgrep", "-f", "milvus run standalone"], capture_output=True, text=True, check=False
    )
    pids = [int(word) for word in done.stdout.split()]
    return max(pids) if pids else None


def settled_rss_kb(pid: int, wait_s: float = 1.0) -> int:
    """VmRSS after a pause, so memory freed just before (Go's GC, a release) is counted."""
    time.sleep(wait_s)
    return rss_kb(pid)


def milvus_client(address: str) -> Any:
    """A new MilvusClient. pymilvus gives every client of one URI the same connection and
    ``close()`` on any of them closes it for all, so none is closed here and each step
    makes its own (a new one connects again)."""
    from pymilvus import MilvusClient

    return MilvusClient(uri=f"http://{address}")


def drop_collections(address: str, prefix: str) -> list[str]:
    client = milvus_client(address)
    names = [name for name in client.list_collections() if name.startswith(prefix + "_")]
    for name in names:
        client.drop_collection(name)
    return names


# -- loading ---------------------------------------------------------------------------


def upsert_all(store: Any, namespace: str, vectors: np.ndarray, labels: np.ndarray) -> None:
    """Every row through ``store.upsert``, ``BATCH`` records a call, ids ``v00000000``..."""
    from same_same.records import Record

    for offset in range(0, len(vectors), BATCH):
        block = vectors[offset : offset + BATCH]
        store.upsert(
            namespace,
            [
                Record(
                    f"v{offset + j:08d}",
                    block[j],
                    metadata=metadata_of(offset + j, labels[offset + j]),
                )
                for j in range(len(block))
            ],
        )


def wait_for_index(
    client: Any, collection: str, rows: int, timeout: float = 3600
) -> dict[str, Any]:
    """Flush ``collection`` and wait until its vector index covers ``rows`` rows."""
    client.flush(collection)
    (index,) = client.list_indexes(collection)
    deadline = time.monotonic() + timeout
    while True:
        info = client.describe_index(collection, index)
        if int(info.get("indexed_rows", 0)) >= rows and int(info.get("pending_index_rows", 0)) == 0:
            return info
        if time.monotonic() > deadline:
            raise RuntimeError(f"the index of {collection} is not built after {timeout} s: {info}")
        time.sleep(0.2)


# -- Milvus's own client ---------------------------------------------------------------


def pymilvus_searcher(
    address: str, collection: str, uid: str, ef: int, consistency: str
) -> Callable[[], Search]:
    """A factory of search functions (one MilvusClient each) returning record ids, best first.

    The same request same-same's Milvus store makes, minus what it adds: 10 results
    instead of its 32 candidates, no output fields (no vectors to re-score), no
    catalog or count queries.
    """
    expression = f'ns == "{uid}"'
    params = {"metric_type": "COSINE", "params": {"ef": ef}}

    def make() -> Search:
        client = milvus_client(address)

        def search(query: list[float]) -> list[str]:
            hits = client.search(
                collection,
                data=[query],
                limit=TOP,
                filter=expression,
                search_params=params,
                consistency_level=consistency,
            )[0]
            return [str(hit["id"]).split(":", 1)[1] for hit in hits]

        return search

    return make


def timed_calls(
    make: Callable[[], Search],
    queries: Sequence[list[float]],
    concurrency: int,
) -> tuple[list[float], list[dict[str, Any]], float]:
    """Latencies (ms), answers shaped like the API's (``{"results": [{"id"}]}``) and wall s."""
    latencies = [0.0] * len(queries)
    answers: list[dict[str, Any]] = [{}] * len(queries)
    searches = [make() for _ in range(concurrency)]

    def worker(offset: int) -> None:
        search = searches[offset]
        for i in range(offset, len(queries), concurrency):
            began = time.perf_counter()
            ids = search(queries[i])
            latencies[i] = (time.perf_counter() - began) * 1000
            answers[i] = {"results": [{"id": record_id} for record_id in ids]}

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, answers, time.perf_counter() - began


# -- tuning ----------------------------------------------------------------------------


@contextlib.contextmanager
def in_process_search(
    data_dir: Path, spec: str | None, namespace: str, env: dict[str, str]
) -> Iterator[Search]:
    """Searches through a store opened in this process with ``env`` (``open_store`` and the
    index settings read the environment when a store opens): what a server would answer."""
    from same_same.storage import open_store

    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        store = open_store(data_dir, spec)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def search(query: list[float]) -> list[str]:
        vector = np.asarray(query, dtype=np.float32)
        return [match.id for match in store.search([namespace], vector, TOP)]

    with store:
        yield search


def tune_ef(
    open_search: Callable[[int | None], contextlib.AbstractContextManager[Search]],
    queries: Sequence[list[float]],
    recall_of: Callable[[list[dict[str, Any]]], float],
    efs: Sequence[int],
    target: float,
) -> dict[str, Any]:
    """Recall on the tuning queries at the default (ef ``None``) and, below ``target``, at
    each of ``efs`` in turn up to the first that reaches it; ``ef`` is that value (None:
    the default reaches it)."""
    curve: list[dict[str, Any]] = []
    for ef in (None, *efs):
        with open_search(ef) as search:
            _, answers, _ = timed_calls(functools.partial(_same, search), queries, 1)
        curve.append({"ef": ef, "recall_at_10": recall_of(answers)})
        if curve[-1]["recall_at_10"] >= target:
            return {"ef": ef, "curve": curve}
    return {"ef": efs[-1] if efs else None, "curve": curve, "target_missed": True}


def _same(search: Search) -> Search:
    return search


__all__ = [
    "BATCH",
    "MILVUS_ENV",
    "drop_collections",
    "in_process_search",
    "milvus_client",
    "milvus_pid",
    "milvus_server",
    "pymilvus_searcher",
    "settled_rss_kb",
    "timed_calls",
    "tune_ef",
    "upsert_all",
    "wait_for_index",
]
