"""The SDK `StepMemos.pop` patch: same answers, in place, applied at client build, guarded."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import inngest
import pytest
from inngest._internal import types
from inngest._internal.step_lib.base import StepMemos
from starlette.applications import Starlette

from inngest_app import sdk_memos
from inngest_app.client import build_client
from inngest_app.serve import inngest_routes
from inngest_app.settings import Settings
from inngest_app.testing.signing import step_call


@pytest.fixture
def unpatched() -> Iterator[None]:
    """Each test starts from the SDK's own `pop` and leaves the patch applied, as the app does."""
    sdk_memos.unpatch_step_memos()
    yield
    sdk_memos.patch_step_memos()


def _memos(n: int) -> StepMemos:
    return StepMemos.from_raw({f"id-{i}": {"data": i} for i in range(n)})


def test_the_patched_pop_answers_as_the_sdks_and_keeps_its_dict(unpatched: None) -> None:
    original = _memos(3)
    expected = [original.pop("id-1"), original.pop("nope"), original.pop("id-1")]
    sdk_memos.patch_step_memos()
    assert sdk_memos.is_patched()
    patched = _memos(3)
    before = patched._memos
    got = [patched.pop("id-1"), patched.pop("nope"), patched.pop("id-1")]
    assert [getattr(m, "data", m) for m in got] == [getattr(m, "data", m) for m in expected]
    assert got[0].data == 1  # type: ignore[union-attr]
    assert got[1] is types.empty_sentinel and got[2] is types.empty_sentinel
    assert patched.size == original.size == 2
    assert patched._memos is before  # removed in place: no rebuild per pop


def test_the_sdks_own_pop_rebuilds_the_dict_on_each_pop(unpatched: None) -> None:
    memos = _memos(3)
    before = memos._memos
    memos.pop("id-0")
    assert memos._memos is not before  # what makes a call quadratic in its memos


def test_build_client_applies_the_patch_once(unpatched: None) -> None:
    assert not sdk_memos.is_patched()
    build_client(Settings(inngest_dev=True))
    build_client(Settings(inngest_dev=True))
    assert sdk_memos.is_patched()


def test_another_sdk_version_or_another_pop_fails_loudly() -> None:
    sdk_memos.check_sdk()  # the installed one is the reviewed one
    with pytest.raises(sdk_memos.SdkPatchError, match=r"inngest 0\.6\.0 is installed"):
        sdk_memos.check_sdk("0.6.0")

    def pop(self: Any, hashed_id: str) -> Any:  # an upgrade that changed the method
        return self._memos.get(hashed_id)

    with pytest.raises(sdk_memos.SdkPatchError, match="not the code the patch was reviewed"):
        sdk_memos.check_sdk("0.5.19", pop)


def _app(client: inngest.Inngest, n_steps: int) -> Starlette:
    @client.create_function(fn_id="steps", trigger=inngest.TriggerEvent(event="t/steps"))
    async def steps(ctx: inngest.Context) -> list[int]:
        seen = []
        for i in range(n_steps):

            async def one(i: int = i) -> int:
                return i * 10

            seen.append(await ctx.step.run(f"s-{i}", one))
        return seen

    return Starlette(routes=inngest_routes(client, [steps]))


async def _replay(client: inngest.Inngest, memoized: int, n_steps: int) -> tuple[int, Any]:
    """One call with `memoized` steps memoized, through our adapter."""
    memos = {
        hashlib.sha1(f"s-{i}".encode()).hexdigest(): {"data": i * 10}  # noqa: S324
        for i in range(memoized)
    }
    body = step_call({"name": "t/steps", "data": {}, "id": "e1", "ts": 1}, run_id="r1", steps=memos)
    transport = httpx.ASGITransport(app=_app(client, n_steps))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        response = await http.post(
            f"/api/inngest?fnId={client.app_id}-steps&stepId=step",
            content=body,
            headers={"Content-Type": "application/json", "X-Inngest-Server-Kind": "dev"},
        )
    return response.status_code, json.loads(response.content)


async def test_a_replay_through_the_app_gives_the_same_answer_patched_or_not(
    unpatched: None,
) -> None:
    sdk = inngest.Inngest(app_id="inngest-app", is_production=False)
    expected = [await _replay(sdk, 40, 50), await _replay(sdk, 50, 50)]
    ours = build_client(Settings(inngest_dev=True))  # patches
    assert sdk_memos.is_patched()
    got = [await _replay(ours, 40, 50), await _replay(ours, 50, 50)]
    assert got == expected
    status, [op] = got[0]
    assert status == 206 and op["op"] == "StepRun" and op["displayName"] == "s-40"
    assert op["data"] == 400
    assert got[1] == (200, [i * 10 for i in range(50)])
