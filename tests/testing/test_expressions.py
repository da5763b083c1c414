"""The CEL subset: what matches, what does not, and what is refused outright."""

from __future__ import annotations

import pytest

from inngest_app.testing.expressions import compile_expression, evaluate

ENV = {
    "event": {"data": {"a": "x", "b": 1, "list": [1, 2], "dashed-key": True, "none": None}},
    "async": {"data": {"b": 1, "n": 3, "quote": "it's"}},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("event.data.a == 'x' && async.data.b == event.data.b", True),
        ('event.data.a == "x"', True),
        ("event.data.a != 'x' || !(async.data.n > 2)", False),
        ("async.data.n >= 3 && async.data.n < 3.5 && event.data.b <= 1", True),
        ("event.data.b == 1.0 && event.data.b > -1", True),
        ("event.data.list[1] == 2 && event.data['dashed-key']", True),
        ("event.data.none == null", True),
        ("async.data.quote == 'it\\'s'", True),
        # CEL: a missing field is an error, so even != does not match...
        ("event.data.missing == 'x'", False),
        ("event.data.missing != 'x'", False),
        # ...unless the other side of || / && decides on its own
        ("event.data.missing == 'x' || true", True),
        ("false && event.data.missing == 'x'", False),
        # no cross-type equality for bools, no ordering across types
        ("event.data.b == true", False),
        ("event.data.a > 1", False),
        ("event.data.a", False),  # a string is not true
    ],
)
def test_evaluation_follows_cel(expression: str, expected: bool) -> None:
    assert evaluate(expression, ENV) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "event.data.a = 'x'",
        "size(event.data) > 1",
        "event.data.a ==",
        "(event.data.a == 'x'",
        "event.data.a == 'x' extra",
        "event.data[1.5] == 1",
    ],
)
def test_anything_outside_the_subset_is_refused_when_parsed(expression: str) -> None:
    with pytest.raises(ValueError):
        compile_expression(expression)


def test_only_the_allowed_names_can_be_used() -> None:
    with pytest.raises(ValueError, match="unknown name 'async'"):
        compile_expression("async.data.x == 1", frozenset({"event"}))
