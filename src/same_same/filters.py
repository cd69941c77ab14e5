"""Metadata filters: parse the user's filter object into typed conditions, and say what they mean.

``parse_filters`` validates a filter object (from the API, the CLI or Python) and
raises ``InvalidInputError`` naming the field and the problem, so callers can
reject bad input before searching. ``FilterSet.matches`` is the reference
meaning of a filter; stores translate it into their own query language and the
contract tests check they agree with it.

Semantics, in one place:

* ``{"field": value}`` is ``{"field": {"eq": value}}``. Several operators on one
  field, and several fields, must all hold (AND).
* A field name is a dotted path into nested objects: ``exif.camera`` reads
  ``metadata["exif"]["camera"]``. Keys that contain a dot or a double quote
  cannot be addressed. Paths never index into arrays.
* Values are typed. A number compares only with numbers (``1 == 1.0``), a string
  only with strings (by code point, so ISO dates order correctly), a boolean only
  with booleans. ``{"year": 1900}`` does not match ``"year": "1900"``.
* A JSON ``null`` in the metadata counts as a missing field.
* ``neq`` is the negation of ``eq``: it matches records where the field is
  missing, null, of another type, or different.
* ``lt``/``lte``/``gt``/``gte``/``between`` take a number or a string and match
  values of the same type only. ``between`` is ``[low, high]``, both ends included.
* ``contains`` with a string matches a string field containing it (case-sensitive)
  or an array field with that string as an element; with a number or boolean it
  matches an array field with that element.
* ``in`` takes a list of values and matches a scalar field equal to one of them
  (an empty list matches nothing). An array field never matches ``in``.
* ``exists: true`` matches a field that is present and not null; ``exists: false``
  the opposite.
* ``"near": {"lat": 48.85, "lon": 2.35, "km": 5}`` (a top-level key, not a field)
  matches records whose top-level ``lat``/``lon`` numbers lie within ``km``
  great-circle kilometres of the point, the edge included (``places``). It becomes
  two ``between`` conditions on ``lat`` and ``lon`` (the circle's bounding box, which
  every store answers fast; no ``lon`` box where it would wrap a pole or the
  antimeridian) and one ``near`` condition for the exact distance. A metadata field
  called ``near`` is still filtered with operators: ``{"near": {"eq": "x"}}``.

Size: at most ``limits.MAX_FILTER_CONDITIONS`` conditions, ``MAX_FILTER_LIST_ITEMS``
values per ``in`` list, ``MAX_FILTER_STRING_BYTES`` per string, ``MAX_FILTER_PATH_KEYS``
keys per field name and ``MAX_FILTER_BYTES`` of names and values in all, so a filter
costs every store a bounded query.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidInputError
from .limits import (
    MAX_FILTER_BYTES,
    MAX_FILTER_CONDITIONS,
    MAX_FILTER_LIST_ITEMS,
    MAX_FILTER_PATH_KEYS,
    MAX_FILTER_STRING_BYTES,
    utf8_size,
)
from .places import parse_circle
from .places import show_value as _show

Scalar = str | int | float | bool
"""A value a condition compares with."""

COMPARISON_OPERATORS = ("lt", "lte", "gt", "gte")
OPERATORS = ("eq", "neq", *COMPARISON_OPERATORS, "between", "contains", "in", "exists")
NEAR = "near"
"""The place filter's key, and the operator of its exact-distance condition (whose
value is a ``places.Circle`` and whose path is empty: it reads ``lat`` and ``lon``)."""

_MAX_FIELD_LENGTH = 256
_INT64 = 2**63


@dataclass(frozen=True)
class Condition:
    """One operator applied to one metadata field.

    ``value`` depends on ``operator``: a scalar for eq/neq/lt/lte/gt/gte/contains,
    a ``(low, high)`` pair for between, a tuple of scalars for in, a bool for exists.
    """

    field: str
    path: tuple[str, ...]
    operator: str
    value: Any

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        return _evaluate(self, read_path(metadata, self.path))


@dataclass(frozen=True)
class FilterSet:
    """All conditions of a filter object; a record matches when every one holds."""

    conditions: tuple[Condition, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def __len__(self) -> int:
        return len(self.conditions)

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        return all(condition.matches(metadata) for condition in self.conditions)


def parse_filters(raw: Mapping[str, Any] | FilterSet | None) -> FilterSet:
    """Validate a filter object and return its conditions, in the order given.

    Raises InvalidInputError with a one-line message naming the field at fault.
    """
    if raw is None:
        return FilterSet()
    if isinstance(raw, FilterSet):
        return raw
    if not isinstance(raw, Mapping):
        raise InvalidInputError(
            f"filters must be an object mapping field names to conditions, got {_show(raw)}",
            hint='e.g. {"year": {"gte": 1900}, "type": "image"}',
        )
    _check_condition_count(len(raw))
    conditions: list[Condition] = []
    for field, spec in raw.items():
        if field == NEAR and isinstance(spec, Mapping) and not set(spec) & set(OPERATORS):
            conditions.extend(_parse_near(spec))
            continue
        path = parse_field_path(field)
        conditions.extend(_parse_field(field, path, spec))
        _check_condition_count(len(conditions))
    _check_filter_size(conditions)
    return FilterSet(tuple(conditions))


def _parse_near(spec: Mapping[str, Any]) -> list[Condition]:
    circle = parse_circle(spec)
    lat_box, lon_box = circle.bounding_box()
    conditions = [Condition("lat", ("lat",), "between", lat_box)]
    if lon_box is not None:
        conditions.append(Condition("lon", ("lon",), "between", lon_box))
    conditions.append(Condition(NEAR, (), NEAR, circle))
    return conditions


def _check_condition_count(count: int) -> None:
    if count > MAX_FILTER_CONDITIONS:
        raise InvalidInputError(
            f"the filter has more than {MAX_FILTER_CONDITIONS} conditions (MAX_FILTER_CONDITIONS)",
            hint="narrow it down with fewer fields, or one 'in' list per field",
        )


def _check_filter_size(conditions: list[Condition]) -> None:
    size = 0
    for condition in conditions:
        values = condition.value if isinstance(condition.value, tuple) else (condition.value,)
        size += utf8_size(condition.field) + sum(_value_size(value) for value in values)
    if size > MAX_FILTER_BYTES:
        raise InvalidInputError(
            f"the filter's field names and values are {size:,} bytes; at most "
            f"{MAX_FILTER_BYTES:,} (MAX_FILTER_BYTES)"
        )


def _value_size(value: Scalar) -> int:
    if isinstance(value, str):
        return utf8_size(value)
    return len(str(value))


def parse_field_path(field: object) -> tuple[str, ...]:
    """Split a dotted field name into the keys it walks through."""
    if not isinstance(field, str) or not field:
        raise InvalidInputError(f"filter field names must be non-empty strings, got {_show(field)}")
    if len(field) > _MAX_FIELD_LENGTH:
        raise InvalidInputError(
            f"filter field name is longer than {_MAX_FIELD_LENGTH} characters: {field[:40]!r}..."
        )
    if '"' in field or any(ord(ch) < 32 for ch in field):
        raise InvalidInputError(
            f"filter field {field!r} contains a double quote or a control character"
        )
    path = tuple(field.split("."))
    if len(path) > MAX_FILTER_PATH_KEYS:
        raise InvalidInputError(
            f"filter field {field[:40]!r}... has {len(path)} keys; metadata nests at most "
            f"{MAX_FILTER_PATH_KEYS} deep (MAX_FILTER_PATH_KEYS)"
        )
    if any(not key for key in path):
        raise InvalidInputError(
            f"filter field {field!r} has an empty part; use dots only between keys, "
            "as in 'exif.camera'"
        )
    return path


def read_path(metadata: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in ``metadata``, or None when missing (or null)."""
    value: Any = metadata
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _parse_field(field: str, path: tuple[str, ...], spec: Any) -> list[Condition]:
    if isinstance(spec, Mapping):
        if not spec:
            raise InvalidInputError(
                f"filter on {field!r} has no operator; known: {', '.join(OPERATORS)}"
            )
        return [_parse_condition(field, path, op, value) for op, value in spec.items()]
    if spec is None:
        raise InvalidInputError(
            f"filter on {field!r} is null; to match records without the field "
            'use {"exists": false}'
        )
    if isinstance(spec, (list, tuple)):
        raise InvalidInputError(
            f'filter on {field!r} is a list; use {{"in": [...]}} to match any of several '
            'values or {"contains": value} to look inside an array field'
        )
    return [_parse_condition(field, path, "eq", spec)]


def _parse_condition(field: str, path: tuple[str, ...], op: Any, value: Any) -> Condition:
    where = f"filter on {field!r}"
    if op not in OPERATORS:
        hint = None
        if isinstance(op, str):
            close = difflib.get_close_matches(op.lower().lstrip("$"), OPERATORS, n=1)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else (f"for a nested field write '{field}.{op}'")
            )
        raise InvalidInputError(
            f"{where}: unknown operator {_show(op)}; known: {', '.join(OPERATORS)}", hint=hint
        )
    where = f"{where}: {op!r}"
    if op in ("eq", "neq", "contains"):
        return Condition(field, path, op, _check_scalar(where, value))
    if op in COMPARISON_OPERATORS:
        return Condition(field, path, op, _check_orderable(where, value))
    if op == "between":
        return Condition(field, path, op, _check_range(where, value))
    if op == "in":
        if not isinstance(value, (list, tuple)):
            raise InvalidInputError(f"{where} needs a list of values, got {_show(value)}")
        if len(value) > MAX_FILTER_LIST_ITEMS:
            raise InvalidInputError(
                f"{where} has {len(value):,} values; an 'in' list holds at most "
                f"{MAX_FILTER_LIST_ITEMS:,} (MAX_FILTER_LIST_ITEMS)"
            )
        return Condition(field, path, op, tuple(_check_scalar(where, item) for item in value))
    if not isinstance(value, bool):  # exists
        raise InvalidInputError(f"{where} needs true or false, got {_show(value)}")
    return Condition(field, path, op, value)


def _check_scalar(where: str, value: Any) -> Scalar:
    if isinstance(value, str):
        return _check_string(where, value)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return _check_number(where, value)
    raise InvalidInputError(f"{where} needs a string, number or boolean, got {_show(value)}")


def _check_orderable(where: str, value: Any) -> Scalar:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidInputError(f"{where} needs a number or a string, got {_show(value)}")
    return _check_string(where, value) if isinstance(value, str) else _check_number(where, value)


def _check_string(where: str, value: str) -> str:
    # len() first: a huge string is refused without encoding it
    if len(value) > MAX_FILTER_STRING_BYTES or utf8_size(value) > MAX_FILTER_STRING_BYTES:
        raise InvalidInputError(
            f"{where}: a string longer than {MAX_FILTER_STRING_BYTES:,} bytes "
            "(MAX_FILTER_STRING_BYTES)"
        )
    return value


def _check_number(where: str, value: int | float) -> int | float:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(f"{where} needs a finite number, got {value}")
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        raise InvalidInputError(f"{where}: integer {value} is out of the 64-bit range")
    return value


def _check_range(where: str, value: Any) -> tuple[Scalar, Scalar]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InvalidInputError(
            f"{where} needs a list of two values [low, high], got {_show(value)}"
        )
    low, high = (_check_orderable(where, end) for end in value)
    if isinstance(low, str) != isinstance(high, str):
        raise InvalidInputError(
            f"{where} needs two numbers or two strings, got {_show(low)} and {_show(high)}"
        )
    if low > high:  # type: ignore[operator]  # same type, checked above
        raise InvalidInputError(f"{where}: low end {_show(low)} is above high end {_show(high)}")
    return (low, high)


def _evaluate(condition: Condition, actual: Any) -> bool:
    op, expected = condition.operator, condition.value
    if op == NEAR:  # the path is empty: ``actual`` is the whole metadata
        return expected.contains(read_path(actual, ("lat",)), read_path(actual, ("lon",)))
    if op == "exists":
        return (actual is not None) is expected
    if op == "eq":
        return equals_typed(actual, expected)
    if op == "neq":
        return not equals_typed(actual, expected)
    if op == "in":
        return any(equals_typed(actual, item) for item in expected)
    if op == "contains":
        if isinstance(actual, list):
            return any(equals_typed(item, expected) for item in actual)
        return isinstance(actual, str) and isinstance(expected, str) and expected in actual
    if op == "between":
        low, high = expected
        return _same_kind(actual, low) and low <= actual <= high
    if not _same_kind(actual, expected):
        return False
    if op == "lt":
        return bool(actual < expected)
    if op == "lte":
        return bool(actual <= expected)
    if op == "gt":
        return bool(actual > expected)
    return bool(actual >= expected)


def equals_typed(actual: Any, expected: Scalar) -> bool:
    """Equality that never mixes numbers, strings and booleans."""
    return _same_kind(actual, expected) and bool(actual == expected)


def _same_kind(actual: Any, expected: Scalar) -> bool:
    return _kind(actual) == _kind(expected) != "other"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


__all__ = [
    "NEAR",
    "OPERATORS",
    "Condition",
    "FilterSet",
    "Scalar",
    "equals_typed",
    "parse_field_path",
    "parse_filters",
    "read_path",
]
