"""Stores by name. ``open_store(data_dir)`` gives the default embedded store.

A store is chosen by a *store spec*: a registered kind (``sqlite``, the default)
or a URL whose scheme names one (``milvus://HOST:PORT``, ``milvus+tls://...``).
``$SAME_SAME_STORE`` gives the spec when none is passed. The data directory still
holds what is not vectors: model copies, ONNX exports, thumbnails.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..errors import UnknownNameError
from .base import Filters, LoadedIndex, VectorStore

STORE_ENV = "SAME_SAME_STORE"
DEFAULT_STORE = "sqlite"

StoreFactory = Callable[[str, Path], VectorStore]
"""``factory(spec, data_dir)`` opens the store ``spec`` names."""

_STORES: dict[str, StoreFactory] = {}


def register_store(kind: str, factory: StoreFactory, *schemes: str) -> None:
    """Register ``kind``; specs ``kind`` and ``SCHEME://...`` for each scheme open it."""
    _STORES[kind] = factory
    for scheme in schemes:
        _SCHEMES[scheme] = kind


_SCHEMES: dict[str, str] = {}


def list_stores() -> list[str]:
    return sorted(_STORES)


def store_kind(spec: str) -> str:
    """The registered kind a spec names (``milvus+tls://h:1`` -> ``milvus``)."""
    scheme, sep, _ = spec.partition("://")
    name = _SCHEMES.get(scheme, scheme) if sep else spec
    if name not in _STORES:
        raise UnknownNameError("store", name, list(_STORES))
    return name


def resolve_store_spec(spec: str | None) -> str:
    """``spec``, else ``$SAME_SAME_STORE``, else the embedded store."""
    return (spec or os.environ.get(STORE_ENV, "")).strip() or DEFAULT_STORE


def open_store(data_dir: Path, spec: str | None = None) -> VectorStore:
    """Open (creating if needed) the store ``spec`` names (see the module docstring)."""
    resolved = resolve_store_spec(spec)
    return _STORES[store_kind(resolved)](resolved, Path(data_dir))


def _open_sqlite(spec: str, data_dir: Path) -> VectorStore:
    from .sqlite import SQLiteStore

    return SQLiteStore(data_dir)


def _open_milvus(spec: str, data_dir: Path) -> VectorStore:
    from .milvus import MilvusStore

    return MilvusStore(spec if "://" in spec else "milvus://127.0.0.1:19530")


register_store("sqlite", _open_sqlite)
register_store("milvus", _open_milvus, "milvus", "milvus+tls")

__all__ = [
    "LoadedIndex",
    "Filters",
    "STORE_ENV",
    "VectorStore",
    "list_stores",
    "open_store",
    "register_store",
    "resolve_store_spec",
    "store_kind",
]
