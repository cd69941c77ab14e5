"""The HTTP side of the query benchmarks: a real ``same-same serve`` on 127.0.0.1, timed queries.

``serve(data_dir, env, extra_args)`` starts the server (``extra_args`` go to ``same-same
serve`` as they are: ``--workers N`` and whatever the server grows) and stops it after;
``timed_queries`` is the simple threaded client that the text benchmark and
bench/store.py use (the vector benchmark's many-client load generator is http_load.py).
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_kb(pid: int) -> int:
    """The server's memory (kB): PSS summed over ``pid`` and its descendants (``serve
    --workers N``: the workers). PSS counts a shared page once in the sum, split among the
    processes that map it, so N workers over one memory-mapped index show what they
    really add; for one process it is its VmRSS less its share of shared libraries."""
    return sum(_pss_kb(p) for p in [pid, *_descendants(pid)])


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:  # exited meanwhile
        return 0
    raise RuntimeError("no Pss in smaps_rollup")


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *_descendants(child)]
    return found


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    started: float
    log: Path
    last_wall_s: float = 0.0

    def request(
        self, conn: http.client.HTTPConnection, path: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)


@contextmanager
def serve(data_dir: Path, env: dict[str, str], extra_args: Sequence[str] = ()) -> Iterator[Server]:
    """A ``same-same serve`` on a free port of 127.0.0.1, once /health answers."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="same-same-bench-", suffix=".log")[1])
    command = [
        sys.executable,
        "-m",
        "same_same",
        "serve",
        "--addr",
        f"127.0.0.1:{port}",
        "--data-dir",
        str(data_dir),
        *extra_args,
    ]
    started = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(process, port, started, log)
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError("the server exited:\n" + log.read_text(errors="replace")[-3000:])
            try:
                conn = server.connect()
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /health")
            time.sleep(0.02)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.unlink(missing_ok=True)


def timed_queries(
    server: Server, path: str, bodies: list[bytes], concurrency: int
) -> tuple[list[float], list[dict[str, Any]]]:
    """Latencies (ms) and responses, in the order of ``bodies``; ``concurrency`` connections.

    The wall time of the whole batch is left in ``server.last_wall_s``.
    """
    latencies: list[float] = [0.0] * len(bodies)
    answers: list[dict[str, Any]] = [{}] * len(bodies)
    errors: list[str] = []

    def worker(offset: int) -> None:
        conn = server.connect()
        try:
            for i in range(offset, len(bodies), concurrency):
                began = time.perf_counter()
                status, answer = server.request(conn, path, bodies[i])
                latencies[i] = (time.perf_counter() - began) * 1000
                answers[i] = answer
                if status != 200:
                    errors.append(f"{status}: {answer}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.last_wall_s = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{len(errors)} queries failed, e.g. {errors[0]}")
    return latencies, answers


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def recall(answers: list[dict[str, Any]], truth: np.ndarray) -> float:
    """Share of the true top-10 (of those that exist) found in the answers."""
    hits, wanted = 0, 0
    for answer, rows in zip(answers, truth, strict=True):
        got = {result["id"] for result in answer["results"]}
        expected = {f"v{row:08d}" for row in rows if row >= 0}
        hits += len(got & expected)
        wanted += len(expected)
    return hits / wanted if wanted else 1.0
