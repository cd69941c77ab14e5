"""same_same.client's retries, counted exactly (never timed), and its missing-extra error.

A port nothing listens on stands for a server not up yet. For 502/503/504 a tiny
HTTP server on 127.0.0.1 stands in for a proxy in front of same-same (the real server
cannot be made to answer 503 on demand): it answers the statuses it is given, in
order, and counts the requests that reached it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from same_same.client import Client, RetryPolicy, ServerUnreachableError
from same_same.errors import StoreUnavailableError
from server_fixtures import find_free_port

NO_WAIT = RetryPolicy(attempts=3, backoff_s=0.0)
HEALTH = {"status": "ok", "version": "test", "vectors": 0}
UNAVAILABLE = {
    "error": {"status": 503, "code": "store_unavailable", "message": "store down", "hint": None}
}


@contextmanager
def scripted_server(statuses: list[int]) -> Iterator[tuple[str, list[str]]]:
    """Answers ``statuses`` in order (then 200 with a health body); yields the URL and
    the ``METHOD PATH`` of every request received."""
    seen: list[str] = []
    remaining = list(statuses)

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            seen.append(f"{self.command} {self.path}")
            status = remaining.pop(0) if remaining else 200
            body = json.dumps(HEALTH if status == 200 else UNAVAILABLE).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_is_not_up_is_tried_the_configured_number_of_times() -> None:
    url = f"http://127.0.0.1:{find_free_port()}"
    with Client(url, retry=NO_WAIT) as client:
        with pytest.raises(ServerUnreachableError) as caught:
            client.health()
        # never sent, so even a POST that stores something is safe to try again
        with pytest.raises(ServerUnreachableError) as stored:
            client.add_vector([1.0, 0.0], namespace="n")
    assert caught.value.attempts == 3 == stored.value.attempts
    assert caught.value.code == "server_unreachable" and url in caught.value.message
    with Client(url, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(ServerUnreachableError) as once:
            client.count()
    assert once.value.attempts == 1


def test_503_is_retried_until_the_server_answers() -> None:
    with scripted_server([503, 502]) as (url, seen):
        with Client(url, retry=NO_WAIT) as client:
            assert client.health().status == "ok"
    assert seen == ["GET /health"] * 3


def test_retries_end_with_the_servers_typed_error() -> None:
    with scripted_server([503, 503, 503, 503]) as (url, seen):
        with Client(url, retry=NO_WAIT) as client:
            with pytest.raises(StoreUnavailableError) as caught:
                client.search("anything")
    assert len(seen) == 3 and seen[0] == "POST /api/v1/search"  # a search is read-only
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        503,
        "store_unavailable",
        "store down",
    )


def test_a_post_that_stores_is_never_sent_twice() -> None:
    with scripted_server([503, 503]) as (url, seen):
        with Client(url, retry=NO_WAIT) as client:
            with pytest.raises(StoreUnavailableError):
                client.embed_text("once only", namespace="n")
            with pytest.raises(StoreUnavailableError):
                client.add_vector([1.0, 0.0], namespace="n")
    assert seen == ["POST /api/v1/vectors/embed", "POST /api/v1/vectors"]


def test_backoff_doubles_up_to_its_ceiling() -> None:
    policy = RetryPolicy(attempts=6, backoff_s=0.5, max_backoff_s=3.0)
    assert [policy.delay_before(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_without_httpx_the_import_names_the_pip_command() -> None:
    # httpx is installed here: hiding it from the import system is the only way to see
    # what a base install without the [client] extra gets.
    program = "import sys; sys.modules['httpx'] = None; import same_same.client"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode != 0
    assert "pip install 'same-same[client]'" in done.stderr.strip().splitlines()[-1]
