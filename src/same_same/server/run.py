"""Run the app with uvicorn: one process, or several sharing the listening socket.

With ``workers`` > 1 the parent binds the socket, checks that the store opens, and
starts that many processes (uvicorn's supervisor, which restarts one that dies);
each builds its own app from the same settings. They share the store file and the
memory-mapped index files through the page cache, so a search in one process
never waits for the Python interpreter of another: on a machine with several
cores this is what multiplies the queries answered per second.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from fastapi import FastAPI

from ..errors import InvalidInputError
from ..storage import open_store
from .app import create_app
from .settings import DEFAULT_HOST, DEFAULT_PORT, ServerSettings

logger = logging.getLogger("same_same.server")

MAX_WORKERS = 64


@dataclass(frozen=True)
class ServeOptions:
    """How the server listens: where, in how many processes, whether it logs each request."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 1
    """Server processes; 0 means one per CPU core."""
    access_log: bool = False
    """One log line per request; off by default: at thousands of requests a second the
    line costs more than a vector search."""

    def __post_init__(self) -> None:
        workers = self.workers
        if isinstance(workers, bool) or not isinstance(workers, int):
            raise InvalidInputError(f"--workers must be a whole number, not {workers!r}")
        if not 0 <= workers <= MAX_WORKERS:
            raise InvalidInputError(
                f"--workers must be from 0 (one per core) to {MAX_WORKERS}, not {workers}"
            )

    @property
    def processes(self) -> int:
        """The number of server processes to start (``workers``, 0 resolved)."""
        return self.workers or max(1, len(os.sched_getaffinity(0)))


@dataclass(frozen=True)
class AppFactory:
    """Builds the app in each worker process (uvicorn pickles it to start them)."""

    settings: ServerSettings

    def __call__(self) -> FastAPI:
        return create_app(self.settings)


def serve(settings: ServerSettings, options: ServeOptions | None = None) -> None:
    """Serve the API and the page until interrupted."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    options = options or ServeOptions()
    level = logging.DEBUG if settings.debug else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s: %(name)s: %(message)s")
    processes = options.processes
    if settings.watches and processes > 1:
        raise InvalidInputError(
            f"--watch runs in the server process; it cannot with --workers {options.workers}",
            hint="serve with --workers 1, or run `same-same watch` beside the server",
        )
    if processes == 1:
        app: FastAPI | AppFactory = create_app(settings)
    else:
        check_store_opens(settings)  # here, once: not in every worker, each failing alike
        # each worker counts its own requests: its series carry its pid, never mixed up
        app = AppFactory(replace(settings, metrics_per_worker=True))
    host, port = options.host, options.port
    shown_host = f"[{host}]" if ":" in host else host
    workers = f" in {processes} processes" if processes > 1 else ""
    print(
        f"same-same: serving {settings.data_dir} on http://{shown_host}:{port}{workers} "
        "(API docs at /docs)",
        file=sys.stderr,
    )
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.api_key:
        print(
            "same-same: warning: listening beyond this machine without --api-key; "
            "anyone who can reach the port can read and change the store",
            file=sys.stderr,
        )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=processes,
        factory=processes > 1,
        log_level="debug" if settings.debug else "info",
        access_log=options.access_log or settings.debug,
    )
    if processes == 1:
        uvicorn.Server(config).run()
        return
    Multiprocess(config, sockets=[config.bind_socket()]).run()


def check_store_opens(settings: ServerSettings) -> None:
    """Open and close the store once, so a store that cannot open fails in one line."""
    open_store(Path(settings.data_dir), settings.store).close()
