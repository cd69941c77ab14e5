"""The app factory: explicit settings in, a FastAPI app out; nothing global."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from fastapi import APIRouter, FastAPI

from .. import __version__
from ..embedder_cache import EmbedderCache
from ..errors import InvalidInputError, ReadOnlyStoreError
from ..imaging.query import QueryImageDecoder
from ..search import SearchService
from ..storage import VectorStore, open_store
from ..vectors import VectorService
from ..watch.background import BackgroundWatches
from .auth import APIKeyMiddleware, check_api_key
from .body_limit import BodySizeLimitMiddleware
from .docs import install_docs
from .errors import install_error_handlers
from .metrics import MetricsMiddleware, ServerMetrics
from .openapi import install_openapi
from .routes import duplicates, health, media, metrics, namespaces, page, search, vectors
from .search_runner import SearchRunner
from .settings import ServerSettings

logger = logging.getLogger("same_same.server")

# A new resource is one router module plus one line here.
ROUTERS: list[APIRouter] = [
    health.router,
    metrics.router,
    search.router,
    duplicates.router,
    media.router,  # before vectors: its /{record_id:path} would swallow .../thumbnail
    vectors.router,
    namespaces.router,
    page.router,
]


def close_store(store: VectorStore) -> None:
    """Close the store at shutdown; a failure is logged, since nothing is left to answer.

    The store already logged why (a full disk while saving an index); what it
    committed is stored, and the last saved index is still there for the next start.
    """
    try:
        store.close()
    except Exception as exc:  # noqa: BLE001 - shutdown must finish whatever went wrong
        logger.warning("closing the store failed: %s: %s", type(exc).__name__, exc)


def create_app(settings: ServerSettings) -> FastAPI:
    """Open the store in ``settings.data_dir`` and build the app that serves it."""
    api_key = check_api_key(settings.api_key)  # before the store is opened: nothing to close
    if settings.metrics_require_key and api_key is None:
        raise InvalidInputError(
            "--metrics-auth asks for the API key on /metrics, but no key is set",
            hint="set --api-key (or SAME_SAME_API_KEY) too, or leave /metrics open",
        )
    # folders and models of --watch are checked before the store is opened, too
    watches = BackgroundWatches(settings.watches) if settings.watches else None
    store = open_store(Path(settings.data_dir), settings.store)
    if watches is not None and store.read_only:
        close_store(store)
        raise ReadOnlyStoreError(
            "the store is read-only: --watch could store nothing",
            hint="serve without --watch, or as a user who can write the data directory",
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if store.read_only:
            logger.warning(
                "the store in %s is read-only: searches work, writes are refused (403)",
                settings.data_dir,
            )
        if watches is not None:
            watches.start(store)  # writes through this store: searches see them at once
        yield
        if watches is not None:
            watches.stop()  # before the store closes: a pass in progress commits first
        app.state.search_runner.close()
        close_store(store)

    app = FastAPI(
        title="same-same",
        version=__version__,
        description="Self-hosted multimodal search: text and images in one vector space.",
        lifespan=lifespan,
        docs_url=None,  # install_docs serves both pages with local assets instead of a CDN's
        redoc_url=None,
        debug=False,  # never put a traceback in a response, even with -d
    )
    # Query models find their local copies and exports in the store's own data directory.
    embedder_options = settings.embedder_options
    if embedder_options.data_dir is None:
        embedder_options = replace(embedder_options, data_dir=Path(settings.data_dir))
    embedders = EmbedderCache(embedder_options, settings.query_cache_size)
    app.state.metrics = server_metrics = ServerMetrics(
        store, embedders, per_worker=settings.metrics_per_worker
    )
    if watches is not None:
        watches.observer = server_metrics
    app.state.settings = settings
    app.state.store = store
    app.state.search_service = SearchService(store, embedders=embedders, observer=server_metrics)
    app.state.search_runner = SearchRunner(store.search_threads)
    app.state.query_image_decoder = QueryImageDecoder(
        slots=settings.query_image_decodes, max_pixels=settings.query_image_max_pixels
    )
    app.state.vector_service = VectorService(
        store, embedders=embedders, embedder_options=embedder_options
    )
    install_error_handlers(app)
    install_openapi(app)
    install_docs(app)
    for router in ROUTERS:
        app.include_router(router)
    # Added last = outermost: the key is checked before a body is read.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    if api_key is not None:
        app.add_middleware(
            APIKeyMiddleware, api_key=api_key, protect_metrics=settings.metrics_require_key
        )
    # outermost: refusals of the key and of the body's size are counted too
    # the routes themselves, not the app's (which may group a router's routes in one)
    routes = [*app.router.routes, *(route for router in ROUTERS for route in router.routes)]
    app.add_middleware(MetricsMiddleware, metrics=server_metrics, routes=routes)
    return app
