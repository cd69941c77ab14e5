"""``same-same serve --workers N``: several real server processes on one port, one store.

A real process tree (the CLI, uvicorn's supervisor, its workers): a record written
through one connection is found by every search that follows, whichever worker takes
it, and stopping the server stops every worker. Bad values are one line before anything
starts.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli, same_same_command
from same_same.errors import InvalidInputError
from same_same.server import ServeOptions
from server_fixtures import fetch_json, find_free_port, wait_for_health

DIM = 16


def children(pid: int) -> list[int]:
    """The worker processes of server ``pid`` (Linux's /proc): its children started by
    multiprocessing's spawn (not its resource tracker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return [child for child in found if b"spawn_main" in _cmdline(child)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree in /proc")
def test_two_workers_share_one_store_and_stop_together(tmp_path: Path) -> None:
    rng = np.random.default_rng(21)
    vectors = rng.normal(size=(40, DIM)).astype(np.float32)
    port = find_free_port()
    command = same_same_command(
        "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "store"),
        "--workers", "2",
    )  # fmt: skip
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"}
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_health(base, alive=lambda: server.poll() is None)
            deadline = time.monotonic() + 60
            while len(children(server.pid)) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)  # /health answers once the first worker is up
            workers = children(server.pid)
            assert len(workers) == 2, workers
            for i, vector in enumerate(vectors):
                status, body = fetch_json(
                    "POST",
                    base + "/api/v1/vectors",
                    {"id": f"v{i}", "namespace": "raw", "embedding": vector.tolist()},
                )
                assert status in (200, 201), body
                # each search opens its own connection: either worker may answer it,
                # and each sees the write that came just before, from either worker
                status, body = fetch_json(
                    "POST",
                    base + "/api/v1/vectors/search",
                    {"namespace": "raw", "embedding": vector.tolist(), "limit": 1},
                )
                assert status == 200, body
                assert body["results"][0]["id"] == f"v{i}"
            status, body = fetch_json("GET", base + "/api/v1/vectors/count?namespace=raw")
            assert (status, body["count"]) == (200, len(vectors))
        finally:
            server.terminate()
            server.wait(timeout=30)
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    assert "in 2 processes" in output, output
    assert "Traceback" not in output, output
    for pid in workers:  # no worker outlives the server
        assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid), pid


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


@pytest.mark.parametrize("workers", ["-1", "65"])
def test_a_bad_worker_count_is_one_line(tmp_path: Path, workers: str) -> None:
    result = run_cli("serve", "--workers", workers, data_dir=tmp_path / "store")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith("error: --workers must be from 0 (one per core) to 64")


def test_a_worker_count_that_is_no_number_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("serve", "--workers", "two", data_dir=tmp_path / "store")
    assert result.returncode == 2  # click's usage error, as for every other typed flag
    assert "'two' is not a valid integer" in result.stderr


def test_serve_options_check_their_worker_count() -> None:
    assert ServeOptions(workers=3).processes == 3
    assert ServeOptions(workers=0).processes == len(os.sched_getaffinity(0))
    for bad in (-1, 65, True, 2.5):
        with pytest.raises(InvalidInputError, match="--workers"):
            ServeOptions(workers=bad)  # type: ignore[arg-type]
