"""The JSON side of the SDK patches (`sdk_memos.py` applies and guards them): a request body is
parsed once, where it would otherwise be parsed three times, and canonicalised in C.

Per signed step call the SDK 0.5.19 (and our adapter) would read the whole body, memos
included, three times:

1. the adapter's check that the body is a JSON object (`serve._refuse_post`);
2. `transforms.canonicalize` before the signature check: `json.loads`, then the pure-Python
   `jcs` encoder (RFC 8785);
3. `ServerRequest.from_raw`: pydantic's `model_validate_json`.

The adapter parses the body once, with `msgspec`'s strict UTF-8 decoder, which reads JSON as
`json.loads` and pydantic's parser do (integers of any size exactly, the last of repeated keys,
escapes and surrogate pairs alike; floats through a hook that calls `float`, as `json.loads`
does) and refuses what they might read otherwise (NaN, Infinity, a BOM, a lone surrogate,
another encoding, a float past the double's range, nesting past ~1,000): such a body is read by
the adapter's own parser and the SDK's own code, so answers and errors are the SDK's. The parse
(`load_request_body`) is kept for the rest of the request, in a context variable: reused
read-only by `canonicalize`, and validated once into the request model handed to `from_raw`
(`validate_request`: the same `model_validate` of the same parse; the function owns the model
from there).

The canonical form is the SDK's `jcs` bytes, written by `orjson` with sorted keys, which is
exact where they agree, and only used there (`fast_canonical`):
- strings: both escape exactly `"`, `\\` and the control characters, alike, and write the rest
  as UTF-8;
- integers within +-(2^53 - 1) alike; `orjson` refuses larger ones (OPT_STRICT_INTEGER), which
  `jcs` writes as doubles, and the SDK's own encoder writes the body;
- key order: `jcs` sorts by UTF-16 code unit, `orjson` by code point; they differ only between a
  character past U+FFFF and one in U+E000-U+FFFF, so a body holding both takes the SDK's code;
- floats: both write the shortest digits that read back, alike except where `orjson` writes an
  exponent or a trailing `.0`; a body with such a float is parsed a second time for the
  canonical form only, each such float pre-written by `jcs`'s own formatter (`orjson.Fragment`).

The context variable holds a holder that is emptied when the adapter is done: the SDK starts a
timing task on every call (copying the context) and cancels it, which leaves the task in a
reference cycle, so a tuple in the variable kept the whole parse, memos included, alive until
the cycle collector walked and freed it. The SDK also keeps the model it was handed in cycles
of its own, so once the answer is complete the adapter empties the call's step memos
(`forget_request_body(release_steps=True)`): they are freed at the answer, not walked by the
collector first. The signature check is untouched: it is computed over the same canonical
bytes.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import msgspec
import orjson
from inngest._internal import transforms, types
from inngest._internal.server_lib import ServerRequest
from jcs.ntoj import convert2Es6Format

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

    __slots__ = ("body", "handed", "model", "parsed", "reformat")

    def __init__(self, body: bytes, parsed: object, reformat: bool) -> None:
        self.body: bytes | None = body  # None once handed over: nothing is handed twice
        self.parsed = parsed
        self.reformat = reformat  # a float `orjson` writes unlike RFC 8785 (see `_float`)
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


class _Floats(threading.local):
    """What the float hook saw in this thread's parse (the hook is called inside `decode`)."""

    def __init__(self) -> None:
        self.reformat = 0


_FLOATS = _Floats()


def _written_alike(value: float) -> bool:
    """Whether `orjson` writes `value` as RFC 8785 (`jcs`) does: it does unless it writes an
    exponent or a trailing `.0` (both write the shortest digits that read back as `value`;
    checked over 60,000 doubles in `tests/test_sdk_memos.py`)."""
    text = orjson.dumps(value)
    return b"e" not in text and not text.endswith(b".0")


def _float(literal: str) -> float:
    """A float literal read as `json.loads` reads it (`float`), counted unless it is surely
    written alike: `orjson` writes 1e-4 <= |x| < 1e15 in fixed notation, and a double there that
    is not integral has a fractional digit (its ulp is at most 1/8). Cheaper than
    `_written_alike` (this runs for every float of every call) and wrong only the safe way (a
    float counted needlessly costs a second parse). A literal past the double's range gives up
    (`parse_json` refuses it)."""
    value = float(literal)
    if not 1e-4 <= abs(value) < 1e15 or value.is_integer():
        if value - value != 0:  # an infinity
            raise _Fallback
        _FLOATS.reformat += 1
    return value


_CANONICAL_FLOATS: dict[str, object] = {}  # literal -> what `_canonical_float` gives for it
_CANONICAL_FLOATS_MAX = 4_096


def _canonical_float(literal: str) -> object:
    """A float literal for the canonical form only: as RFC 8785 writes it (`jcs`'s own
    formatter, the SDK's), pre-serialised, where `orjson` would write it otherwise (remembered
    by literal: outputs repeat their values, 0.0 above all)."""
    got = _CANONICAL_FLOATS.get(literal)
    if got is None:
        value = float(literal)
        got = value if _written_alike(value) else orjson.Fragment(convert2Es6Format(value))
        if len(_CANONICAL_FLOATS) >= _CANONICAL_FLOATS_MAX:
            _CANONICAL_FLOATS.clear()
        _CANONICAL_FLOATS[literal] = got
    return got


# Strict RFC 8259 over UTF-8 (no NaN, Infinity, BOM, lone surrogate, trailing data); integers of
# any size exactly; floats through the hooks
_DECODER: msgspec.json.Decoder[Any] = msgspec.json.Decoder(float_hook=_float)
_CANONICAL_DECODER: msgspec.json.Decoder[Any] = msgspec.json.Decoder(float_hook=_canonical_float)

# RFC 8785 sorts keys by UTF-16 code unit, `orjson` by code point: the orders differ only
# between a character past U+FFFF (4 UTF-8 bytes, lead byte 0xF0-0xF4, or an escaped surrogate
# pair) and one in U+E000-U+FFFF (lead byte 0xEE or 0xEF, or escaped as such). Single bytes are
# looked for with `in` (memchr); the escapes by a pattern with a literal prefix, only in a body
# that has a backslash (a character-class pattern scans ~40x slower)
_ASTRAL_LEADS = (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89abAB]")
_ESCAPED_TOP_OF_BMP = re.compile(rb"\\u[eEfF]")


def _keys_sort_alike(body: bytes) -> bool:
    """Whether every object of `body` sorts its keys alike by code point and by UTF-16 code unit
    (true unless the body holds characters of both ranges, in keys or not)."""
    escaped = b"\\" in body
    if not any(lead in body for lead in _ASTRAL_LEADS) and not (
        escaped and _ESCAPED_SURROGATE.search(body)
    ):
        return True
    top = b"\xee" in body or b"\xef" in body or (escaped and _ESCAPED_TOP_OF_BMP.search(body))
    return not top


def _parse(value: bytes) -> tuple[object, bool]:
    """The body parsed as `json.loads` parses it, and whether a float in it needs RFC 8785's
    own formatting; `(_MISSING, False)` if the fast parser refuses it (no JSON, not UTF-8, a
    float past the double's range, nesting past ~1,000): the caller's own reader says why."""
    floats = _FLOATS
    floats.reformat = 0
    try:
        return _DECODER.decode(value), floats.reformat > 0
    except (_Fallback, ValueError, RecursionError):
        return _MISSING, False


def load_request_body(body: bytes, fallback: Callable[[bytes], object] = json.loads) -> object:
    """`json.loads(body)` (`ValueError` if it is no JSON), kept for this request's signature
    check and request model. Read it, never change it. A body the fast parser refuses is read
    by `fallback` instead (and not kept)."""
    parsed, reformat = _parse(body)
    if parsed is _MISSING:
        return fallback(body)
    forget_request_body()
    _BODY.set(_Kept(body, parsed, reformat))
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


def _sorted_json(parsed: object) -> bytes | None:
    try:
        return orjson.dumps(parsed, option=_SORTED_SAFE)
    except orjson.JSONEncodeError:  # an integer past 2^53 - 1, nesting past orjson's limit
        return None


def fast_canonical(value: bytes) -> bytes | None:
    """RFC 8785 form of a JSON body, as the SDK's `jcs` writes it, when the fast path is exact
    for it (see the module's notes), else None."""
    if not _keys_sort_alike(value):
        return None
    kept = _holder(value)
    if kept is not None:
        parsed, reformat = kept.parsed, kept.reformat
    else:
        parsed, reformat = _parse(value)
        if parsed is _MISSING:
            return None  # the SDK's own code says why
    if reformat:  # parsed again, each such float pre-written as RFC 8785 writes it
        parsed = _CANONICAL_DECODER.decode(value)
    return _sorted_json(parsed)


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
