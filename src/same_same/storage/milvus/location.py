"""Where a Milvus store lives and how it is searched: one frozen object parsed from a URL.

``milvus://HOST:PORT`` (plain gRPC) or ``milvus+tls://HOST:PORT`` (TLS, what Zilliz
Cloud and most secured clusters use), optionally with credentials and a database::

    milvus://127.0.0.1:19530
    milvus+tls://user:password@in01-xxxx.zillizcloud.com:19530/mydb
    milvus://milvus.internal:19530/?index=IVF_FLAT&nlist=1024&nprobe=32

A token (Zilliz Cloud API key, or ``user:password``) may also come from
``$SAME_SAME_MILVUS_TOKEN``, so it need not appear on a command line. Query
parameters: ``index`` (HNSW, IVF_FLAT, IVF_SQ8, IVF_PQ, DISKANN, FLAT, AUTOINDEX),
the build parameters of that index (``M``, ``efConstruction``, ``nlist``, ``m``,
``nbits``), the search parameters (``ef``, ``nprobe``, ``search_list``),
``consistency`` (Strong, Bounded, Session, Eventually), ``prefix`` (of the
collections' names, so several deployments can share a database), ``scope`` (a
separate set of namespaces inside the same collections), ``scan_max`` and
``timeout`` (seconds per call).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from ...errors import InvalidInputError

TOKEN_ENV = "SAME_SAME_MILVUS_TOKEN"
DEFAULT_PORT = 19530
SCHEMES = ("milvus", "milvus+tls")

INDEX_BUILD_PARAMS: dict[str, tuple[str, ...]] = {
    "HNSW": ("M", "efConstruction"),
    "IVF_FLAT": ("nlist",),
    "IVF_SQ8": ("nlist",),
    "IVF_PQ": ("nlist", "m", "nbits"),
    "DISKANN": (),
    "FLAT": (),
    "AUTOINDEX": (),
}
SEARCH_PARAMS = ("ef", "nprobe", "search_list")
DEFAULT_BUILD = {"HNSW": {"M": 32, "efConstruction": 160}, "IVF_FLAT": {"nlist": 1024}}
CONSISTENCY_LEVELS = ("Strong", "Bounded", "Session", "Eventually")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass(frozen=True)
class MilvusLocation:
    """A parsed ``milvus://`` URL. ``display`` names the server without credentials."""

    host: str
    port: int
    tls: bool = False
    token: str = ""
    database: str = ""
    prefix: str = "same_same"
    scope: str = ""
    index_type: str = "HNSW"
    index_params: dict[str, int] = field(default_factory=dict)
    search_params: dict[str, int] = field(default_factory=dict)
    consistency: str = "Strong"
    scan_max: int = 1000
    """Searches over at most this many records score them all exactly, in the client."""
    timeout: int = 10
    """Seconds per call, retries included (an int: pymilvus ignores a float's limit)."""

    @property
    def uri(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def display(self) -> str:
        return f"{self.host}:{self.port}"

    def build_params(self) -> dict[str, int]:
        return {**DEFAULT_BUILD.get(self.index_type, {}), **self.index_params}


def parse_milvus_url(text: str, environ: dict[str, str] | None = None) -> MilvusLocation:
    """A MilvusLocation, or InvalidInputError naming what is wrong with ``text``."""
    env = os.environ if environ is None else environ
    parts = urlsplit(text.strip())
    if parts.scheme not in SCHEMES:
        raise _bad(text, f"the scheme must be one of {', '.join(SCHEMES)}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise _bad(text, "the port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise _bad(text, "it names no host")
    token = env.get(TOKEN_ENV, "")
    if parts.username:
        token = unquote(parts.username)
        if parts.password is not None:
            token += ":" + unquote(parts.password)
    database = parts.path.strip("/")
    if "/" in database:
        raise _bad(text, "the path is a database name, with no '/' in it")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    return _with_options(
        MilvusLocation(
            host=parts.hostname,
            port=port,
            tls=parts.scheme == "milvus+tls",
            token=token,
            database=database,
        ),
        options,
        text,
    )


def _with_options(location: MilvusLocation, options: dict[str, str], text: str) -> MilvusLocation:
    index_type = options.pop("index", location.index_type).upper()
    if index_type not in INDEX_BUILD_PARAMS:
        raise _bad(text, f"unknown index {index_type!r}; one of {', '.join(INDEX_BUILD_PARAMS)}")
    build = {
        key: _positive_int(text, key, options.pop(key))
        for key in INDEX_BUILD_PARAMS[index_type]
        if key in options
    }
    search = {
        key: _positive_int(text, key, options.pop(key)) for key in SEARCH_PARAMS if key in options
    }
    consistency = options.pop("consistency", location.consistency).capitalize()
    if consistency not in CONSISTENCY_LEVELS:
        raise _bad(text, f"consistency must be one of {', '.join(CONSISTENCY_LEVELS)}")
    prefix = options.pop("prefix", location.prefix)
    if not prefix or prefix[0].isdigit() or not set(prefix) <= _NAME_CHARS or len(prefix) > 64:
        raise _bad(text, "prefix must be letters, digits and '_', not starting with a digit")
    scope = options.pop("scope", location.scope)
    scan_max = int(_positive_int(text, "scan_max", options.pop("scan_max", "1000"), minimum=0))
    timeout = _positive_int(text, "timeout", options.pop("timeout", "10"))
    if options:
        raise _bad(text, f"unknown option {sorted(options)[0]!r}")
    return MilvusLocation(
        host=location.host,
        port=location.port,
        tls=location.tls,
        token=location.token,
        database=location.database,
        prefix=prefix,
        scope=scope,
        index_type=index_type,
        index_params=build,
        search_params=search,
        consistency=consistency,
        scan_max=scan_max,
        timeout=timeout,
    )


def _positive_int(text: str, key: str, raw: str, minimum: int = 1) -> int:
    if not raw.isdigit() or int(raw) < minimum:
        raise _bad(text, f"{key} must be an integer >= {minimum}, got {raw!r}")
    return int(raw)


def _bad(text: str, reason: str) -> InvalidInputError:
    shown = urlsplit(text)._replace(netloc=urlsplit(text).hostname or "").geturl()
    return InvalidInputError(
        f"invalid Milvus URL {shown!r}: {reason}",
        hint="e.g. milvus://127.0.0.1:19530 or milvus+tls://user:password@host:19530/db",
    )


__all__ = ["MilvusLocation", "TOKEN_ENV", "parse_milvus_url"]
