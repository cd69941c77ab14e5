"""A stand-in Hugging Face hub on 127.0.0.1, for downloads the real hub cannot serve here
(no network). It answers what ``hf_hub_download`` asks, the way the hub does: ``HEAD``
then ``GET`` on ``/{repo}/resolve/{revision}/{file}``, with the ``X-Repo-Commit`` and
``ETag`` headers the client requires, and a 404 carrying ``X-Error-Code: EntryNotFound``
for a file the repo lacks. Every GET is recorded, so a test can tell a download from a
cache hit.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from model_bundle_fixtures import COMMIT

CHUNK = 64 * 1024


@dataclass
class FakeHub:
    repos: dict[str, dict[str, bytes]]
    url: str = ""
    gets: list[str] = field(default_factory=list)


@contextmanager
def running_hub(repos: dict[str, dict[str, bytes]]) -> Iterator[FakeHub]:
    """``repos``: repo id -> {file name: content}. Yields the hub with its ``url``."""
    hub = FakeHub(repos)

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            repo_id, _, rest = unquote(self.path.split("?")[0]).lstrip("/").partition("/resolve/")
            _, _, filename = rest.partition("/")
            files = hub.repos.get(repo_id)
            if files is None or filename not in files:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound" if files else "RepoNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            content = files[filename]
            self.send_response(200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hashlib.sha256(content).hexdigest()}"')
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if body:
                hub.gets.append(f"{repo_id}/{filename}")
                for start in range(0, len(content), CHUNK):
                    self.wfile.write(content[start : start + CHUNK])

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
