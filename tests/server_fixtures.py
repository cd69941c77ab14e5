"""A real same-same server on 127.0.0.1, for end-to-end tests.

``running_server`` starts ``same-same serve`` (the real CLI, in a subprocess) on a
free port against a data directory, waits until ``/health`` answers, yields the
base URL and stops the server afterwards::

    from server_fixtures import running_server

    def test_something(tmp_path):
        with running_server(tmp_path, extra_args=["--api-key", "k"]) as base_url:
            ...

``running_app_server`` serves ``create_app(settings)`` with uvicorn in a thread of
the test process instead: faster to start, and the app object stays reachable.
``fetch_json`` is a dependency-free HTTP client that returns ``(status, json)``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import same_same_command

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def find_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fetch_json(
    method: str,
    url: str,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    raw: bytes | None = None,
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """One HTTP request; ``(status, parsed JSON body or None)``. 4xx/5xx do not raise."""
    all_headers = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        all_headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    return status, (json.loads(payload) if payload else None)


def wait_for_health(
    base_url: str, alive: Any = lambda: True, timeout: float = STARTUP_TIMEOUT_S
) -> None:
    """Poll ``/health`` until it answers 200; ``alive()`` False means the server died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the server exited before answering /health")
        try:
            with urllib.request.urlopen(base_url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer {base_url}/health within {timeout:.0f}s")


def _serve_command(port: int, data_dir: Path, extra_args: Sequence[str]) -> list[str]:
    return same_same_command(
        "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", str(data_dir), *extra_args
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_server(
    data_dir: str | os.PathLike[str],
    *,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    attempts: int = 3,
) -> Iterator[str]:
    """Run ``same-same serve`` on a free port of 127.0.0.1; yields ``http://127.0.0.1:PORT``.

    ``env`` is added to this process's environment (HF_HUB_OFFLINE=1 is always set).
    The server's output is shown in the error when it fails to start.
    """
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    last_error: Exception | None = None
    for _ in range(attempts):
        port = find_free_port()
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(
                _serve_command(port, Path(data_dir), extra_args),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
            )
            base_url = f"http://127.0.0.1:{port}"
            try:
                wait_for_health(base_url, alive=lambda p=process: p.poll() is None)
            except RuntimeError as exc:
                _stop(process)
                log.seek(0)
                output = log.read().decode("utf-8", "replace")
                last_error = RuntimeError(f"{exc}; server output:\n{output}")
                # Another process may have taken the free port between probe and bind.
                if "address already in use" in output.lower():
                    continue
                raise last_error from None
            try:
                yield base_url
            finally:
                _stop(process)
            return
    assert last_error is not None
    raise last_error


@contextmanager
def running_app_server(settings: Any) -> Iterator[str]:
    """Serve ``create_app(settings)`` with uvicorn in a thread; yields the base URL."""
    import uvicorn

    from same_same.server import create_app

    port = find_free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, alive=thread.is_alive)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT_S)
