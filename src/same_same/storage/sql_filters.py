"""Translate a FilterSet into an SQLite WHERE clause over a JSON metadata column.

The meaning of each operator is defined in ``same_same.filters``; this module
only restates it with SQLite's JSON1 functions. User strings never enter the SQL
text: values and JSON paths travel as parameters, and a path is built by quoting
each key (``$."exif"."camera"``), which ``parse_field_path`` makes safe by refusing
double quotes and control characters.

``near`` calls ``places.DISTANCE_FUNCTION``, the Python haversine every connection
registers (``sqlite_schema``), after ``json_type`` made sure both values are numbers;
the bounding-box ``between`` conditions before it keep most rows from reaching it.

``json_extract`` turns JSON true/false into 1/0 and cannot tell a missing field
from a null one, so every condition checks ``json_type`` first. Each fragment
evaluates to 0 or 1, never NULL, so ``NOT (...)`` is a plain negation.
"""

from __future__ import annotations

import json
from typing import Any

from ..filters import COMPARISON_OPERATORS, NEAR, Condition, FilterSet, Scalar
from ..places import DISTANCE_FUNCTION, Circle

_SQL_COMPARISONS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_NUMBER_TYPES = "('integer', 'real')"


def build_json_path(path: tuple[str, ...]) -> str:
    """``("exif", "camera")`` -> ``$."exif"."camera"``."""
    return "$" + "".join(f'."{key}"' for key in path)


def build_filter_sql(filters: FilterSet, column: str = "metadata") -> tuple[str, list[Any]]:
    """Return ``(sql, params)``: a boolean SQL expression true where every condition holds.

    ``column`` is a trusted identifier chosen by the store, never user input.
    """
    if not filters:
        return "1", []
    fragments: list[str] = []
    params: list[Any] = []
    for condition in filters.conditions:
        sql, condition_params = _build_condition(condition, column)
        fragments.append(sql)
        params.extend(condition_params)
    return " AND ".join(fragments), params


def _build_condition(condition: Condition, column: str) -> tuple[str, list[Any]]:
    path = build_json_path(condition.path)
    kind = f"IFNULL(json_type({column}, ?), '')"
    value = f"json_extract({column}, ?)"
    op, expected = condition.operator, condition.value

    if op == NEAR:
        return _build_near(column, expected)
    if op == "exists":
        negation = "NOT " if expected else ""
        return f"({kind} {negation}IN ('', 'null'))", [path]
    if op in ("eq", "neq"):
        sql, params = _build_equals(kind, value, path, expected)
        return (f"(NOT {sql})" if op == "neq" else sql), params
    if op in COMPARISON_OPERATORS:
        return (
            f"({kind} IN {_type_names(expected)} AND {value} {_SQL_COMPARISONS[op]} ?)",
            [path, path, expected],
        )
    if op == "between":
        low, high = expected
        return (
            f"({kind} IN {_type_names(low)} AND {value} BETWEEN ? AND ?)",
            [path, path, low, high],
        )
    if op == "in":
        return _build_in(kind, value, path, expected)
    return _build_contains(kind, value, path, column, expected)


def _build_near(column: str, circle: Circle) -> tuple[str, list[Any]]:
    lat, lon = build_json_path(("lat",)), build_json_path(("lon",))
    number = f"IFNULL(json_type({column}, ?), '') IN {_NUMBER_TYPES}"
    distance = f"{DISTANCE_FUNCTION}(json_extract({column}, ?), json_extract({column}, ?), ?, ?)"
    return (
        f"({number} AND {number} AND IFNULL({distance} <= ?, 0))",
        [lat, lon, lat, lon, circle.lat, circle.lon, circle.km],
    )


def _build_equals(kind: str, value: str, path: str, expected: Scalar) -> tuple[str, list[Any]]:
    if isinstance(expected, bool):
        return f"({kind} = ?)", [path, _bool_type(expected)]
    return f"({kind} IN {_type_names(expected)} AND {value} = ?)", [path, path, expected]


def _build_in(
    kind: str, value: str, path: str, expected: tuple[Scalar, ...]
) -> tuple[str, list[Any]]:
    # Lists of any length travel as one JSON parameter, read back with json_each.
    strings = [item for item in expected if isinstance(item, str)]
    booleans = sorted({_bool_type(item) for item in expected if isinstance(item, bool)})
    numbers = [
        item for item in expected if isinstance(item, (int, float)) and not isinstance(item, bool)
    ]
    parts: list[str] = []
    params: list[Any] = []
    for items, types in ((numbers, _NUMBER_TYPES), (strings, "('text')")):
        if items:
            parts.append(f"({kind} IN {types} AND {value} IN (SELECT value FROM json_each(?)))")
            params.extend([path, path, json.dumps(items)])
    if booleans:
        parts.append(f"({kind} IN ({', '.join('?' for _ in booleans)}))")
        params.extend([path, *booleans])
    if not parts:
        return "0", []
    return "(" + " OR ".join(parts) + ")", params


def _build_contains(
    kind: str, value: str, path: str, column: str, expected: Scalar
) -> tuple[str, list[Any]]:
    if isinstance(expected, bool):
        element = "element.type = ?"
        element_params: list[Any] = [_bool_type(expected)]
    else:
        element = f"element.type IN {_type_names(expected)} AND element.value = ?"
        element_params = [expected]
    in_array = (
        f"({kind} = 'array' AND EXISTS (SELECT 1 FROM json_each({column}, ?) AS element "
        f"WHERE {element}))"
    )
    array_params = [path, path, *element_params]
    if not isinstance(expected, str):
        return in_array, array_params
    # instr is case-sensitive, like Python's ``in``; LIKE would fold ASCII case.
    in_string = f"({kind} = 'text' AND instr({value}, ?) > 0)"
    return f"({in_string} OR {in_array})", [path, path, expected, *array_params]


def _type_names(expected: Scalar) -> str:
    return "('text')" if isinstance(expected, str) else _NUMBER_TYPES


def _bool_type(expected: bool) -> str:
    return "true" if expected else "false"


__all__ = ["build_filter_sql", "build_json_path"]
