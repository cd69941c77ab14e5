"""Metadata filters as Milvus boolean expressions over the JSON ``metadata`` field.

The meaning of a filter is ``same_same.filters``; Milvus's JSON expressions differ
from it in corners (a JSON null counts as present for ``exists``, a string
``contains`` is a substring test that Milvus's ``like`` cannot express). So the
store sends Milvus an expression that keeps *at least* every matching record (a
superset), and checks each candidate against ``FilterSet.matches`` before it is
ranked. Conditions translate exactly where Milvus agrees with the reference
semantics, which is what matters for speed:

* eq, lt, lte, gt, gte, between and in on numbers, strings and booleans (Milvus
  compares JSON values by type, as same-same does: 1 is not true, "1920" is not 1920);
* contains with a number or a boolean (``json_contains`` on an array);
* exists: true (Milvus counts a null as present: a superset).

``near`` (the exact distance) is checked in the client only; its bounding box
travels as the two ``between`` conditions the filter has beside it.

neq, exists: false and contains with a string are checked in the client only:
they keep most records anyway, or Milvus cannot state them. Every operator the
embedded store supports therefore works on Milvus too, with the same answers.
"""

from __future__ import annotations

import math

from ...filters import Condition, FilterSet, Scalar
from .layout import METADATA, literal

_SAFE_KEY = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-:@#$%&*+=/ ")
_COMPARISONS = {"eq": "==", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_EXACT_INT = 2**53


class Pushdown:
    """The Milvus expression for a FilterSet, and whether the client must re-check it."""

    def __init__(self, filters: FilterSet) -> None:
        parts: list[str] = []
        self.exact = True
        self.impossible = False
        for condition in filters.conditions:
            if condition.operator == "in" and not condition.value:
                self.impossible = True  # ``in []`` matches nothing, so neither does the AND
            expression = condition_expression(condition)
            if expression is None or condition.operator == "exists":
                self.exact = False  # exists: Milvus counts a null as present
            if expression is not None:
                parts.append(expression)
        self.expression = " and ".join(f"({part})" for part in parts)


def condition_expression(condition: Condition) -> str | None:
    """An expression true for every record the condition matches (None: cannot say)."""
    if not all(_SAFE_KEY >= set(key) for key in condition.path):
        return None
    field = METADATA + "".join(f"[{literal(key)}]" for key in condition.path)
    op, value = condition.operator, condition.value
    if op in _COMPARISONS:
        return _compare(field, _COMPARISONS[op], value)
    if op == "between":
        low, high = value
        left, right = _compare(field, ">=", low), _compare(field, "<=", high)
        return None if left is None or right is None else f"{left} and {right}"
    if op == "in":
        return _any_of(field, value)
    if op == "contains":
        if isinstance(value, str) or not _sendable(value):
            return None
        return f"json_contains({field}, {literal(value)})"
    if op == "exists" and value is True:
        return f"exists {field}"
    return None


def _compare(field: str, operator: str, value: Scalar) -> str | None:
    if not _sendable(value):
        return None
    if isinstance(value, bool) and operator != "==":
        return None
    return f"{field} {operator} {literal(value)}"


def _any_of(field: str, values: tuple[Scalar, ...]) -> str | None:
    if not values or not all(_sendable(value) for value in values):
        return None
    numbers: list[Scalar] = [
        v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    if any(isinstance(v, float) for v in numbers):
        numbers = [float(v) for v in numbers]  # a Milvus list literal holds one type
    strings = [v for v in values if isinstance(v, str)]
    booleans = sorted({v for v in values if isinstance(v, bool)})
    parts = [
        f"{field} in [{', '.join(literal(v) for v in group)}]"
        for group in (numbers, strings)
        if group
    ]
    parts.extend(f"{field} == {literal(v)}" for v in booleans)
    return " or ".join(parts)


def _sendable(value: Scalar) -> bool:
    """Values whose Milvus literal means exactly the same value."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) < _EXACT_INT
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) < _EXACT_INT and "e" not in repr(value)
    return "\\" not in value and all(ord(ch) >= 32 for ch in value)


def combine(*expressions: str) -> str:
    """``a and b`` of the non-empty expressions, each in parentheses."""
    parts = [f"({expression})" for expression in expressions if expression]
    return " and ".join(parts)


__all__ = ["Pushdown", "combine", "condition_expression"]
