"""A small, safe evaluator for the subset of CEL that Inngest expressions use here.

Supported: paths over the names the caller allows (`event.data.user_id`, `async.data["a-b"]`),
string, integer, float, bool and null literals, `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`,
`!`, unary `-` and parentheses. An expression is parsed once (`compile_expression`) and anything
outside the subset is a `ValueError` at that point, so a test fails loudly instead of matching
silently. Nothing is `eval`-ed.

Evaluation follows CEL where it matters for matching: a missing field or a comparison of
unrelated types is an error, not a value; `false && error` is false and `true || error` is true;
any other error makes the whole expression not match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<num>\d+\.\d+|\d+)
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].-])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
_KEYWORDS = {"true": True, "false": False, "null": None}


class _Error:
    """CEL's error value: no such key, or a comparison that has no meaning."""


_ERROR = _Error()
Node = tuple[Any, ...]


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def _tokenize(expression: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos, text = 0, expression.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            raise ValueError(f"cannot parse expression {expression!r} at {text[pos:]!r}")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, expression: str, names: frozenset[str]) -> None:
        self.expression = expression
        self.tokens = _tokenize(expression)
        self.pos = 0
        self.names = names

    def fail(self, why: str) -> ValueError:
        return ValueError(f"{why} in expression {self.expression!r}")

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise self.fail("unexpected end")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        if self.take()[1] != text:
            raise self.fail(f"expected {text!r}")

    def parse(self) -> Node:
        node = self.parse_or()
        if self.pos != len(self.tokens):
            raise self.fail(f"unexpected {self.peek()!r}")
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.peek() == "||":
            self.take()
            node = ("or", node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_comparison()
        while self.peek() == "&&":
            self.take()
            node = ("and", node, self.parse_comparison())
        return node

    def parse_comparison(self) -> Node:
        node = self.parse_unary()
        op = self.peek()
        if op in _COMPARISONS:
            self.take()
            node = ("cmp", op, node, self.parse_unary())
        return node

    def parse_unary(self) -> Node:
        if self.peek() == "!":
            self.take()
            return ("not", self.parse_unary())
        if self.peek() == "-":
            self.take()
            kind, text = self.take()
            if kind != "num":
                raise self.fail("'-' must precede a number")
            return ("lit", -(float(text) if "." in text else int(text)))
        return self.parse_primary()

    def parse_primary(self) -> Node:
        kind, text = self.take()
        if text == "(" and kind == "op":
            node = self.parse_or()
            self.expect(")")
            return node
        if kind == "str":
            return ("lit", _unquote(text))
        if kind == "num":
            return ("lit", float(text) if "." in text else int(text))
        if kind == "name" and text in _KEYWORDS:
            return ("lit", _KEYWORDS[text])
        if kind == "name":
            if text not in self.names:
                raise self.fail(f"unknown name {text!r} (expected one of {sorted(self.names)})")
            return ("path", text, tuple(self.parse_selectors()))
        raise self.fail(f"unexpected {text!r}")

    def parse_selectors(self) -> list[str | int]:
        parts: list[str | int] = []
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                kind, text = self.take()
                if kind != "name":
                    raise self.fail("expected a field name after '.'")
                parts.append(text)
            else:
                kind, text = self.take()
                if kind not in ("str", "num") or "." in text:
                    raise self.fail("expected a string or an integer index")
                parts.append(_unquote(text) if kind == "str" else int(text))
                self.expect("]")
        return parts


def _select(value: Any, parts: tuple[str | int, ...]) -> Any:
    for part in parts:
        if isinstance(value, Mapping) and isinstance(part, str) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            return _ERROR
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(op: str, left: Any, right: Any) -> Any:
    if left is _ERROR or right is _ERROR:
        return _ERROR
    if op in ("==", "!="):
        same_kind = isinstance(left, bool) == isinstance(right, bool)
        equal = same_kind and left == right
        return equal if op == "==" else not equal
    if not (
        (_is_number(left) and _is_number(right))
        or (isinstance(left, str) and isinstance(right, str))
    ):
        return _ERROR
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def _logical(op: str, left: Any, right: Any) -> Any:
    absorbing = op == "or"  # the value that decides the result on its own
    if left is absorbing or right is absorbing:
        return absorbing
    if isinstance(left, bool) and isinstance(right, bool):
        return not absorbing
    return _ERROR


def _evaluate(node: Node, env: Mapping[str, Any]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "path":
        return _select(env[node[1]], node[2]) if node[1] in env else _ERROR
    if kind == "not":
        value = _evaluate(node[1], env)
        return (not value) if isinstance(value, bool) else _ERROR
    if kind == "cmp":
        return _compare(node[1], _evaluate(node[2], env), _evaluate(node[3], env))
    return _logical(kind, _evaluate(node[1], env), _evaluate(node[2], env))


@dataclass(frozen=True)
class Expression:
    """A parsed expression; `matches(env)` is true only when it evaluates to `true`."""

    source: str
    tree: Node

    def matches(self, env: Mapping[str, Any]) -> bool:
        """Whether the expression is `true` for `env` (errors and non-bools do not match)."""
        return _evaluate(self.tree, env) is True


def compile_expression(
    expression: str, names: frozenset[str] = frozenset({"event", "async"})
) -> Expression:
    """Parse `expression`, allowing the top-level `names`; `ValueError` if outside the subset."""
    return Expression(expression, _Parser(expression, names).parse())


def evaluate(expression: str, env: Mapping[str, Any]) -> bool:
    """Whether `expression` is true for `env` (e.g. `{"event": {...}, "async": {...}}`)."""
    return compile_expression(expression, frozenset(env)).matches(env)
