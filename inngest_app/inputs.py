"""What the service accepts: JSON it can hold, text Postgres can store, bounded numbers.

`parse_json` is the one JSON reader for request bodies and webhooks. It refuses, before any model
sees the value: bytes that are not UTF-8, nesting deeper than `MAX_DEPTH`, `NaN`/`Infinity` and
numbers past a double (`1e309`), integers outside 64 bits, and any string or key holding a NUL or a
lone surrogate (Postgres stores neither, in `text` or `jsonb`). The refusal names the field.

The field types below state the rest of the text rule: `Text` (free text: a message, a comment)
takes any other character, tabs, newlines and other control characters included; `Line` (names,
ids, slugs) takes no control character at all (C0, DEL, C1) and must not be blank.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

MAX_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class InputError(ValueError):
    """Input the service refuses: `code`, a message, and the field (dotted path) when known."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def unstorable(text: str) -> str | None:
    """Why Postgres cannot store `text` (a NUL, a lone surrogate), or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return "contains a NUL character" if found.group() == "\x00" else "contains a lone surrogate"


def _constant(name: str) -> Any:
    raise InputError("invalid_json", f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InputError("invalid_json", f"the number {text[:40]} is out of range")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 19:
        raise InputError("invalid_json", f"the integer {text[:40]}... is outside 64 bits")
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise InputError("invalid_json", f"the integer {text} is outside 64 bits")
    return value


def parse_json(raw: bytes | str, *, max_depth: int | None = MAX_DEPTH) -> Any:
    """The JSON value in `raw`, or `InputError` saying (and locating) why it is refused.

    `max_depth=None` checks only the syntax and the numbers (the SDK endpoint: step outputs are
    the functions' own data, and nesting the parser survives is the SDK's to handle)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InputError("invalid_json", "the body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except RecursionError:
        raise InputError("too_deep", "JSON nested too deep") from None
    except InputError:
        raise
    except ValueError:
        raise InputError("invalid_json", "the body is not valid JSON") from None
    if max_depth is not None:
        check_value(value, max_depth=max_depth)
    return value


def _path(parts: tuple[str, ...]) -> str | None:
    return ".".join(parts) or None


def check_value(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a decoded JSON value nested past `max_depth` or holding unstorable text."""
    stack: list[tuple[Any, tuple[str, ...], int]] = [(value, (), 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            reason = unstorable(item)
            if reason:
                raise InputError("invalid_text", f"{_path(path) or 'value'}: {reason}", _path(path))
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise InputError(
                    "too_deep", f"JSON nested deeper than {max_depth} levels", _path(path)
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    reason = unstorable(key)
                    if reason:
                        raise InputError(
                            "invalid_text", f"{_path(path) or 'a key'}: a key {reason}", _path(path)
                        )
                    stack.append((child, (*path, key), depth + 1))
            else:
                for index, child in enumerate(item):
                    stack.append((child, (*path, str(index)), depth + 1))


def _storable(text: str) -> str:
    reason = unstorable(text)
    if reason:
        raise ValueError(reason)
    return text


def _line(text: str) -> str:
    _storable(text)
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise ValueError("contains a control character")
    if not text.strip():
        raise ValueError("is blank")
    return text


Text = Annotated[str, AfterValidator(_storable)]
"""Free text: anything Postgres can store."""

Line = Annotated[str, AfterValidator(_line)]
"""A name or id: no control characters, not blank."""

UserId = Annotated[Line, StringConstraints(min_length=1, max_length=255)]
"""A user id as the service stores it (a Supabase `sub`, or what an admin names)."""


Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
"""An integer a `bigint` column holds."""

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
"""A float that is a number (no NaN, no infinity)."""


def refuse_null(value: Any) -> Any:
    """A `mode="before"` validator for optional fields that may be left out but not be null."""
    if value is None:
        raise ValueError("leave it out rather than send null")
    return value


def _ascii_digits(value: Any) -> Any:
    # Query and path values arrive as text: only plain ASCII digits are a number here ("²",
    # "٣", "+5", " 5", "5.0" and "1e2" are not), and none longer than 64 bits can be.
    if isinstance(value, str):
        if not re.fullmatch(r"-?[0-9]{1,19}", value):
            raise ValueError("must be a whole number written in ASCII digits")
        return int(value)
    return value


QueryInt = Annotated[int, BeforeValidator(_ascii_digits), Field(ge=INT64_MIN, le=INT64_MAX)]
"""An integer from a query or path parameter."""
