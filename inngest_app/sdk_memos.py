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
   only replays, and hashes its id with SHA-1 on every call. Patched: a memoized success (not an
   error, not a nested step) is returned straight from the memo (x of `{"data": x}`), with
   exactly the bookkeeping `_parse_step_id` and `report_step` do for it (the step id counter,
   on the loop's one thread; the memo removed; `before_execution` once the last memo is used; the
   client's deserializer); the hashed id is remembered (a run replays the same ids on every
   call; at most 16,384 kept); anything else goes through the SDK's own `run`.
4. The body is read three times: our adapter's JSON check, `transforms.canonicalize` (a
   pure-Python RFC 8785 encoder over the whole body, before the signature check) and
   `ServerRequest.from_raw` (pydantic). Patched in `sdk_json.py`: the body is parsed once (by
   `msgspec`, as `json.loads` reads it), canonicalised by `orjson` where it writes the SDK's
   `jcs` bytes exactly (floats `orjson` writes otherwise pre-written by `jcs`'s formatter), and
   validated by pydantic once from that parse (the adapter's model is the SDK's); a body the
   fast path cannot read or write exactly takes the SDK's own code. The signature check itself
   is untouched.

`inngest_app.client.build_client` applies them, over the exact code they replace only: another
SDK version, or any patched function whose source differs from the reviewed one, raises
`SdkPatchError` at start-up (loudly, never a silent slowdown or a silently wrong memo).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from inngest._internal import transforms, types
from inngest._internal.client_lib import Inngest
from inngest._internal.execution_lib import models as execution_models
from inngest._internal.execution_lib.v0 import ExecutionV0
from inngest._internal.server_lib import Event, ServerRequest, execution_request
from inngest._internal.step_lib.base import Output, StepBase, StepIDCounter, StepMemos
from inngest._internal.step_lib.step_async import Step
from jcs import _jcs as jcs_lib
from jcs.ntoj import convert2Es6Format

from inngest_app import sdk_json
from inngest_app.sdk_json import fast_canonical

__all__ = ["SdkPatchError", "check_sdk", "fast_canonical", "patch_step_memos"]

PATCHED_VERSIONS = frozenset({"0.5.19"})
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


_IN_STEP = execution_models._in_step
_in_step = _IN_STEP.get
_EMPTY = types.empty_sentinel
_NO_TYPE: Any = types.EmptySentinel  # `run`'s default `output_type`
_SDK_RUN = Step.run
_HASHES: dict[str, str] = {}
_HASHES_MAX = 16_384


def _hashed(pre_hashed: str) -> str:
    """`transforms.hash_step_id`, remembered: a run replays the same step ids on every call."""
    hashed = _HASHES.get(pre_hashed)
    if hashed is None:
        if len(_HASHES) >= _HASHES_MAX:
            _HASHES.clear()
        hashed = _HASHES[pre_hashed] = transforms.hash_step_id(pre_hashed)
    return hashed


async def _run(
    self: Step,
    step_id: str,
    handler: Callable[..., Any],
    *handler_args: Any,
    output_type: object = _NO_TYPE,
) -> Any:
    """`Step.run`, answering a memoized success (`{"data": x}` as received, or an `Output`
    without error) straight from its memo.

    The step id counter is read and written without its lock: an async function's steps all
    run on its event loop's thread, and nothing here awaits between reading the count and
    writing it, so no other step of the run can come between (the lock guards threads)."""
    execution = self._execution
    if type(execution) is ExecutionV0 and not _in_step():
        counts = self._step_id_counter._counts
        memos: dict[str, Any] = execution._memos._memos
        count = counts.get(step_id, 0)
        pre_hashed = f"{step_id}:{count}" if count else step_id  # as `_parse_step_id`
        hashed = _HASHES.get(pre_hashed) or _hashed(pre_hashed)
        value = memos.get(hashed, _MISSING)
        if type(value) is dict and len(value) == 1 and "data" in value:
            data = value["data"]
        elif isinstance(value, Output) and value.error is None and value.data is not _EMPTY:
            data = value.data
        else:
            return await _SDK_RUN(self, step_id, handler, *handler_args, output_type=output_type)
        counts[step_id] = count + 1
        del memos[hashed]
        if not memos:  # as `report_step`: all code from here on is new
            await execution._middleware.before_execution()
        if output_type is _NO_TYPE:
            return data  # as `client._deserialize` without an output type
        client = self._client
        if client._serializer is None:
            return data  # as `client._deserialize` without a serializer
        return client._deserialize(data, output_type)
    return await _SDK_RUN(self, step_id, handler, *handler_args, output_type=output_type)


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
        sdk_json.canonicalize,
        "7a8f17c723d51d4225de65cfc24c60ff9ab5e0866f8a9c5e8c2ded3afe174d82",
    ),
    # `ServerRequest` inherits `types.BaseModel.from_raw`: the patch shadows it on the subclass
    "ServerRequest.from_raw": _Patch(
        ServerRequest,
        "from_raw",
        classmethod(sdk_json.request_from_raw),
        "cced9ad49cd0bdaf1d9287245514a50ae396423c79b791be89bf2794abaa70f2",
    ),
}
# What `run`'s fast path mirrors: if `report_step` changes, the patch must be reviewed again.
_MIRRORED = {
    "ExecutionV0.report_step": (
        ExecutionV0.report_step,
        "508101b313a15c8a4ed09026952a0ff00165483fd62039ba7a8ebc83e17e5d4d",
    ),
    "StepBase._parse_step_id": (
        StepBase._parse_step_id,
        "9892995f64a4ca5b17203fb9abea1a30de3e0da00077a1960ee25b06d3bb88db",
    ),
    "StepIDCounter.increment": (
        StepIDCounter.increment,
        "7bd72fff093db3f98cc3db10c130a3555eff91ed79cae74edae2af9608549f2d",
    ),
    "hash_step_id": (
        transforms.hash_step_id,
        "ea4856463dfd6419e0db661022b216a1829df56bb9bd74d7d80a8d8f5474c6f2",
    ),
    "Inngest._deserialize": (
        Inngest._deserialize,
        "09777321545ffb681692692d6938cdf590fad4df5b16ced0bd55fdbe23661c5e",
    ),
    # The models `sdk_json.request_from_raw` validates from a parse instead of from JSON: only
    # JSON's own types, validated alike in both modes (re-review if a field changes)
    "ServerRequest": (
        ServerRequest,
        "5490068655b29518f8b74f0fc4af2847614597268fae686cea3efd1df405c74b",
    ),
    "ServerRequestCtx": (
        execution_request.ServerRequestCtx,
        "748029bb24b956079533d771493d28b21ebbda5eb9607a366e8067e53c8ba59e",
    ),
    "ServerRequestCtxStack": (
        execution_request.ServerRequestCtxStack,
        "1a9fcbdc4aba9649a4de7e8485f55954a84e1527493cc87898c1352ebe547c71",
    ),
    "Event": (Event, "a1b952c2c93a21452cc34e035064216865e6f46cc286ebfa6cfaa596d163fd3e"),
    # What `sdk_json.fast_canonical` writes as the SDK's RFC 8785 encoder (`jcs`) does: its key
    # order, string escapes and number formatter (re-review if any changes)
    "jcs.canonicalize": (
        jcs_lib.canonicalize,
        "cf0246135e8e6c7a0a5b23fb1c0e2f6be64d0a5ead4121d8474086cadddb7232",
    ),
    "jcs.JSONEncoder.encode": (
        jcs_lib.JSONEncoder.encode,
        "4b6b0e8a11a8fbeee4b3cb3855305451ce6cffe42ab3a90a3c2b48e285b12530",
    ),
    "jcs.JSONEncoder.iterencode": (
        jcs_lib.JSONEncoder.iterencode,
        "0058d05c2b95750454458a71b7848bf1ce8b16f2f11bf76a5b648ee57848524a",
    ),
    "jcs._make_iterencode": (
        jcs_lib._make_iterencode,
        "372872a769adec6736271aaf5dcdd84fb618a5db139c3de52187883ad6eb7928",
    ),
    "jcs.convert2Es6Format": (
        convert2Es6Format,
        "c9cf5996aa1047cbcdbbbe69e2588ed25b0ce4b60234a46910fa192c22bd32f3",
    ),
}
# The SDK's own attributes, as found on each owner (a classmethod as the descriptor itself)
_ORIGINAL: dict[str, Any] = {
    key: inspect.getattr_static(p.owner, p.name) for key, p in _PATCHES.items()
}
_INHERITED = {key for key, p in _PATCHES.items() if p.name not in vars(p.owner)}


def _function(original: Any) -> Any:
    return original.__func__ if isinstance(original, classmethod) else original


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
    reviewed = {key: (_function(_ORIGINAL[key]), p.sha256) for key, p in _PATCHES.items()}
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
        if key in _INHERITED:
            if patch.name in vars(patch.owner):
                delattr(patch.owner, patch.name)
        else:
            setattr(patch.owner, patch.name, _ORIGINAL[key])


def is_patched() -> bool:
    """Whether the patches are in place."""
    return all(inspect.getattr_static(p.owner, p.name) is p.replacement for p in _PATCHES.values())
