"""How same-same's namespaces and records are laid out in Milvus collections.

* One **catalog** collection, ``PREFIX_namespaces``: one row per namespace (its
  scope, name, embedding space and data collection). Milvus needs a vector field in
  every collection; the catalog's is a constant 2-d placeholder.
* One **data** collection per embedding space, ``PREFIX_dDIM_HASH``: every record of
  every namespace made with that model. A record's primary key is
  ``NSUID:ID`` (``NSUID`` is 24 hex digits derived from the scope and namespace
  name), so the same id lives in several namespaces, pages in id order within a
  namespace, and an upsert replaces exactly one row. The ``ns`` field holds
  ``NSUID``; every search and query filters on it. (It is not a Milvus partition
  key: Milvus 2.3.5's upsert puts rows of a partition-key collection where its
  queries by that key do not find them.)

Why per space rather than per namespace: a Milvus collection costs seconds to
create and load and memory per loaded collection, and clusters cap their number
(65,536 by default), while namespaces are cheap in same-same (tests, one per
photo folder, one per user). Namespaces of one space can be searched together in
one request; deleting a namespace is a delete by expression, and its old rows are
gone for every reader as soon as it returns.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from ...errors import InvalidInputError
from ...records import EmbeddingSpace, Record
from ..checks import check_vector, encode_metadata
from .location import MilvusLocation

KEY = "key"
NS = "ns"
ID = "id"
VECTOR = "vector"
TEXT = "text"
HASH = "content_hash"
METADATA = "metadata"
NORM = "norm"

UID_LENGTH = 24
MAX_VARCHAR_BYTES = 65_535
MAX_HASH_BYTES = 1_024
MAX_METADATA_BYTES = 65_536
MAX_ID_BYTES = MAX_VARCHAR_BYTES - UID_LENGTH - 1
PLACEHOLDER = [1.0, 0.0]

CATALOG_FIELDS = ["key", "scope", "name", "space", "collection"]


def namespace_uid(scope: str, name: str) -> str:
    return hashlib.sha256(f"{scope}\0{name}".encode()).hexdigest()[:UID_LENGTH]


def record_key(uid: str, record_id: str) -> str:
    return f"{uid}:{record_id}"


def record_id_of(key: str) -> str:
    return key[UID_LENGTH + 1 :]


def catalog_name(location: MilvusLocation) -> str:
    return f"{location.prefix}_namespaces"


def data_collection_name(location: MilvusLocation, space: EmbeddingSpace) -> str:
    digest = hashlib.sha256(json.dumps(space.to_dict(), sort_keys=True).encode()).hexdigest()
    return f"{location.prefix}_d{space.dim}_{digest[:16]}"


def literal(value: str | int | float | bool) -> str:
    """A Milvus expression literal. Strings are JSON-quoted (Milvus reads Go escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def in_list(field: str, values: list[str]) -> str:
    return f"{field} in [{', '.join(literal(value) for value in values)}]"


def catalog_schema(pymilvus: Any) -> Any:
    schema = pymilvus.MilvusClient.create_schema(
        auto_id=False, enable_dynamic_field=False, description="same-same namespaces"
    )
    schema.add_field(KEY, pymilvus.DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("scope", pymilvus.DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
    schema.add_field("name", pymilvus.DataType.VARCHAR, max_length=4_096)
    schema.add_field("space", pymilvus.DataType.VARCHAR, max_length=MAX_VARCHAR_BYTES)
    schema.add_field("collection", pymilvus.DataType.VARCHAR, max_length=255)
    schema.add_field(VECTOR, pymilvus.DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER))
    return schema


def data_schema(pymilvus: Any, space: EmbeddingSpace) -> Any:
    schema = pymilvus.MilvusClient.create_schema(
        auto_id=False,
        enable_dynamic_field=False,
        description=json.dumps({"same_same": 1, "space": space.to_dict()}),
    )
    kind = pymilvus.DataType
    schema.add_field(KEY, kind.VARCHAR, is_primary=True, max_length=MAX_VARCHAR_BYTES)
    schema.add_field(NS, kind.VARCHAR, max_length=UID_LENGTH)
    schema.add_field(ID, kind.VARCHAR, max_length=MAX_VARCHAR_BYTES)
    schema.add_field(HASH, kind.VARCHAR, max_length=MAX_HASH_BYTES)
    schema.add_field(TEXT, kind.VARCHAR, max_length=MAX_VARCHAR_BYTES)
    schema.add_field(METADATA, kind.JSON)
    schema.add_field(NORM, kind.FLOAT)  # 0 marks the vectors Milvus's cosine search skips
    schema.add_field(VECTOR, kind.FLOAT_VECTOR, dim=space.dim)
    return schema


def data_index(client: Any, location: MilvusLocation) -> Any:
    params = client.prepare_index_params()
    params.add_index(
        field_name=VECTOR,
        index_type=location.index_type,
        metric_type="COSINE",
        params=location.build_params(),
    )
    return params


def catalog_index(client: Any) -> Any:
    params = client.prepare_index_params()
    params.add_index(field_name=VECTOR, index_type="FLAT", metric_type="L2", params={})
    return params


def record_row(record: Record, uid: str, dim: int) -> dict[str, Any]:
    """The row of ``record``, or InvalidInputError naming what Milvus cannot hold."""
    record_id = record.id
    if not isinstance(record_id, str) or not record_id:
        raise InvalidInputError(f"record ids must be non-empty strings, got {record_id!r}")
    what = f"record {record_id!r}"
    vector = check_vector(record.vector, dim, what)
    text, content_hash = record.text, record.content_hash
    if text is not None and not isinstance(text, str):
        raise InvalidInputError(f"{what}: text must be a string or null")
    if content_hash is not None and not isinstance(content_hash, str):
        raise InvalidInputError(f"{what}: content_hash must be a string or null")
    encoded = encode_metadata(record.metadata, what)
    _check_bytes(what, "id", record_id, MAX_ID_BYTES)
    _check_bytes(what, "text", text or "", MAX_VARCHAR_BYTES)
    _check_bytes(what, "content_hash", content_hash or "", MAX_HASH_BYTES)
    _check_bytes(what, "metadata (as JSON)", encoded, MAX_METADATA_BYTES)
    return {
        KEY: record_key(uid, record_id),
        NS: uid,
        ID: record_id,
        HASH: encode_hash(content_hash, record.from_image_ingest),
        TEXT: "" if text is None else "\x00" + text,
        METADATA: json.loads(encoded),
        NORM: float(np.linalg.norm(vector.astype(np.float64))),
        VECTOR: vector.tolist(),
    }


def optional(stored: str) -> str | None:
    """Text and hashes are stored with a leading NUL, so '' (absent) differs from ''."""
    return stored[1:] if stored else None


_API_HASH = "\x00"
_IMAGE_INGEST_HASH = "\x01"
"""The mark before a content hash: written by the image ingest (its files may be served)
or by anything else. Kept in the hash field, not a field of its own, so a lookup by hash
is still one ``in`` list (``hash_forms``)."""


def encode_hash(content_hash: str | None, from_image_ingest: bool) -> str:
    if content_hash is None:
        return ""
    return (_IMAGE_INGEST_HASH if from_image_ingest else _API_HASH) + content_hash


def hash_forms(content_hash: str) -> list[str]:
    """Every stored form of ``content_hash`` (``optional`` reads back either)."""
    return [_API_HASH + content_hash, _IMAGE_INGEST_HASH + content_hash]


def is_from_image_ingest(stored_hash: str) -> bool:
    return stored_hash.startswith(_IMAGE_INGEST_HASH)


def record_from_row(row: dict[str, Any], with_vector: bool = True) -> Record:
    vector = np.asarray(row[VECTOR], dtype=np.float32) if with_vector else np.zeros(0, np.float32)
    return Record(
        id=row[ID],
        vector=vector,
        text=optional(row[TEXT]),
        metadata=dict(row[METADATA] or {}),
        content_hash=optional(row[HASH]),
        from_image_ingest=is_from_image_ingest(row[HASH]),
    )


def _check_bytes(what: str, field: str, value: str, limit: int) -> None:
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInputError(f"{what}: {field} is not valid Unicode text") from None
    if size > limit:
        raise InvalidInputError(
            f"{what}: {field} is {size:,} bytes; the Milvus store holds at most {limit:,}"
        )


__all__ = [
    "CATALOG_FIELDS",
    "catalog_name",
    "data_collection_name",
    "encode_hash",
    "hash_forms",
    "in_list",
    "is_from_image_ingest",
    "literal",
    "namespace_uid",
    "record_from_row",
    "record_key",
    "record_row",
]
