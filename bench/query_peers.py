"""Peers over HTTP beside same-same in bench/query.py: Chroma's server and Milvus standalone.

Same vectors, same queries, same concurrency levels and the same load generator
(``http_load.run_clients``), recall@10 against the same exact top 10:

* ``chroma``: ``chroma run --path DIR --host 127.0.0.1 --port P`` from the peers' venv
  (bench/work/peers-venv, ``chromadb==1.5.9``), loaded and queried with
  ``chromadb.HttpClient`` by ``chroma_client.py`` in that venv (HNSW M=32,
  ef_construction=100, ``ef_search`` from the options).
* ``milvus``: the Milvus standalone server at ``--milvus HOST:PORT`` (never started
  here: one runs per machine). same-same's Milvus store loads it (collections
  ``bench_query_*``, dropped after), then ``same-same serve --store milvus://...`` is
  measured over HTTP (``milvus-same-same``), and pymilvus's ``MilvusClient.search`` on
  the same collection (``milvus-pymilvus``, ef 64 like the store, 10 results). Both
  read with ``consistency=Bounded``.

A peer that cannot run (not installed, no server, a failure) gives one row with its
``error``; the run goes on.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from http_load import HTTPSearch, LoadResult, Search, run_clients, summarize
from peers_venv import ensure_venv
from query_data import DIM, NAMESPACE, metadata_of, record_id
from serving import free_port, serve
from vector_search import QUERIES_PER_CLIENT, SEARCH, recall_of, vector_body

BENCH = Path(__file__).resolve().parent
PEERS = ("chroma", "milvus")
MILVUS_PREFIX = "bench_query"
CHROMA_PACKAGES = {"chromadb": "chromadb==1.5.9"}


@dataclass(frozen=True)
class PeerOptions:
    peers: tuple[str, ...] = ()
    milvus: str | None = None
    """HOST:PORT of a running Milvus standalone."""
    venv_dir: Path = BENCH / "work" / "peers-venv"
    install: bool = True
    chroma_ef_search: int = 100
    milvus_ef: int = 64


@dataclass(frozen=True)
class PymilvusSearch:
    """One client: a MilvusClient searching the namespace's rows of ``collection``."""

    address: str
    collection: str
    uid: str
    ef: int
    queries: tuple[tuple[float, ...], ...]

    def __call__(self) -> Search:
        from pymilvus import MilvusClient

        client = MilvusClient(uri=f"http://{self.address}")
        params = {"metric_type": "COSINE", "params": {"ef": self.ef}}
        expression = f'ns == "{self.uid}"'

        def search(i: int) -> list[str]:
            hits = client.search(
                self.collection,
                data=[list(self.queries[i % len(self.queries)])],
                limit=10,
                filter=expression,
                search_params=params,
                consistency_level="Bounded",
            )[0]
            return [str(hit["id"]).split(":", 1)[1] for hit in hits]

        return search


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {(text[-1] if text else '')[:300]}"


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    for level in row["concurrency"]:
        for key in ("qps", "p50_ms", "p99_ms", "recall_at_10"):
            row[f"c{level['concurrency']}_{key}"] = level[key]
    return row


def bench_peers(
    size: int,
    data: np.ndarray,
    labels: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    levels: Sequence[int],
    processes: int | None,
    env: dict[str, str],
    options: PeerOptions,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for peer in options.peers:
        try:
            if peer == "chroma":
                rows.append(bench_chroma(size, data, queries, truth, levels, processes, options))
            elif peer == "milvus":
                rows += bench_milvus(
                    size, data, labels, queries, truth, levels, processes, env, options
                )
            else:
                raise ValueError(f"unknown peer {peer!r} (known: {', '.join(PEERS)})")
        except Exception as error:  # a peer that fails loses its rows, with the reason
            rows.append({"peer": peer, "size": size, "error": one_line(error)})
        print(f"{size:,} peer {peer}: {rows[-1].get('error') or 'done'}", flush=True)
    return rows


# -- Chroma ----------------------------------------------------------------------------


def wait_for_chroma(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError("chroma run exited: " + log.read_text(errors="replace")[-500:])
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v2/heartbeat")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("chroma run did not answer /api/v2/heartbeat in 120 s")
        time.sleep(0.2)


def bench_chroma(
    size: int,
    data: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    levels: Sequence[int],
    processes: int | None,
    options: PeerOptions,
) -> dict[str, Any]:
    venv = ensure_venv(options.venv_dir, CHROMA_PACKAGES, options.install)
    missing = venv.missing_reason("chromadb")
    if missing or venv.python is None:
        raise RuntimeError(f"chromadb not available: {missing}")
    python = str(venv.python)
    chroma = str(venv.python.parent / "chroma")
    row: dict[str, Any] = {"peer": "chroma-http", "size": size, "concurrency": []}
    with tempfile.TemporaryDirectory(prefix="bench-chroma-") as tmp:
        work = Path(tmp)
        np.save(work / "vectors.npy", data)
        np.save(work / "queries.npy", queries)
        port, log = free_port(), work / "chroma.log"
        with open(log, "wb") as out:
            server = subprocess.Popen(
                [chroma, "run", "--path", str(work / "db"), "--host", "127.0.0.1",
                 "--port", str(port)],
                stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )  # fmt: skip
        try:
            wait_for_chroma(port, server, log)
            client = [python, str(BENCH / "chroma_client.py")]
            load_out = work / "load.json"
            subprocess.run(
                [*client, "load", "--port", str(port), "--vectors", str(work / "vectors.npy"),
                 "--ef-search", str(options.chroma_ef_search), "--out", str(load_out)],
                check=True, capture_output=True, timeout=7200,
            )  # fmt: skip
            row.update(json.loads(load_out.read_text()))
            for concurrency in levels:
                count = max(len(queries), QUERIES_PER_CLIENT * concurrency)
                out_path = work / f"query-{concurrency}.json"
                command = [
                    *client, "query", "--port", str(port), "--queries",
                    str(work / "queries.npy"), "--count", str(count), "--concurrency",
                    str(concurrency), "--out", str(out_path),
                ]  # fmt: skip
                if processes is not None:
                    command += ["--processes", str(processes)]
                subprocess.run(command, check=True, capture_output=True, timeout=3600)
                done = json.loads(out_path.read_text())
                result = LoadResult(
                    done["latencies_ms"], done["answers"], done["wall_s"],
                    done["concurrency"], done["processes"], done["errors"],
                )  # fmt: skip
                row["concurrency"].append(summarize(result, recall_of(result.answers, truth)))
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return flatten(row)


# -- Milvus ----------------------------------------------------------------------------


def bench_milvus(
    size: int,
    data: np.ndarray,
    labels: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    levels: Sequence[int],
    processes: int | None,
    env: dict[str, str],
    options: PeerOptions,
) -> list[dict[str, Any]]:
    if not options.milvus:
        raise RuntimeError("no Milvus server given (--milvus HOST:PORT)")
    from store_sides import drop_collections, milvus_client, wait_for_index, wait_for_milvus

    from same_same.records import EmbeddingSpace, Record
    from same_same.storage import open_store
    from same_same.storage.milvus.layout import data_collection_name, namespace_uid
    from same_same.storage.milvus.location import parse_milvus_url

    address = options.milvus
    wait_for_milvus(address, timeout=30)
    url = f"milvus://{address}/?prefix={MILVUS_PREFIX}"  # Strong: the load reads its writes
    served = f"{url}&consistency=Bounded"
    space = EmbeddingSpace("external", "bench-clusters", "", DIM)
    collection = data_collection_name(parse_milvus_url(url), space)
    uid = namespace_uid("", NAMESPACE)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-milvus-"))
    drop_collections(address, MILVUS_PREFIX)
    try:
        began = time.perf_counter()
        store = open_store(data_dir, url)
        store.ensure_namespace(NAMESPACE, space)
        for first in range(0, len(data), 1000):
            records = [
                Record(record_id(i), data[i], metadata=metadata_of(i, int(labels[i])))
                for i in range(first, min(first + 1000, len(data)))
            ]
            store.upsert(NAMESPACE, records)
        store.close()
        wait_for_index(milvus_client(address), collection, len(data))
        load_s = time.perf_counter() - began
        bodies = [vector_body(q) for q in queries]
        http_row: dict[str, Any] = {
            "peer": "milvus-same-same", "size": size, "load_s": load_s, "store": served,
            "concurrency": [],
        }  # fmt: skip
        with serve(data_dir, {**env, "SAME_SAME_STORE": served}) as server:
            factory = HTTPSearch(server.port, SEARCH, bodies)
            run_clients(factory, min(20, len(bodies)), 1, 0)  # warm-up
            for concurrency in levels:
                count = max(len(bodies), QUERIES_PER_CLIENT * concurrency)
                result = run_clients(factory, count, concurrency, processes)
                http_row["concurrency"].append(summarize(result, recall_of(result.answers, truth)))
        direct: dict[str, Any] = {
            "peer": "milvus-pymilvus", "size": size, "load_s": load_s, "ef": options.milvus_ef,
            "concurrency": [],
        }  # fmt: skip
        vectors = tuple(tuple(float(x) for x in q) for q in queries)
        searcher = PymilvusSearch(address, collection, uid, options.milvus_ef, vectors)
        run_clients(searcher, min(20, len(queries)), 1, 0)  # warm-up
        for concurrency in levels:
            count = max(len(queries), QUERIES_PER_CLIENT * concurrency)
            result = run_clients(searcher, count, concurrency, processes)
            direct["concurrency"].append(summarize(result, recall_of(result.answers, truth)))
        return [flatten(http_row), flatten(direct)]
    finally:
        drop_collections(address, MILVUS_PREFIX)
        shutil.rmtree(data_dir, ignore_errors=True)
