"""Patches of the Inngest SDK (0.5.19) that make a step call's cost nearly flat in the steps the
run has memoized. Each call replays every memoized step, and the SDK spends, per memo:

1. `StepMemos.pop` rebuilds the whole memo dict to remove one memo: O(n²) a call. Patched to
   remove it in place (`dict.pop`): same result, the memo or the empty sentinel. The dict is the
   one `StepMemos.from_raw` built for this call, owned by this `StepMemos` alone.
2. `StepMemos.from_raw` validates every memo with pydantic up front (and raises and catches an
   exception for each that is not `{"data": ...}`). Patched: memos are kept as received and each
   is parsed by the SDK's own code when `pop` or `values` asks for it (`values` keeps them
   parsed, as middleware may change them in place); a replayed success never needs parsing.
3. `Step.run` builds a pydantic `StepInfo`, two futures and a context manager even for a step it
   only replays. Patched: a memoized success (not an error, not a nested step) is returned
   straight from the memo (x of `{"data": x}`), with exactly the bookkeeping `report_step`
   does for it (the step id counter, the memo removed, `before_execution` once the last memo
   is used); anything else goes through the SDK's own `run`.
4. `transforms.canonicalize` (JSON canonicalisation before the signature check) runs the
   pure-Python `jcs` encoder over the whole body. Patched: when the body has no float, no
   number of 16 digits or more and no non-ASCII or escaped character (so key order, numbers and
   strings are written alike by RFC 8785 and by `json.dumps(sort_keys=True)`), the standard
   library gives the identical bytes; otherwise `jcs` as before. The signature check itself
   is untouched.

`inngest_app.client.build_client` applies them, over the exact code they replace only: another
SDK version, or any patched function whose source differs from the reviewed one, raises
`SdkPatchError` at start-up (loudly, never a silent slowdown or a silently wrong memo).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from inngest._internal import transforms, types
from inngest._internal.execution_lib import models as execution_models
from inngest._internal.execution_lib.v0 import ExecutionV0
from inngest._internal.step_lib.base import Output, StepMemos
from inngest._internal.step_lib.step_async import Step

PATCHED_VERSIONS = frozenset({"0.5.19"})
# A number of 16 digits or more may be an integer past 2^53, which RFC 8785 writes as a double
# would be (16 digits in a string, as in a hex hash, are no number: see `_long_number`)
_LONG_DIGITS = re.compile(rb"[0-9]{16}")
_BEFORE_NUMBER = frozenset(b":[,")
_SPACE_OR_MINUS = frozenset(b" \t\r\n-")
_MISSING = object()


class SdkPatchError(RuntimeError):
    """The installed SDK is not the one the patches were written for: re-review them."""


def _output(value: object) -> Output:
    """A memo as the SDK's `from_raw` parses it (an `Output` already parsed stays as it is)."""
    if isinstance(value, Output):
        return value
    output = Output.from_raw(value)
    return Output(data=value) if isinstance(output, Exception) else output


def _from_raw(cls: type[StepMemos], raw: dict[str, object]) -> StepMemos:
    """The memos as received, each parsed only when the SDK asks for it (`pop`, `values`)."""
    return cls(dict(raw))  # type: ignore[arg-type]


def _pop(self: StepMemos, hashed_id: str) -> Output | types.EmptySentinel:
    """The memo of `hashed_id`, removed in place (O(1)); the empty sentinel if there is none."""
    value = self._memos.pop(hashed_id, _MISSING)
    return types.empty_sentinel if value is _MISSING else _output(value)


def _values(self: StepMemos) -> Iterator[Output]:
    """Every memo, parsed (and kept parsed: middleware may change them in place)."""
    memos: dict[str, object] = self._memos  # type: ignore[assignment]
    for key, value in memos.items():
        if not isinstance(value, Output):
            memos[key] = _output(value)
    return iter(self._memos.values())


def _success(value: object) -> tuple[bool, object]:
    """(True, data) for a memo that is a plain success, `{"data": x}` as received or parsed."""
    if type(value) is dict:
        return (True, value["data"]) if len(value) == 1 and "data" in value else (False, None)
    if isinstance(value, Output) and value.error is None:
        return value.data is not types.empty_sentinel, value.data
    return False, None


async def _run(
    self: Step,
    step_id: str,
    handler: Callable[..., Any],
    *handler_args: Any,
    output_type: object = types.EmptySentinel,
) -> Any:
    """`Step.run`, answering a memoized success straight from its memo."""
    execution = self._execution
    if type(execution) is ExecutionV0 and not execution_models._in_step.get():
        counter = self._step_id_counter
        count = counter._counts.get(step_id, 0) + 1
        hashed = transforms.hash_step_id(step_id if count == 1 else f"{step_id}:{count - 1}")
        memos: dict[str, object] = execution._memos._memos  # type: ignore[assignment]
        found, data = _success(memos.get(hashed, _MISSING))
        if found:
            counter.increment(step_id)
            del memos[hashed]
            if not memos:  # as `report_step`: all code from here on is new
                await execution._middleware.before_execution()
            return self._client._deserialize(data, output_type)
    return await _ORIGINAL["run"](self, step_id, handler, *handler_args, output_type=output_type)


class _Fallback(Exception):
    pass


def _refuse(_: str) -> Any:
    raise _Fallback


def _long_number(value: bytes) -> bool:
    """Whether a run of 16 digits may be a number: it starts the body, or follows `:`, `[` or
    `,` (spaces and a minus sign between); inside a string that is merely a fallback."""
    for match in _LONG_DIGITS.finditer(value):
        at = match.start() - 1
        while at >= 0 and value[at] in _SPACE_OR_MINUS:
            at -= 1
        if at < 0 or value[at] in _BEFORE_NUMBER:
            return True
    return False


def fast_canonical(value: bytes) -> bytes | None:
    """RFC 8785 form of a JSON body when the standard library gives it exactly, else None."""
    if not value.isascii() or b"\\" in value or _long_number(value):
        return None
    try:
        loaded = json.loads(value, parse_float=_refuse, parse_constant=_refuse)
    except (_Fallback, ValueError):
        return None
    return json.dumps(loaded, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _canonicalize(value: bytes) -> types.MaybeError[bytes]:
    """`transforms.canonicalize`, through the standard library when that is exact."""
    fast = fast_canonical(value) if value else None
    return fast if fast is not None else _ORIGINAL["canonicalize"](value)


@dataclass(frozen=True)
class _Patch:
    owner: Any
    name: str
    replacement: Any
    sha256: str  # of the dedented source of the reviewed original


_PATCHES = {
    "pop": _Patch(
        StepMemos, "pop", _pop, "66815d30b50e8eff1fc26dbf9e59f120ae1d695f613eb9113ece0f94a1107524"
    ),
    "from_raw": _Patch(
        StepMemos,
        "from_raw",
        classmethod(_from_raw),
        "5582edf848bb1ead7228db87072fec6a62d2d2e80c89f62ffeffcc0a2acd4970",
    ),
    "values": _Patch(
        StepMemos,
        "values",
        _values,
        "007b3d556fdf95c0ce60476d81de4f504a7f8a770e4a9cb06592161f5993c887",
    ),
    "run": _Patch(
        Step, "run", _run, "58948939ac24b06ba007e19fcad5c29f03effbbd88859192ea1a9d01b5c7f22c"
    ),
    "canonicalize": _Patch(
        transforms,
        "canonicalize",
        _canonicalize,
        "7a8f17c723d51d4225de65cfc24c60ff9ab5e0866f8a9c5e8c2ded3afe174d82",
    ),
}
# What `run`'s fast path mirrors: if `report_step` changes, the patch must be reviewed again.
_MIRRORED = {
    "ExecutionV0.report_step": (
        ExecutionV0.report_step,
        "508101b313a15c8a4ed09026952a0ff00165483fd62039ba7a8ebc83e17e5d4d",
    )
}
_ORIGINAL: dict[str, Any] = {
    key: inspect.getattr_static(p.owner, p.name) for key, p in _PATCHES.items()
}
_ORIGINAL = {k: (v.__func__ if k == "from_raw" else v) for k, v in _ORIGINAL.items()}


def source_digest(function: object) -> str:
    """sha256 of a function's dedented source."""
    source = textwrap.dedent(inspect.getsource(function))  # type: ignore[arg-type]
    return hashlib.sha256(source.encode()).hexdigest()


def check_sdk(version: str | None = None, originals: dict[str, Any] | None = None) -> None:
    """`SdkPatchError` unless `version` (the installed SDK's by default) and the functions the
    patches replace or mirror (`originals`, by patch name) are the reviewed ones."""
    version = version or importlib.metadata.version("inngest")
    if version not in PATCHED_VERSIONS:
        raise SdkPatchError(
            f"inngest {version} is installed but inngest_app/sdk_memos.py patches "
            f"{sorted(PATCHED_VERSIONS)} only: check whether {version} still has the per-memo "
            "costs it removes, then update PATCHED_VERSIONS and the digests (or drop the patch)"
        )
    reviewed = {key: (_ORIGINAL[key], p.sha256) for key, p in _PATCHES.items()}
    reviewed.update(_MIRRORED)
    for key, (function, expected) in reviewed.items():
        function = (originals or {}).get(key, function)
        digest = source_digest(function)
        if digest != expected:
            raise SdkPatchError(
                f"inngest {version}: {key} is not the code the patch was reviewed against "
                f"(sha256 {digest}); re-review inngest_app/sdk_memos.py"
            )


def patch_step_memos() -> None:
    """Apply the patches (idempotent; the SDK is checked first)."""
    if is_patched():
        return
    check_sdk()
    for patch in _PATCHES.values():
        setattr(patch.owner, patch.name, patch.replacement)


def unpatch_step_memos() -> None:
    """Put the SDK's own functions back (for the benchmark's baseline and the tests)."""
    for key, patch in _PATCHES.items():
        original = _ORIGINAL[key]
        setattr(patch.owner, patch.name, classmethod(original) if key == "from_raw" else original)


def is_patched() -> bool:
    """Whether the patches are in place."""
    return all(inspect.getattr_static(p.owner, p.name) is p.replacement for p in _PATCHES.values())
