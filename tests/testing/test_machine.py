"""The run state machine: retries, failures for good, refusals, and how a run ends."""

from __future__ import annotations

import datetime as dt

import inngest
import pytest

from inngest_app.testing import ManualClock, TestExecutor
from inngest_app.testing.runs import FUNCTION_UNIT
from tests.testing.apps import FAILURES, echo_app, failing_app, flaky_app, registration, settle
from tests.testing.support import (
    OTHER_SIGNING_KEY,
    Functions,
    mini_app,
)


async def test_a_failing_step_is_retried_with_the_next_attempt_then_succeeds() -> None:
    async with mini_app(flaky_app) as mini:
        await mini.executor.send({"name": "t/flaky", "data": {}})
        run = await mini.executor.wait_for(lambda r: r.function_id == "mini-flaky")
        assert run.status == "completed" and run.output == 3
        assert run.retries == 2 and run.attempts == {"call": 2}
        assert [(r.op, r.attempt, r.ok) for r in run.step_log] == [
            ("StepError", 0, False),
            ("StepError", 1, False),
            ("StepRun", 2, True),
        ]
        assert run.step_log[0].error is not None
        assert run.step_log[0].error["message"] == "attempt 1 failed"


async def test_failing_for_good_emits_function_failed_and_runs_the_failure_handler() -> None:
    FAILURES.clear()
    async with mini_app(failing_app) as mini:
        [event_id] = await mini.executor.send({"name": "t/doomed", "data": {"n": 1}})
        await mini.executor.run_until_idle()
        [run] = mini.executor.runs("doomed")
        assert run.status == "failed" and run.error is not None
        assert run.error["message"] == "upstream is down" and run.error["name"] == "RuntimeError"
        # attempt 0: StepError; attempt 1 (the last): StepFailed, memoized; the function then
        # raises the step's error, which is final.
        assert [(r.op, r.attempt) for r in run.step_log] == [
            ("StepError", 0),
            ("StepFailed", 1),
            ("FunctionError", 0),
        ]
        [failed] = [e for e in mini.executor.events if e["name"] == "inngest/function.failed"]
        assert set(failed["data"]) == {"function_id", "run_id", "error", "event"}
        assert failed["data"]["function_id"] == "mini-doomed"
        assert failed["data"]["run_id"] == run.run_id
        assert failed["data"]["event"]["id"] == event_id
        assert failed["data"]["error"]["message"] == "upstream is down"
        [handler] = mini.executor.runs("doomed-failure")
        assert handler.status == "completed" and handler.output == "noted"
        assert FAILURES == [failed["data"]]
        # the handler's own end emits nothing: system events never feed back into themselves
        finished = [e for e in mini.executor.events if e["name"] == "inngest/function.finished"]
        assert [e["data"]["run_id"] for e in finished] == [run.run_id]


def _refusals(client: inngest.Inngest) -> Functions:
    @client.create_function(fn_id="refuse", trigger=inngest.TriggerEvent(event="t/refuse"))
    async def refuse(ctx: inngest.Context) -> None:
        async def call() -> None:
            raise inngest.NonRetriableError("bad input: field x")

        await ctx.step.run("call", call)

    @client.create_function(fn_id="later", trigger=inngest.TriggerEvent(event="t/later"))
    async def later(ctx: inngest.Context) -> int:
        if ctx.attempt == 0:
            raise inngest.RetryAfterError("rate limited", dt.timedelta(seconds=90))
        return ctx.attempt

    return [refuse, later]


async def test_non_retriable_error_fails_at_once() -> None:
    async with mini_app(_refusals) as mini:
        await mini.executor.send({"name": "t/refuse", "data": {}})
        run = await mini.executor.wait_for(lambda r: r.function_id == "mini-refuse")
        assert run.status == "failed" and run.retries == 0 and run.calls == 1
        assert run.error is not None and run.error["message"] == "bad input: field x"


async def test_retry_after_sets_the_earliest_next_attempt_on_the_clock() -> None:
    async with mini_app(_refusals) as mini:
        start = mini.clock.now()
        await mini.executor.send({"name": "t/later", "data": {}})
        await mini.executor.run_until_idle(advance_clock=False)
        [run] = mini.executor.runs("later")
        assert run.status == "queued" and run.calls == 1
        assert run.next_due is not None and run.next_due - start == pytest.approx(90, abs=5)
        mini.clock.advance(60)
        await mini.executor.run_until_idle(advance_clock=False)
        assert run.calls == 1  # not before the time the app asked for
        await mini.executor.run_until_idle()
        assert run.status == "completed" and run.output == 1
        assert run.attempts == {FUNCTION_UNIT: 1} and run.calls == 2
        assert run.ended_at is not None and run.ended_at - start >= 85


async def test_an_app_that_refuses_the_signature_fails_the_run_without_retries() -> None:
    executor = TestExecutor(signing_key=OTHER_SIGNING_KEY, clock=ManualClock())
    async with mini_app(echo_app, cloud=True, executor=executor, sync=False) as mini:
        mini.executor.registry.register(
            registration("mini-echo", f"{mini.app_url}?fnId=mini-echo&stepId=step", "t/echo")
        )
        await mini.executor.send({"name": "t/echo", "data": {}})
        [run] = await settle(mini.executor)
        assert run.status == "failed" and run.calls == 1 and run.retries == 0
        assert run.error is not None and "HTTP 401" in run.error["message"]
        assert [r.op for r in run.step_log] == ["Refused"]


async def test_an_unknown_function_id_is_refused_at_once() -> None:
    async with mini_app(echo_app) as mini:
        ghost = registration("mini-ghost", f"{mini.app_url}?fnId=mini-ghost&stepId=step", "t/ghost")
        mini.executor.registry.register(ghost)
        await mini.executor.send({"name": "t/ghost", "data": {}})
        [run] = await settle(mini.executor)
        assert run.status == "failed" and run.calls == 1
        assert run.error is not None and run.error["code"] == "function_not_found"
