"""Milvus as a store (the ``[milvus]`` extra): ``--store milvus://HOST:PORT``.

See ``store`` for consistency and atomicity, ``layout`` for the collections.
"""

from __future__ import annotations

from .location import MilvusLocation, parse_milvus_url
from .store import MilvusStore

__all__ = ["MilvusLocation", "MilvusStore", "parse_milvus_url"]
