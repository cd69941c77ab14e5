"""Run the app with uvicorn."""

from __future__ import annotations

import logging
import sys

from .app import create_app
from .settings import DEFAULT_HOST, DEFAULT_PORT, ServerSettings

logger = logging.getLogger("same_same.server")


def serve(settings: ServerSettings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve the API and the page until interrupted."""
    import uvicorn

    level = logging.DEBUG if settings.debug else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s: %(name)s: %(message)s")
    app = create_app(settings)
    shown_host = f"[{host}]" if ":" in host else host
    print(
        f"same-same: serving {settings.data_dir} on http://{shown_host}:{port} (API docs at /docs)",
        file=sys.stderr,
    )
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.api_key:
        print(
            "same-same: warning: listening beyond this machine without --api-key; "
            "anyone who can reach the port can read and change the store",
            file=sys.stderr,
        )
    uvicorn.run(app, host=host, port=port, log_level="debug" if settings.debug else "info")
