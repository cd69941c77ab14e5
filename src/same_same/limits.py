"""The limits on what one request, one record or one filter may hold, and the checks
that apply them to plain values.

Every limit is a named constant below with the reason for its value. The API
answers 400 naming the limit and the place at fault; an ingest skips the item with
the same sentence and goes on; a library caller gets an ``InvalidInputError``.
The checks are read at call time, so a test can stand in for an older version by
raising a limit for a moment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import InvalidInputError

MAX_METADATA_DEPTH = 32
"""Objects and arrays nested in a record's metadata, the metadata object itself being
level 1. Real metadata (EXIF, a few labels) nests two or three deep; pydantic stops
serialising a response at a few hundred levels, so a deeper record could not be listed."""

MAX_METADATA_KEY_BYTES = 1_024
"""UTF-8 bytes of one key at any level (a long CSV header still fits)."""

MAX_METADATA_STRING_BYTES = 32_768
"""UTF-8 bytes of one string value at any level."""

MAX_METADATA_ARRAY_ITEMS = 1_000
"""Items of one array at any level (labels, tags)."""

MAX_METADATA_BYTES = 65_536
"""The whole metadata object as stored: compact UTF-8 JSON, with the ``namespace`` (and
``type``) fields same-same adds. It is what the Milvus store's JSON field holds
(``storage.milvus.layout.MAX_METADATA_BYTES``), so both stores take the same records."""

MAX_QUERY_TEXT_BYTES = 4_096
"""UTF-8 bytes of a text query. The models read 77 tokens (a few hundred characters);
a longer query would only cost memory in the query cache and CPU in the tokenizer."""

MAX_RECORD_TEXT_BYTES = 1_048_576
"""UTF-8 bytes of a record's text (``/api/v1/vectors/embed``, ``PUT``, text ingest).
The Milvus store holds at most 65,535 bytes of text and says so itself."""

TOKENIZER_PREFIX_CHARS = 2_048
"""Characters of a text a 77-token tokenizer (CLIP) is given. 77 tokens of prose, code,
URLs or CJK take at most a few hundred characters (one word in ten spaces: 1,100), so
the cut changes no vector of a normal text, while the BPE tokenizer's cost grows with the
square of a word's length (a 32 KB word: 18 s)."""

MAX_FILTER_CONDITIONS = 64
"""Conditions (one operator on one field) in one filter. SQLite refuses an expression
tree deeper than 1,000 nodes, which a filter of 1,000 fields reached."""

MAX_FILTER_LIST_ITEMS = 1_000
"""Values in one ``in`` list."""

MAX_FILTER_STRING_BYTES = 4_096
"""UTF-8 bytes of one string in a filter (a file path fits)."""

MAX_FILTER_PATH_KEYS = MAX_METADATA_DEPTH
"""Keys of one dotted field name (``exif.camera`` has 2): metadata nests no deeper."""

MAX_FILTER_BYTES = 65_536
"""UTF-8 bytes of a filter's field names and values together (a number counts as its
decimal text). It bounds the query a store is sent: 64 ``in`` lists of 1,000 long
strings would be a Milvus expression of hundreds of megabytes."""

MIN_STORED_VECTOR_NORM = 1e-15
"""The shortest vector ``VectorStore.upsert`` takes (see MAX_STORED_VECTOR_NORM)."""

MAX_STORED_VECTOR_NORM = 1e15
"""The longest vector ``VectorStore.upsert`` takes. Stores keep vectors
as given and compute cosines in float32, which squares each value: past about 1e19 the
squares overflow, below about 1e-19 they vanish. Vectors written through the library's
services are unit length already."""

_SHOWN_PATH_CHARS = 60


def utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8 (a lone surrogate counts as the 3 bytes it would take)."""
    return len(text.encode("utf-8", "surrogatepass"))


def check_metadata_limits(metadata: Mapping[str, Any], name: str = "metadata") -> str:
    """``metadata`` as compact JSON, or InvalidInputError naming the limit and the place.

    Depth, keys, strings and arrays are checked first, so a value nested thousands
    deep is refused before anything tries to encode it.
    """
    _check_value(metadata, name, 1)
    try:
        encoded = json.dumps(metadata, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} is not JSON ({exc})") from None
    size = utf8_size(encoded)
    if size > MAX_METADATA_BYTES:
        raise InvalidInputError(
            f"{name} is {size:,} bytes as JSON; metadata holds at most "
            f"{MAX_METADATA_BYTES:,} bytes (MAX_METADATA_BYTES)"
        )
    return encoded


def _check_value(value: Any, where: str, depth: int) -> None:
    if isinstance(value, str):
        size = utf8_size(value)
        if size > MAX_METADATA_STRING_BYTES:
            raise InvalidInputError(
                f"{_show(where)} is a string of {size:,} bytes; metadata strings hold at most "
                f"{MAX_METADATA_STRING_BYTES:,} bytes (MAX_METADATA_STRING_BYTES)"
            )
        return
    if not isinstance(value, (Mapping, list, tuple)):
        return
    if depth > MAX_METADATA_DEPTH:
        raise InvalidInputError(
            f"{_show(where)} is nested deeper than {MAX_METADATA_DEPTH} levels "
            "(MAX_METADATA_DEPTH)"
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and utf8_size(key) > MAX_METADATA_KEY_BYTES:
                raise InvalidInputError(
                    f"{_show(where)} has a key of {utf8_size(key):,} bytes; metadata keys "
                    f"hold at most {MAX_METADATA_KEY_BYTES:,} bytes (MAX_METADATA_KEY_BYTES)"
                )
            _check_value(item, f"{where}.{key}", depth + 1)
        return
    if len(value) > MAX_METADATA_ARRAY_ITEMS:
        raise InvalidInputError(
            f"{_show(where)} is an array of {len(value):,} items; metadata arrays hold at "
            f"most {MAX_METADATA_ARRAY_ITEMS:,} (MAX_METADATA_ARRAY_ITEMS)"
        )
    for index, item in enumerate(value):
        _check_value(item, f"{where}[{index}]", depth + 1)


def check_record_text(text: str, name: str = "text") -> str:
    """``text`` unless it is longer than MAX_RECORD_TEXT_BYTES (InvalidInputError)."""
    if len(text) > MAX_RECORD_TEXT_BYTES or utf8_size(text) > MAX_RECORD_TEXT_BYTES:
        raise InvalidInputError(
            f"{name} is longer than {MAX_RECORD_TEXT_BYTES:,} bytes (MAX_RECORD_TEXT_BYTES)",
            hint="split long documents into passages",
        )
    return text


def _show(where: str) -> str:
    if len(where) <= _SHOWN_PATH_CHARS:
        return where
    return where[: _SHOWN_PATH_CHARS - 3].rstrip(".[") + "..."


__all__ = [
    "MAX_FILTER_BYTES",
    "MAX_FILTER_CONDITIONS",
    "MAX_FILTER_LIST_ITEMS",
    "MAX_FILTER_PATH_KEYS",
    "MAX_FILTER_STRING_BYTES",
    "MAX_METADATA_ARRAY_ITEMS",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "MAX_METADATA_KEY_BYTES",
    "MAX_METADATA_STRING_BYTES",
    "MAX_QUERY_TEXT_BYTES",
    "MAX_RECORD_TEXT_BYTES",
    "MAX_STORED_VECTOR_NORM",
    "MIN_STORED_VECTOR_NORM",
    "TOKENIZER_PREFIX_CHARS",
    "check_metadata_limits",
    "check_record_text",
    "utf8_size",
]
