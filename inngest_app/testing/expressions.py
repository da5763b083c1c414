"""A small, safe evaluator for the CEL subset Inngest expressions use here.

Supported: dotted paths over `event` and `async` (`event.data.user_id`), string, number, bool
and null literals, `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`, `!` and parentheses. Anything
else is a `ValueError`: a test should fail loudly, not match silently. Nothing is `eval`-ed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_MISSING = object()


def _tokens(expression: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    expression = expression.strip()
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"cannot parse expression at {expression[pos:]!r}")
        kind = match.lastgroup
        assert kind is not None  # noqa: S101 (the pattern always names a group)
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], env: Mapping[str, Any]) -> None:
        self.tokens, self.pos, self.env = tokens, 0, env

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse_or(self) -> Any:
        value = self.parse_and()
        while self.peek() == "||":
            self.take()
            right = self.parse_and()
            value = bool(value) or bool(right)
        return value

    def parse_and(self) -> Any:
        value = self.parse_cmp()
        while self.peek() == "&&":
            self.take()
            right = self.parse_cmp()
            value = bool(value) and bool(right)
        return value

    def parse_cmp(self) -> Any:
        left = self.parse_unary()
        op = self.peek()
        if op in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            right = self.parse_unary()
            if op == "==":
                return left == right
            if op == "!=":
                return left != right
            if left is _MISSING or right is _MISSING or left is None or right is None:
                return False
            results = {
                "<": left < right,
                "<=": left <= right,
                ">": left > right,
                ">=": left >= right,
            }
            return results[op]
        return left

    def parse_unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not bool(self.parse_unary())
        if self.peek() == "(":
            self.take()
            value = self.parse_or()
            if self.peek() != ")":
                raise ValueError("missing ')'")
            self.take()
            return value
        kind, text = self.take()
        if kind == "str":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "name":
            return self.lookup(text)
        raise ValueError(f"unexpected {text!r}")

    def lookup(self, path: str) -> Any:
        if path in ("true", "false"):
            return path == "true"
        if path == "null":
            return None
        head, *rest = path.split(".")
        if head not in self.env:
            raise ValueError(f"unknown name {head!r}")
        value: Any = self.env[head]
        for part in rest:
            value = value.get(part, _MISSING) if isinstance(value, Mapping) else _MISSING
        return value


def evaluate(expression: str, env: Mapping[str, Any]) -> bool:
    """Whether `expression` is true for `env` (e.g. `{"event": {...}, "async": {...}}`)."""
    parser = _Parser(_tokens(expression), env)
    value = parser.parse_or()
    if parser.pos != len(parser.tokens):
        raise ValueError(f"unexpected {parser.peek()!r}")
    return value is True
