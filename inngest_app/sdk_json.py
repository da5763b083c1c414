"""The JSON side of the SDK patches (`sdk_memos.py` applies and guards them): a request body is
parsed once, where it would otherwise be parsed three times, and canonicalised in C.

Per signed step call the SDK 0.5.19 (and our adapter) read the whole body, memos included:

1. the adapter's check that the body is a JSON object (`serve._refuse_post`);
2. `transforms.canonicalize` before the signature check: `json.loads`, then the pure-Python
   `jcs` encoder (RFC 8785);
3. `ServerRequest.from_raw`: pydantic's `model_validate_json`.

When a body is *plain JSON* (ASCII, no escaped character, no float, NaN or Infinity),
`json.loads`, `msgspec`'s strict decoder and pydantic's JSON parser give the same Python values
(integers of any size exactly, the last of repeated keys), and RFC 8785 writes them as `orjson`
does with sorted keys, as long as every integer is within +-(2^53 - 1), which `orjson` checks
while writing (ASCII keys sort alike by UTF-16 code unit and by byte; such integers and
unescaped ASCII strings are written alike). Such a body is parsed once, by `msgspec` (about
twice as fast as `json.loads` on a call's memos; a float literal makes it give up), and the
parse (`load_request_body`) is kept for the rest of the request, in a context variable, and
reused read-only by `canonicalize`; the request model the adapter validates from it
(`validate_request`, the same `model_validate` of the same parse) is handed once to `from_raw`
(the function owns the model from there). The context variable holds a holder that is emptied
when the adapter is done: the SDK starts a timing task on every call (copying the context) and
cancels it, which leaves the task in a reference cycle, so a tuple in the variable kept the
whole parse, memos included, alive until the cycle collector walked and freed it. The SDK also
keeps the model it was handed in cycles of its own, so once the answer is complete the adapter
empties the call's step memos (`forget_request_body(release_steps=True)`): they are freed at
the answer, not walked by the collector first. Any other body, a body that is not the kept one,
a tree `orjson` refuses to write (a larger integer, nesting past 255) and a request the fast
validation refuses take the SDK's own code, so answers and errors are the SDK's. The signature
check is untouched: it is computed over the same canonical bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import msgspec
import orjson
from inngest._internal import transforms, types
from inngest._internal.server_lib import ServerRequest

# The SDK's own functions, as imported (before any patch)
SDK_CANONICALIZE = transforms.canonicalize
SDK_REQUEST_FROM_RAW: Any = (
    ServerRequest.__dict__.get("from_raw") or types.BaseModel.__dict__["from_raw"]
)

# RFC 8785 writes a number as a double would be: an integer past 2^53 - 1 may change, so
# `orjson` refuses those (OPT_STRICT_INTEGER) and the SDK's own encoder writes the body
_SORTED_SAFE = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_MISSING: Any = object()


class _Kept:
    """The kept parse, in a holder the adapter empties when it is done: a task started during
    the request (the SDK starts one per call to time the event loop, then cancels it, leaving it
    in a reference cycle) copies the context, and with it the holder, not the parse."""

    __slots__ = ("body", "handed", "model", "parsed")

    def __init__(self, body: bytes, parsed: object) -> None:
        self.body: bytes | None = body  # None once handed over: nothing is handed twice
        self.parsed = parsed
        self.model: ServerRequest | None = None  # `validate_request`'s answer for `parsed`
        self.handed: ServerRequest | None = None  # the model `request_from_raw` gave the SDK

    def release_steps(self) -> None:
        """Empty the step memos of the parse and of the model the SDK was given."""
        for steps in (getattr(self.handed, "steps", None), _steps_of(self.parsed)):
            if isinstance(steps, dict):
                steps.clear()

    def clear(self) -> None:
        self.body = self.parsed = self.model = self.handed = None


def _steps_of(parsed: object) -> object:
    return parsed.get("steps") if isinstance(parsed, dict) else None


_BODY: ContextVar[_Kept | None] = ContextVar("inngest_app_body", default=None)


class _Fallback(Exception):
    pass


def _refuse(_: str) -> Any:
    raise _Fallback


# Strict RFC 8259 (no NaN, no Infinity); a float literal calls the hook, which gives up
_DECODER: msgspec.json.Decoder[Any] = msgspec.json.Decoder(float_hook=_refuse)


def _plain(value: bytes) -> object:
    """The body parsed, if it is plain JSON; `_MISSING` if it is not, or is no JSON at all, or
    nests deeper than the fast parser goes (the caller's own reader then says why)."""
    if not value.isascii() or b"\\" in value:
        return _MISSING
    try:
        return _DECODER.decode(value)
    except (_Fallback, ValueError, RecursionError):
        return _MISSING


def load_request_body(body: bytes, fallback: Callable[[bytes], object] = json.loads) -> object:
    """`json.loads(body)` (`ValueError` if it is no JSON), kept for this request's signature
    check and request model when the body is plain JSON. Read it, never change it. A body that
    is not plain JSON is read by `fallback` instead (and not kept)."""
    parsed = _plain(body)
    if parsed is _MISSING:
        return fallback(body)
    forget_request_body()
    _BODY.set(_Kept(body, parsed))
    return parsed


def forget_request_body(*, release_steps: bool = False) -> None:
    """Drop the kept parse (the adapter does once the SDK has answered), from every context
    that copied it too. With `release_steps` (the answer is complete, not streamed: the SDK is
    done with the request) the step memos of the parse and of the request model handed to the
    SDK are emptied first: the SDK keeps that model in reference cycles of its own (its
    execution, steps and context refer to one another), so without this every memo of the call
    lived on, GC-tracked, until the cycle collector walked it and freed it."""
    kept = _BODY.get()
    if kept is not None:
        if release_steps:
            kept.release_steps()
        kept.clear()
        _BODY.set(None)


def validate_request(parsed: object) -> ServerRequest:
    """`ServerRequest.model_validate(parsed)` (`pydantic.ValidationError` if it is not one); when
    `parsed` is the kept parse, the model is kept too, for `request_from_raw` to hand the SDK
    (the same validation of the same parse, done once)."""
    model = ServerRequest.model_validate(parsed)
    kept = _BODY.get()
    if kept is not None and kept.parsed is parsed and kept.body is not None:
        kept.model = model
    return model


def _holder(value: bytes) -> _Kept | None:
    kept = _BODY.get()
    if kept is None or kept.body is None or not (kept.body is value or kept.body == value):
        return None
    return kept


def _kept(value: bytes) -> object:
    kept = _holder(value)
    return _MISSING if kept is None else kept.parsed


def _sorted_json(parsed: object) -> bytes | None:
    try:
        return orjson.dumps(parsed, option=_SORTED_SAFE)
    except orjson.JSONEncodeError:  # an integer past 2^53 - 1, nesting past orjson's limit
        return None


def fast_canonical(value: bytes) -> bytes | None:
    """RFC 8785 form of a JSON body when it is plain JSON (exact there), else None."""
    parsed = _kept(value)
    if parsed is _MISSING:
        try:
            parsed = _plain(value)
        except (ValueError, RecursionError):  # the SDK's own code says why
            return None
    return None if parsed is _MISSING else _sorted_json(parsed)


def canonicalize(value: bytes) -> types.MaybeError[bytes]:
    """`transforms.canonicalize`, in C for plain JSON."""
    fast = fast_canonical(value) if value else None
    return fast if fast is not None else SDK_CANONICALIZE(value)


def request_from_raw(cls: type[ServerRequest], raw: object) -> ServerRequest | Exception:
    """`ServerRequest.from_raw`, from the kept parse of a plain body: the model the adapter
    validated from it, or validated here (once)."""
    kept = _holder(raw) if isinstance(raw, bytes) else None
    if kept is not None:
        kept.body = None  # handed over once: the function owns it from here
        model = kept.model
        if model is None or type(model) is not cls:
            try:
                model = cls.model_validate(kept.parsed)
            except Exception:  # the SDK's own parse gives the SDK's own error
                model = None
        if model is not None:
            kept.handed = model
            return model
    result: ServerRequest | Exception = SDK_REQUEST_FROM_RAW.__func__(cls, raw)
    return result
