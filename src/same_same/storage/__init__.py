"""Stores by name. ``open_store(data_dir)`` gives the default embedded store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import UnknownNameError
from .base import Filters, VectorStore

StoreFactory = Callable[[Path], VectorStore]

_STORES: dict[str, StoreFactory] = {}


def register_store(name: str, factory: StoreFactory) -> None:
    _STORES[name] = factory


def list_stores() -> list[str]:
    return sorted(_STORES)


def open_store(data_dir: Path, kind: str = "sqlite") -> VectorStore:
    """Open (creating if needed) the store of ``kind`` in ``data_dir``."""
    try:
        factory = _STORES[kind]
    except KeyError:
        raise UnknownNameError("store", kind, list(_STORES)) from None
    return factory(Path(data_dir))


def _open_sqlite(data_dir: Path) -> VectorStore:
    from .sqlite import SQLiteStore

    return SQLiteStore(data_dir)


register_store("sqlite", _open_sqlite)

__all__ = ["Filters", "VectorStore", "open_store", "register_store", "list_stores"]
