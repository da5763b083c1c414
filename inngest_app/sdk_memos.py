"""A patch of the Inngest SDK's `StepMemos.pop`: constant time per memoized step.

In SDK 0.5.19 `StepMemos.pop` removes a memo by rebuilding the whole memo dict, so a call that
replays n memoized steps costs O(n²): 0.76 ms at 0 steps, 23.6 ms at 500 (measured through
`build_client` and `inngest_app.serve`). The patch removes the memo in place (`dict.pop`), with
the same result: the memo, or the SDK's empty sentinel when the step is new. The dict is the
one `StepMemos.from_raw` built for this call, owned by this `StepMemos` alone, so mutating it
in place changes nothing anyone else sees.

The patch is applied by `inngest_app.client.build_client`, and only over the exact code it
replaces: a different SDK version, or a `pop` whose source differs from the one reviewed,
raises `SdkPatchError` at start-up (loudly, not a silent slowdown or a silently wrong memo).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import textwrap

from inngest._internal import types
from inngest._internal.step_lib.base import Output, StepMemos

PATCHED_VERSIONS = frozenset({"0.5.19"})
# sha256 of the dedented source of `StepMemos.pop` in the versions above
REVIEWED_POP_SHA256 = "66815d30b50e8eff1fc26dbf9e59f120ae1d695f613eb9113ece0f94a1107524"

_original_pop = StepMemos.pop


class SdkPatchError(RuntimeError):
    """The installed SDK is not the one the patch was written for: re-review the patch."""


def _pop(self: StepMemos, hashed_id: str) -> Output | types.EmptySentinel:
    """The memo of `hashed_id`, removed (O(1)); the empty sentinel if there is none."""
    return self._memos.pop(hashed_id, types.empty_sentinel)


def source_digest(function: object) -> str:
    """sha256 of a function's dedented source."""
    source = textwrap.dedent(inspect.getsource(function))  # type: ignore[arg-type]
    return hashlib.sha256(source.encode()).hexdigest()


def check_sdk(version: str | None = None, pop: object = _original_pop) -> None:
    """`SdkPatchError` unless `version` (the installed SDK's by default) and `pop` are the
    reviewed ones."""
    version = version or importlib.metadata.version("inngest")
    if version not in PATCHED_VERSIONS:
        raise SdkPatchError(
            f"inngest {version} is installed but inngest_app/sdk_memos.py patches StepMemos.pop "
            f"of {sorted(PATCHED_VERSIONS)} only: check whether {version} still rebuilds the memo "
            "dict on every pop, then update PATCHED_VERSIONS and REVIEWED_POP_SHA256 (or drop "
            "the patch)"
        )
    digest = source_digest(pop)
    if digest != REVIEWED_POP_SHA256:
        raise SdkPatchError(
            f"inngest {version}: StepMemos.pop is not the code the patch was reviewed against "
            f"(sha256 {digest}); re-review inngest_app/sdk_memos.py"
        )


def patch_step_memos() -> None:
    """Replace `StepMemos.pop` with the in-place version (idempotent; checked first)."""
    if StepMemos.pop is _pop:
        return
    check_sdk(pop=StepMemos.pop)
    StepMemos.pop = _pop  # type: ignore[method-assign]


def unpatch_step_memos() -> None:
    """Put the SDK's own `pop` back (for the benchmark's baseline and the tests)."""
    StepMemos.pop = _original_pop  # type: ignore[method-assign]


def is_patched() -> bool:
    """Whether `StepMemos.pop` is the patched one."""
    return StepMemos.pop is _pop
