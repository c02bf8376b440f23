"""The $filter grammar over image metadata: what parses to what, and what is refused."""

from __future__ import annotations

from contextlib import AbstractContextManager
from contextlib import nullcontext as does_not_raise

import pytest

from ownvision import errors
from ownvision.services.metadata_filter import MAX_COMPARISONS, MAX_DEPTH, And, Cmp, Or, condition, parse

BAD = pytest.raises(errors.BadRequest)


@pytest.mark.parametrize("text, expected, expectation", [
    ("a eq 'b'", Cmp("a", "eq", "b"), does_not_raise()),
    ("a ne 'b'", Cmp("a", "ne", "b"), does_not_raise()),
    ("  a   EQ   'b'  ", Cmp("a", "eq", "b"), does_not_raise()),
    ("'key with space' eq 'v'", Cmp("key with space", "eq", "v"), does_not_raise()),
    ("a eq 'it''s'", Cmp("a", "eq", "it's"), does_not_raise()),
    ("a eq ''", Cmp("a", "eq", ""), does_not_raise()),
    ("x.y-z_1 eq 'v'", Cmp("x.y-z_1", "eq", "v"), does_not_raise()),
    ("a eq '1' and b eq '2' or c eq '3'",
     Or(And(Cmp("a", "eq", "1"), Cmp("b", "eq", "2")), Cmp("c", "eq", "3")), does_not_raise()),
    ("a eq '1' and (b eq '2' or c eq '3')",
     And(Cmp("a", "eq", "1"), Or(Cmp("b", "eq", "2"), Cmp("c", "eq", "3"))), does_not_raise()),
    ("((a eq '1'))", Cmp("a", "eq", "1"), does_not_raise()),
    ("(" * MAX_DEPTH + "a eq '1'" + ")" * MAX_DEPTH, Cmp("a", "eq", "1"), does_not_raise()),
    ("(" * (MAX_DEPTH + 1) + "a eq '1'" + ")" * (MAX_DEPTH + 1), None, BAD),
    (" or ".join(["a eq '1'"] * (MAX_COMPARISONS + 1)), None, BAD),
    ("(" * 2000 + "a eq '1'" + ")" * 2000, None, BAD),
    ("a eq 'b' " + "x" * 5000, None, BAD),
    ("a eq b", None, BAD),
    ("a = 'b'", None, BAD),
    ("a gt 'b'", None, BAD),
    ("a eq", None, BAD),
    ("eq 'b'", None, BAD),
    ("a eq 'b' and", None, BAD),
    ("a eq 'b' or or c eq 'd'", None, BAD),
    ("(a eq 'b'", None, BAD),
    ("a eq 'b')", None, BAD),
    ("a eq 'unterminated", None, BAD),
    ("a eq 'b' c eq 'd'", None, BAD),
    ("a eq 'b' ;drop", None, BAD),
])
def test_parse_cases(text: str, expected: object, expectation: AbstractContextManager[object]) -> None:
    with expectation:
        assert parse(text) == expected


@pytest.mark.parametrize("text", ["", "   ", None])
def test_condition_empty_is_none(text: str | None) -> None:
    assert condition(text) is None


def test_condition_error_code() -> None:
    with pytest.raises(errors.BadRequest) as exc:
        condition("a eq")
    assert exc.value.code == "BadRequestInvalid" and "$filter" in exc.value.message
