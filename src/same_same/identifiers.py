"""What a record id and a namespace name may be, so that every one is addressable by URL.

Namespace names are checked when a namespace is created (through the API, ``ingest
-n`` or ``store.ensure_namespace`` of any store); namespaces made by older versions
under other names stay readable and deletable. Record ids are checked on every write:
the media routes ``.../{id}/image`` and ``.../{id}/thumbnail`` would shadow an id that
ends in one of their suffixes, ``/api/v1/vectors/count`` (and ``search``, ``embed``) the
ids ``count``, ``search`` and ``embed``, and control characters do not survive URLs,
logs or terminals.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import InvalidInputError

MAX_NAMESPACE_LENGTH = 128
NAMESPACE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
NAMESPACE_RULE = (
    f"letters, digits, '.', '_' and '-', starting with a letter or digit, "
    f"at most {MAX_NAMESPACE_LENGTH} characters"
)

MAX_RECORD_ID_LENGTH = 1024
RESERVED_ID_SUFFIXES = ("/image", "/thumbnail")
"""Paths of the media routes under ``/api/v1/vectors/{id}``."""
RESERVED_IDS = ("count", "search", "embed")
"""Fixed paths under ``/api/v1/vectors/``."""
RECORD_ID_RULE = (
    f"a non-empty string of at most {MAX_RECORD_ID_LENGTH} characters, without control "
    f"characters, not ending in {' or '.join(RESERVED_ID_SUFFIXES)}, "
    f"and none of {', '.join(RESERVED_IDS)}"
)


def describe_bad_namespace_name(name: Any) -> str | None:
    """Why ``name`` cannot name a new namespace, or None when it can."""
    if not isinstance(name, str) or not name:
        return f"a namespace name must be a non-empty string, got {name!r}"
    if len(name) > MAX_NAMESPACE_LENGTH:
        return f"namespace name {name[:40]!r}... is longer than {MAX_NAMESPACE_LENGTH} characters"
    if NAMESPACE_PATTERN.fullmatch(name) is None:
        return f"namespace name {name!r} is not allowed"
    return None


def check_namespace_name(name: Any) -> str:
    """``name``, when a new namespace may be called that (InvalidInputError otherwise)."""
    problem = describe_bad_namespace_name(name)
    if problem is not None:
        raise InvalidInputError(problem, hint=f"use {NAMESPACE_RULE}")
    return str(name)


def describe_bad_record_id(record_id: Any) -> str | None:
    """Why ``record_id`` cannot be stored, or None when it can."""
    if not isinstance(record_id, str) or not record_id.strip():
        return "a record id must be a non-empty string"
    if len(record_id) > MAX_RECORD_ID_LENGTH:
        return f"record id {record_id[:40]!r}... is longer than {MAX_RECORD_ID_LENGTH} characters"
    if any(ord(char) < 32 or 127 <= ord(char) < 160 for char in record_id):
        return f"record id {record_id[:80]!r} holds a control character"
    if record_id in RESERVED_IDS:
        return f"record id {record_id!r} is a path of the API (/api/v1/vectors/{record_id})"
    if record_id.endswith(RESERVED_ID_SUFFIXES):
        return f"record id {record_id[:80]!r} ends in a suffix the API keeps for its media routes"
    return None


def check_record_id(record_id: Any) -> str:
    """``record_id``, when a record may be stored under it (InvalidInputError otherwise)."""
    problem = describe_bad_record_id(record_id)
    if problem is not None:
        raise InvalidInputError(problem, hint=f"a record id is {RECORD_ID_RULE}")
    return str(record_id)
