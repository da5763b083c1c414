"""CEL as Inngest evaluates it: what matches, what does not, and what does not compile."""

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
        # the whole language, not a subset
        ("size(event.data.list) == 2 && event.data.list.exists(x, x > 1)", True),
        ("event.data.a.startsWith('x') && 'x' in ['x', 'y']", True),
        ("has(event.data.missing)", False),
    ],
)
def test_evaluation_follows_cel(expression: str, expected: bool) -> None:
    assert evaluate(expression, ENV) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "event.data.a = 'x'",
        "event.data.a ==",
        "(event.data.a == 'x'",
        "event.data.a == 'x' extra",
        "user.id == 1",
    ],
)
def test_an_expression_that_does_not_compile_is_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        compile_expression(expression)


def test_only_the_allowed_names_can_be_used() -> None:
    with pytest.raises(ValueError, match="unknown name 'async'"):
        compile_expression("async.data.x == 1", frozenset({"event"}))


def test_keys_are_strings_and_a_failing_key_is_the_empty_key() -> None:
    assert compile_expression("event.data.a").key(ENV) == "x"
    assert compile_expression("event.data.b").key(ENV) == "1"
    assert compile_expression("event.data.list").key(ENV) == "[1, 2]"
    assert compile_expression("event.data.missing").key(ENV) == ""
