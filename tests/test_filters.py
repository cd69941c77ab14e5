"""Filter parsing and validation, and the reference meaning of each operator.

Stores are checked against ``FilterSet.matches`` in test_store_contract.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from same_same.errors import InvalidInputError
from same_same.filters import Condition, FilterSet, parse_filters


def test_bare_value_means_eq() -> None:
    parsed = parse_filters({"type": "image"})
    assert parsed.conditions == (Condition("type", ("type",), "eq", "image"),)


def test_several_operators_and_fields_become_separate_conditions_in_order() -> None:
    parsed = parse_filters({"year": {"gte": 1900, "lte": 1950}, "exif.camera": {"exists": True}})
    assert [(c.field, c.path, c.operator, c.value) for c in parsed.conditions] == [
        ("year", ("year",), "gte", 1900),
        ("year", ("year",), "lte", 1950),
        ("exif.camera", ("exif", "camera"), "exists", True),
    ]


def test_list_values_become_tuples() -> None:
    parsed = parse_filters({"a": {"in": ["x", 1, True]}, "b": {"between": [1, 2.5]}})
    assert parsed.conditions[0].value == ("x", 1, True)
    assert parsed.conditions[1].value == (1, 2.5)


def test_none_and_empty_mean_no_filter() -> None:
    assert not parse_filters(None)
    assert not parse_filters({})
    assert len(parse_filters({"a": 1, "b": 2})) == 2


def test_a_parsed_filter_set_passes_through() -> None:
    parsed = parse_filters({"a": 1})
    assert parse_filters(parsed) is parsed


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([("a", 1)], "filters must be an object"),
        ("year>1900", "filters must be an object"),
        ({"year": {"gtee": 1900}}, 'unknown operator "gtee"'),
        ({"year": {"$gt": 1900}}, 'unknown operator "$gt"'),
        ({"year": {}}, "has no operator"),
        ({"year": None}, "is null"),
        ({"tags": ["a", "b"]}, "is a list"),
        ({"year": {"between": [1900]}}, "'between' needs a list of two values"),
        ({"year": {"between": 1900}}, "'between' needs a list of two values"),
        ({"year": {"between": [1, 2, 3]}}, "'between' needs a list of two values"),
        ({"year": {"between": [1, "2"]}}, "two numbers or two strings"),
        ({"year": {"between": [1950, 1900]}}, "low end 1950 is above high end 1900"),
        ({"year": {"between": [True, False]}}, "needs a number or a string"),
        ({"year": {"in": "1900"}}, "'in' needs a list of values"),
        ({"year": {"in": 1900}}, "'in' needs a list of values"),
        ({"year": {"in": [1900, [1901]]}}, "'in' needs a string, number or boolean"),
        ({"year": {"in": [None]}}, "'in' needs a string, number or boolean"),
        ({"year": {"gt": True}}, "'gt' needs a number or a string"),
        ({"year": {"lt": [1]}}, "'lt' needs a number or a string"),
        ({"year": {"gte": None}}, "'gte' needs a number or a string"),
        ({"year": {"lte": float("nan")}}, "'lte' needs a finite number"),
        ({"year": {"eq": float("inf")}}, "'eq' needs a finite number"),
        ({"year": {"eq": 2**70}}, "out of the 64-bit range"),
        ({"year": {"eq": {"a": 1}}}, "'eq' needs a string, number or boolean"),
        ({"year": {"neq": None}}, "'neq' needs a string, number or boolean"),
        ({"tags": {"contains": ["a"]}}, "'contains' needs a string, number or boolean"),
        ({"year": {"exists": "yes"}}, "'exists' needs true or false"),
        ({"year": {"exists": 1}}, "'exists' needs true or false"),
        ({"": 1}, "non-empty strings"),
        ({"exif..camera": 1}, "has an empty part"),
        ({".camera": 1}, "has an empty part"),
        ({"exif.": 1}, "has an empty part"),
        ({'say "hi"': 1}, "double quote"),
        ({"a\nb": 1}, "control character"),
        ({"x" * 300: 1}, "longer than 256"),
    ],
)
def test_bad_filters_are_refused_with_a_precise_message(raw: Any, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_filters(raw)
    assert message in str(caught.value)


def test_errors_name_the_field() -> None:
    with pytest.raises(InvalidInputError, match="filter on 'year': 'between'"):
        parse_filters({"year": {"between": [1]}})


def test_unknown_operator_lists_the_known_ones_and_suggests_a_close_one() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_filters({"year": {"gtee": 1900}})
    assert "known: eq, neq, lt, lte, gt, gte, between, contains, in, exists" in caught.value.message
    assert caught.value.hint == "did you mean 'gte'?"


def test_a_nested_object_is_pointed_to_dotted_paths() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_filters({"exif": {"camera": "X100"}})
    assert caught.value.hint == "for a nested field write 'exif.camera'"


def test_non_string_field_names_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="non-empty strings"):
        parse_filters({1: "a"})


# -- what the conditions mean (the reference semantics) -----------------------

RECORD: dict[str, Any] = {
    "year": 1920,
    "price": 9.5,
    "title": "The Old Mill",
    "date": "1920-05-01",
    "digitised": True,
    "draft": False,
    "tags": ["mill", "river", 7, True],
    "exif": {"camera": "X100", "iso": 200},
    "note": None,
    "year_text": "1920",
}


def matches(raw: dict[str, Any]) -> bool:
    return parse_filters(raw).matches(RECORD)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"year": 1920}, True),
        ({"year": 1920.0}, True),
        ({"year": "1920"}, False),  # strings never equal numbers
        ({"year_text": 1920}, False),
        ({"year_text": "1920"}, True),
        ({"digitised": True}, True),
        ({"digitised": 1}, False),  # booleans are not numbers
        ({"year": True}, False),
        ({"draft": False}, True),
        ({"year": {"neq": 1921}}, True),
        ({"year": {"neq": 1920}}, False),
        ({"year": {"neq": "1920"}}, True),
        ({"missing": {"neq": 1}}, True),  # neq matches missing fields
        ({"note": {"neq": 1}}, True),  # null counts as missing
        ({"year": {"gt": 1919, "lt": 1921}}, True),
        ({"year": {"gte": 1920, "lte": 1920}}, True),
        ({"year": {"gt": 1920}}, False),
        ({"year": {"lt": "2000"}}, False),  # a string bound never matches a number
        ({"date": {"gte": "1920-01-01", "lt": "1921-01-01"}}, True),
        ({"price": {"between": [9, 10]}}, True),
        ({"price": {"between": [9.5, 9.5]}}, True),
        ({"price": {"between": [9.6, 10]}}, False),
        ({"year_text": {"between": [1900, 1950]}}, False),
        ({"title": {"contains": "Old"}}, True),
        ({"title": {"contains": "old"}}, False),  # case-sensitive
        ({"tags": {"contains": "river"}}, True),
        ({"tags": {"contains": "riv"}}, False),  # array elements match whole
        ({"tags": {"contains": 7}}, True),
        ({"tags": {"contains": 7.0}}, True),
        ({"tags": {"contains": "7"}}, False),
        ({"tags": {"contains": True}}, True),
        ({"tags": {"contains": False}}, False),
        ({"year": {"contains": 1920}}, False),
        ({"year": {"in": [1919, 1920]}}, True),
        ({"year": {"in": ["1920"]}}, False),
        ({"year": {"in": []}}, False),
        ({"tags": {"in": ["mill"]}}, False),  # an array field never matches in
        ({"digitised": {"in": [True]}}, True),
        ({"exif.camera": "X100"}, True),
        ({"exif.iso": {"gte": 100}}, True),
        ({"exif.missing": {"exists": False}}, True),
        ({"title.sub": {"exists": False}}, True),  # a path through a string goes nowhere
        ({"exif": {"exists": True}}, True),
        ({"note": {"exists": True}}, False),
        ({"note": {"exists": False}}, True),
        ({"missing": {"exists": False}}, True),
        ({"year": 1920, "title": {"contains": "Mill"}}, True),
        ({"year": 1920, "title": {"contains": "Barn"}}, False),
    ],
)
def test_reference_semantics(raw: dict[str, Any], expected: bool) -> None:
    assert matches(raw) is expected


def test_an_empty_filter_set_matches_everything() -> None:
    assert FilterSet().matches({})
    assert FilterSet().matches(RECORD)
