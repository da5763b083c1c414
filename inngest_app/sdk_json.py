"""The JSON side of the SDK patches (`sdk_memos.py` applies and guards them): a request body is
parsed once, where it would otherwise be parsed three times, and canonicalised in C.

Per signed step call the SDK 0.5.19 (and our adapter) read the whole body, memos included:

1. the adapter's check that the body is a JSON object (`serve._refuse_post`, `json.loads`);
2. `transforms.canonicalize` before the signature check: `json.loads`, then the pure-Python
   `jcs` encoder (RFC 8785);
3. `ServerRequest.from_raw`: pydantic's `model_validate_json`.

When a body is *plain JSON* (ASCII, no escaped character, no float, NaN or Infinity, no number
of 16 digits or more), `json.loads` and pydantic's JSON parser give the same Python values, and
RFC 8785 writes them as `orjson` does with sorted keys (ASCII keys sort alike by UTF-16 code
unit and by byte; integers under 16 digits and unescaped ASCII strings are written alike). For
such a body the adapter's parse (`load_request_body`) is kept for the rest of the request, in a
context variable, and reused read-only by `canonicalize`, then handed once to `from_raw`, which
validates it as a Python object and forgets it (the function owns it from there). Any other
body, a body that is not the kept one, a tree `orjson` refuses (nesting past 255) and a request
the fast validation refuses take the SDK's own code, so answers and errors are the SDK's. The
signature check is untouched: it is computed over the same canonical bytes.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from typing import Any

import orjson
from inngest._internal import transforms, types
from inngest._internal.server_lib import ServerRequest

# The SDK's own functions, as imported (before any patch)
SDK_CANONICALIZE = transforms.canonicalize
SDK_REQUEST_FROM_RAW: Any = (
    ServerRequest.__dict__.get("from_raw") or types.BaseModel.__dict__["from_raw"]
)

# A number of 16 digits or more may be an integer past 2^53, which RFC 8785 writes as a double
# would be (16 digits in a string, as in a hex hash, are no number: see `_long_number`)
_TO_ZERO = bytes.maketrans(b"123456789", b"0" * 9)
_SIXTEEN = b"0" * 16
_NOT_ZERO = re.compile(rb"[^0]")
_BEFORE_NUMBER = frozenset(b":[,")
_SPACE_OR_MINUS = frozenset(b" \t\r\n-")
_MISSING: Any = object()
_BODY: ContextVar[tuple[bytes, object] | None] = ContextVar("inngest_app_body", default=None)


class _Fallback(Exception):
    pass


def _refuse(_: str) -> Any:
    raise _Fallback


def _long_number(value: bytes) -> bool:
    """Whether a run of 16 digits may be a number: it starts the body, or follows `:`, `[` or
    `,` (spaces and a minus sign between); inside a string that is merely a fallback. Linear:
    each run of digits is looked at once, from its start."""
    digits = value.translate(_TO_ZERO)
    at = digits.find(_SIXTEEN)
    while at >= 0:  # `at` starts a run: the search starts at 0 or past the previous run
        before = at - 1
        while before >= 0 and value[before] in _SPACE_OR_MINUS:
            before -= 1
        if before < 0 or value[before] in _BEFORE_NUMBER:
            return True
        end = _NOT_ZERO.search(digits, at + 16)
        if end is None:
            return False
        at = digits.find(_SIXTEEN, end.start())
    return False


def _plain(value: bytes) -> object:
    """The body parsed, if it is plain JSON; `_MISSING` if it is not (`ValueError` if it is no
    JSON at all)."""
    if not value.isascii() or b"\\" in value or _long_number(value):
        return _MISSING
    try:
        return json.loads(value, parse_float=_refuse, parse_constant=_refuse)
    except _Fallback:
        return _MISSING


def load_request_body(body: bytes) -> object:
    """`json.loads(body)` (`ValueError` if it is no JSON), kept for this request's signature
    check and request model when the body is plain JSON. Read it, never change it."""
    parsed = _plain(body)
    if parsed is _MISSING:
        return json.loads(body)
    _BODY.set((body, parsed))
    return parsed


def forget_request_body() -> None:
    """Drop the kept parse (the adapter does once the SDK has answered)."""
    _BODY.set(None)


def _kept(value: bytes, *, take: bool) -> object:
    kept = _BODY.get()
    if kept is None or not (kept[0] is value or kept[0] == value):
        return _MISSING
    if take:
        _BODY.set(None)
    return kept[1]


def _sorted_json(parsed: object) -> bytes | None:
    try:
        return orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # nesting past orjson's limit
        return None


def fast_canonical(value: bytes) -> bytes | None:
    """RFC 8785 form of a JSON body when it is plain JSON (exact there), else None."""
    parsed = _kept(value, take=False)
    if parsed is _MISSING:
        try:
            parsed = _plain(value)
        except ValueError:
            return None
    return None if parsed is _MISSING else _sorted_json(parsed)


def canonicalize(value: bytes) -> types.MaybeError[bytes]:
    """`transforms.canonicalize`, in C for plain JSON."""
    fast = fast_canonical(value) if value else None
    return fast if fast is not None else SDK_CANONICALIZE(value)


def request_from_raw(cls: type[ServerRequest], raw: object) -> ServerRequest | Exception:
    """`ServerRequest.from_raw`, validating the kept parse of a plain body (once)."""
    if isinstance(raw, bytes):
        parsed = _kept(raw, take=True)
        if parsed is not _MISSING:
            try:
                return cls.model_validate(parsed)
            except Exception:  # noqa: S110 - the SDK's own parse gives the SDK's own error
                pass
    result: ServerRequest | Exception = SDK_REQUEST_FROM_RAW.__func__(cls, raw)
    return result
