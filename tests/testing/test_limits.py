"""The executor enforces Inngest's platform limits: steps, step output, state, events, sleeps.

Each test lowers one limit (`Limits`) and goes one past it; the run fails at once with
Inngest's error, shown in the run's history, the REST API and the run viewer; one at the limit
passes, so the boundary is pinned on both sides.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import inngest
import pytest
from inngest._internal.errors import SendEventsError

from inngest_app.testing import ManualClock, TestExecutor
from inngest_app.testing.limits import (
    OUTPUT_EXCEEDED,
    SLEEP_EXCEEDED,
    STATE_EXCEEDED,
    STEPS_EXCEEDED,
    Guard,
    LimitExceeded,
    Limits,
    size_of,
)
from inngest_app.testing.runs import Run
from tests.testing.support import Functions, mini_app

BLOB = "x" * 1000  # a step output of 1,002 bytes as JSON ("x..." with its quotes)


def _loop(n_steps: int, *, output: str = "", sleep: dt.timedelta | None = None) -> Any:
    """`t/loop` runs `n` steps (from the event, default `n_steps`) returning `output`."""

    def build(client: inngest.Inngest) -> Functions:
        @client.create_function(
            fn_id="loop", trigger=inngest.TriggerEvent(event="t/loop"), retries=0
        )
        async def loop(ctx: inngest.Context) -> dict[str, Any]:
            async def one() -> str:
                return output

            for i in range(int(ctx.event.data.get("n", n_steps))):
                await ctx.step.run(f"step-{i}", one)
            if sleep is not None:
                await ctx.step.sleep("nap", sleep)
            return {"done": True}

        return [loop]

    return build


def _executor(**limits: Any) -> TestExecutor:
    return TestExecutor(clock=ManualClock(), limits=Limits(**limits))


async def _run(mini: Any, n: int | None = None, **data: Any) -> Run:
    payload = {"n": n} if n is not None else {}
    [event_id] = await mini.executor.send({"name": "t/loop", "data": {**payload, **data}})
    return await mini.executor.wait_for(lambda r: r.event["id"] == event_id)


async def _shown(mini: Any, run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run as the REST API and the viewer show it."""
    async with httpx.AsyncClient(base_url=mini.executor_url) as http:
        rest = (await http.get(f"/v1/runs/{run.run_id}")).json()["data"]
        viewer = (await http.get(f"/viewer/api/runs/{run.run_id}")).json()
    return rest, viewer


def _assert_failed_with(run: Run, name: str, message: str) -> None:
    assert run.status == "failed", run.error
    assert run.error == {"error": f"{name}: {message}", "name": name, "message": message}
    last = run.step_log[-1]
    assert last.op == "LimitExceeded" and last.error == run.error and not last.ok


async def test_the_step_after_the_step_limit_fails_the_run_with_inngests_error() -> None:
    async with mini_app(_loop(5), executor=_executor(max_steps=5)) as mini:
        within = await _run(mini, 5)
        assert within.status == "completed", within.error
        assert len(within.steps) == 5
        over = await _run(mini, 6)
        _assert_failed_with(
            over, STEPS_EXCEEDED, "The function run exceeded the step limit of 5 steps."
        )
        assert len(over.steps) == 5  # the 6th is not memoized, and the run is not retried
        assert over.step_log[-1].name == "step-5"
        rest, viewer = await _shown(mini, over)
        assert rest["status"] == "Failed" and rest["output"] == over.error
        assert viewer["status"] == "failed" and viewer["error"] == over.error
        assert viewer["steps"][-1]["kind"] == "platform limit"
        assert viewer["steps"][-1]["name"] == "step-5" and viewer["steps"][-1]["ok"] is False
        assert any(
            e["name"] == "inngest/function.failed" and e["data"]["run_id"] == over.run_id
            for e in mini.executor.events
        )


def test_the_defaults_are_inngests_documented_limits() -> None:
    limits = Limits()
    assert limits.max_steps == 1000
    assert limits.max_step_output_bytes == 4 * 1024 * 1024
    assert limits.max_state_bytes == 32 * 1024 * 1024
    assert limits.max_event_bytes == 256 * 1024
    assert limits.max_sleep_s == 365 * 86_400
    guard = Guard()
    guard.new_step("r", 999)
    with pytest.raises(LimitExceeded, match="exceeded the step limit of 1000 steps"):
        guard.new_step("r", 1000)


async def test_a_step_output_over_the_limit_fails_the_run() -> None:
    size = size_of({"data": BLOB})
    async with mini_app(_loop(1, output=BLOB), executor=_executor(max_step_output_bytes=size)) as m:
        assert (await _run(m)).status == "completed"
    limit = size - 1
    async with mini_app(
        _loop(1, output=BLOB), executor=_executor(max_step_output_bytes=limit)
    ) as m:
        run = await _run(m)
        message = f"step output size is greater than the limit: {size} > {limit} bytes"
        _assert_failed_with(run, OUTPUT_EXCEEDED, message)
        assert run.steps == {}
    assert Limits().max_step_output_bytes == 4 * 1024 * 1024


async def test_run_state_over_the_limit_fails_the_run_events_and_outputs_counted() -> None:
    executor = _executor(max_state_bytes=10_000)
    async with mini_app(_loop(20, output=BLOB), executor=executor) as mini:
        run = await _run(mini)
        message = "The function run exceeded the state size limit of 10000 bytes."
        _assert_failed_with(run, STATE_EXCEEDED, message)
        # the event (~80 bytes) and nine outputs of 1,009 bytes fit, the tenth does not
        assert len(run.steps) == 9
        event_bytes = size_of(run.event)
        step_bytes = size_of({"data": BLOB})
        assert event_bytes + 9 * step_bytes <= 10_000 < event_bytes + 10 * step_bytes
    assert Limits().max_state_bytes == 32 * 1024 * 1024


async def test_the_function_output_counts_towards_the_state() -> None:
    def build(client: inngest.Inngest) -> Functions:
        @client.create_function(fn_id="big", trigger=inngest.TriggerEvent(event="t/big"))
        async def big(ctx: inngest.Context) -> str:
            return BLOB * 3

        return [big]

    async with mini_app(build, executor=_executor(max_state_bytes=2_500)) as mini:
        [event_id] = await mini.executor.send({"name": "t/big", "data": {}})
        run = await mini.executor.wait_for(lambda r: r.event["id"] == event_id)
        assert run.status == "failed" and run.error is not None
        assert run.error["name"] == STATE_EXCEEDED and run.output is None


async def test_a_sleep_past_the_maximum_fails_the_run() -> None:
    async with mini_app(
        _loop(0, sleep=dt.timedelta(days=7, seconds=1)), executor=_executor(max_sleep_s=7 * 86_400)
    ) as mini:
        run = await _run(mini)
        assert run.status == "failed" and run.error is not None
        assert run.error["name"] == SLEEP_EXCEEDED
        assert "exceeds the maximum of 604800s" in run.error["message"]
        assert run.step_log[-1].name == "nap"
    async with mini_app(
        _loop(0, sleep=dt.timedelta(days=7)), executor=_executor(max_sleep_s=7 * 86_400)
    ) as mini:
        assert (await _run(mini)).status == "completed"
    assert Limits().max_sleep_s == 365 * 86_400


async def test_an_event_over_the_size_limit_is_refused_and_starts_nothing() -> None:
    limit = 2_000
    async with mini_app(_loop(0), executor=_executor(max_event_bytes=limit)) as mini:
        fits = {"name": "t/loop", "data": {"pad": ""}}
        fits["data"]["pad"] = "y" * (limit - size_of(fits))
        assert size_of(fits) == limit
        too_big = {"name": "t/loop", "data": {"pad": "y" * limit}}
        async with httpx.AsyncClient(base_url=mini.executor_url) as http:
            refused = await http.post("/e/key", json=[fits, too_big])
            assert refused.status_code == 413
            assert "event too large" in refused.json()["error"]
            assert mini.executor.events == []  # a batch is all or nothing
            accepted = await http.post("/e/key", json=fits)
            assert accepted.status_code == 200
        with pytest.raises(ValueError, match="event too large"):
            await mini.executor.send(too_big)
        # the SDK's own send is refused by the event API
        with pytest.raises(SendEventsError):
            await mini.client.send(inngest.Event(name="t/loop", data={"pad": "y" * limit}))
        await mini.executor.run_until_idle()
        assert [r.status for r in mini.executor.runs()] == ["completed"]
    assert Limits().max_event_bytes == 256 * 1024


async def test_a_step_send_over_the_event_limit_fails_the_step_not_the_executor() -> None:
    def build(client: inngest.Inngest) -> Functions:
        @client.create_function(fn_id="fan", trigger=inngest.TriggerEvent(event="t/fan"), retries=0)
        async def fan(ctx: inngest.Context) -> None:
            await ctx.step.send_event("big", inngest.Event(name="t/x", data={"p": BLOB * 3}))

        return [fan]

    async with mini_app(build, executor=_executor(max_event_bytes=2_000)) as mini:
        [event_id] = await mini.executor.send({"name": "t/fan", "data": {}})
        run = await mini.executor.wait_for(lambda r: r.event["id"] == event_id)
        assert run.status == "failed"
        assert [e["name"] for e in mini.executor.events].count("t/x") == 0
