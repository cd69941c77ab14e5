"""The words a keyword search looks up: split so file names and paths become useful terms.

``IMG_2041_beach-sunset.jpg`` -> ``img 2041 beach sunset jpg``: split on every
character that is not a letter or a digit, between a lower-case and an upper-case
letter (``BeachSunset``), and between letters and digits (``scene00010``). The
store's FTS5 table then stems the terms (``porter``), so "sunsets" finds "sunset".

A record's terms come from its id, its text and every string in its metadata
(labels, file name, path, strings in lists and nested objects). A query's terms are
split the same way, each quoted (user input never reaches FTS5's query syntax), and
joined with OR, so bm25 ranks first the records matching the most and the rarest
terms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

MAX_INPUT_CHARS = 20_000
"""Of a record's strings together: a huge metadata value cannot blow up the index."""
_PIECE = re.compile(r"[^\W_]+")
_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


def split_terms(text: str) -> list[str]:
    """Lower-cased terms of ``text`` (see the module's docstring)."""
    terms: list[str] = []
    for piece in _PIECE.findall(text):
        terms.extend(part.casefold() for part in _BOUNDARY.split(piece) if part)
    return terms


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def record_terms(record_id: str, text: str | None, metadata: Mapping[str, Any]) -> str:
    """The searchable terms of a record, space-separated."""
    pieces = [record_id, text or "", *_strings(metadata)]
    joined = " ".join(pieces)[:MAX_INPUT_CHARS]
    return " ".join(split_terms(joined))


def terms_of_row(record_id: str, text: str | None, metadata_json: str | None) -> str:
    """``record_terms`` of a stored row (the SQL function the store's triggers call)."""
    try:
        metadata = json.loads(metadata_json) if metadata_json else {}
    except ValueError:
        metadata = {}
    return record_terms(record_id, text, metadata if isinstance(metadata, dict) else {})


def match_expression(query: str) -> str | None:
    """The FTS5 MATCH expression for ``query``; None when it has no terms."""
    terms = list(dict.fromkeys(split_terms(query[:MAX_INPUT_CHARS])))
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


__all__ = ["match_expression", "record_terms", "split_terms", "terms_of_row"]
