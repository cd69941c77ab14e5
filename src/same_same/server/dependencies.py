"""The services a route needs, taken from the app that serves the request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..search import SearchService
from ..storage import VectorStore
from ..vectors import VectorService
from .search_runner import SearchRunner


def get_store(request: Request) -> VectorStore:
    store: VectorStore = request.app.state.store
    return store


def get_search_service(request: Request) -> SearchService:
    service: SearchService = request.app.state.search_service
    return service


def get_search_runner(request: Request) -> SearchRunner:
    runner: SearchRunner = request.app.state.search_runner
    return runner


def get_vector_service(request: Request) -> VectorService:
    service: VectorService = request.app.state.vector_service
    return service


Store = Annotated[VectorStore, Depends(get_store)]
Searcher = Annotated[SearchService, Depends(get_search_service)]
Runner = Annotated[SearchRunner, Depends(get_search_runner)]
Vectors = Annotated[VectorService, Depends(get_vector_service)]
