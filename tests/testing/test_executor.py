"""The executor drives served functions as Inngest does: steps, sleeps, retries, failure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest
import pytest

from inngest_app.testing.runs import FUNCTION_UNIT
from tests.testing.support import Functions, count, mini_app


def _two_steps_and_a_sleep(bodies: dict[str, int]) -> Any:
    def build(client: inngest.Inngest) -> Functions:
        @client.create_function(
            fn_id="greet",
            trigger=inngest.TriggerEvent(event="t/greet"),
            concurrency=[inngest.Concurrency(limit=2, key="event.data.user")],
            throttle=inngest.Throttle(limit=5, period=dt.timedelta(minutes=1)),
        )
        async def greet(ctx: inngest.Context) -> dict[str, Any]:
            async def hello() -> str:
                count(bodies, "hello")
                return f"hello {ctx.event.data['user']}"

            async def bye() -> str:
                count(bodies, "bye")
                return "bye"

            first = await ctx.step.run("hello", hello)
            await ctx.step.sleep("nap", dt.timedelta(hours=1))
            second = await ctx.step.run("bye", bye)
            return {"first": first, "second": second, "attempt": ctx.attempt}

        return [greet]

    return build


async def test_sync_registers_the_functions_with_their_flow_control() -> None:
    async with mini_app(_two_steps_and_a_sleep({})) as mini:
        [registration] = mini.executor.registrations
        assert registration["appname"] == "mini" and registration["url"] == mini.app_url
        config = mini.executor.functions["mini-greet"]
        assert config["triggers"] == [{"event": "t/greet"}]
        assert config["steps"]["step"]["runtime"]["url"].startswith(mini.app_url)
        assert config["concurrency"] == [{"limit": 2, "key": "event.data.user"}]
        assert config["throttle"] == {"limit": 5, "period": "1m", "burst": 1}


async def test_an_event_runs_steps_and_a_sleep_to_completion_each_step_body_once() -> None:
    bodies: dict[str, int] = {}
    async with mini_app(_two_steps_and_a_sleep(bodies)) as mini:
        start = mini.clock.now()
        [event_id] = await mini.executor.send({"name": "t/greet", "data": {"user": "ada"}})
        run = await mini.executor.wait_for(lambda r: r.event["id"] == event_id, status="sleeping")
        assert bodies == {"hello": 1} and mini.clock.now() == start  # paused mid-flight
        await mini.executor.run_until_idle()
        assert run.status == "completed", run.error
        assert run.output == {"first": "hello ada", "second": "bye", "attempt": 0}
        assert bodies == {"hello": 1, "bye": 1}  # later calls replayed the memoized steps
        assert run.step_names(None) == ["hello", "nap", "bye"]
        assert list(run.steps.values()) == [{"data": "hello ada"}, None, {"data": "bye"}]
        assert run.calls == 4 and run.retries == 0
        assert mini.clock.now() - start == pytest.approx(3600, abs=5)
        [finished] = [e for e in mini.executor.events if e["name"] == "inngest/function.finished"]
        assert finished["data"]["run_id"] == run.run_id
        assert finished["data"]["result"] == run.output
        assert finished["data"]["function_id"] == "mini-greet"


def _flaky(client: inngest.Inngest) -> Functions:
    calls: dict[str, int] = {}

    @client.create_function(fn_id="flaky", trigger=inngest.TriggerEvent(event="t/flaky"), retries=3)
    async def flaky(ctx: inngest.Context) -> int:
        async def call() -> int:
            if count(calls, "call") < 3:
                raise RuntimeError(f"attempt {calls['call']} failed")
            return calls["call"]

        return await ctx.step.run("call", call)

    return [flaky]


async def test_a_failing_step_is_retried_with_the_next_attempt_then_succeeds() -> None:
    async with mini_app(_flaky) as mini:
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


FAILURES: list[dict[str, Any]] = []


def _always_fails(client: inngest.Inngest) -> Functions:
    async def record(ctx: inngest.Context) -> str:
        FAILURES.append(dict(ctx.event.data))
        return "noted"

    @client.create_function(
        fn_id="doomed",
        trigger=inngest.TriggerEvent(event="t/doomed"),
        retries=1,
        on_failure=record,
    )
    async def doomed(ctx: inngest.Context) -> None:
        async def call() -> None:
            raise RuntimeError("upstream is down")

        await ctx.step.run("call", call)

    return [doomed]


async def test_failing_for_good_emits_function_failed_and_runs_the_failure_handler() -> None:
    FAILURES.clear()
    async with mini_app(_always_fails) as mini:
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


async def test_an_event_id_seen_before_is_accepted_but_starts_nothing() -> None:
    async with mini_app(_flaky) as mini:
        first = await mini.executor.send({"name": "t/flaky", "data": {}, "id": "same"})
        second = await mini.executor.send({"name": "t/flaky", "data": {"x": 1}, "id": "same"})
        assert first == second == ["same"]
        assert len(mini.executor.runs("flaky")) == 1
        assert [e["id"] for e in mini.executor.events] == ["same"]


async def test_wait_for_names_every_run_when_time_runs_out() -> None:
    async with mini_app(_two_steps_and_a_sleep({})) as mini:
        with pytest.raises(KeyError):
            await mini.executor.wait_for("no-such-run")
        [event_id] = await mini.executor.send({"name": "t/greet", "data": {"user": "bob"}})
        with pytest.raises(TimeoutError, match="mini-greet=sleeping"):
            await mini.executor.wait_for(
                lambda r: r.event["id"] == event_id, timeout=0.2, advance_clock=False
            )
        [run] = mini.executor.runs(event_name="t/greet")
        assert await mini.executor.wait_for(run.run_id) is run and run.status == "completed"


async def test_a_test_may_send_a_system_event_to_start_a_failure_handler() -> None:
    FAILURES.clear()
    async with mini_app(_always_fails) as mini:
        with pytest.raises(ValueError, match="reserved"):
            await mini.executor.send({"name": "inngest/function.failed", "data": {}})
        data = {"function_id": "mini-doomed", "run_id": "r1", "error": {}, "event": {}}
        await mini.executor.send({"name": "inngest/function.failed", "data": data}, internal=True)
        handler = await mini.executor.wait_for(lambda r: r.function_id == "mini-doomed-failure")
        assert handler.status == "completed" and FAILURES == [data]
