"""Cancellation, waits, invokes, parallel steps, crons and triggers, over real HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest
import pytest

from tests.testing.support import Functions, count, mini_app


def _cancellable(client: inngest.Inngest) -> Functions:
    @client.create_function(
        fn_id="long",
        trigger=inngest.TriggerEvent(event="t/start"),
        cancel=[
            inngest.Cancel(
                event="t/stop",
                if_exp="async.data.id == event.data.id",
                timeout=dt.timedelta(days=2),
            )
        ],
    )
    async def long(ctx: inngest.Context) -> str:
        await ctx.step.sleep("nap", dt.timedelta(days=3))
        return "woke"

    return [long]


async def test_a_matching_cancel_event_cancels_only_that_sleeping_run() -> None:
    async with mini_app(_cancellable) as mini:
        await mini.executor.send(
            [{"name": "t/start", "data": {"id": "a"}}, {"name": "t/start", "data": {"id": "b"}}]
        )
        await mini.executor.run_until_idle(advance_clock=False)
        a, b = mini.executor.runs("long")
        assert a.status == b.status == "sleeping"
        await mini.executor.send({"name": "t/stop", "data": {"id": "a"}})
        assert a.status == "cancelled" and b.status == "sleeping"
        await mini.executor.run_until_idle()
        assert a.calls == 1 and a.output is None  # no call after the cancel
        assert b.status == "completed" and b.output == "woke"
        [cancelled] = [e for e in mini.executor.events if e["name"] == "inngest/function.cancelled"]
        assert cancelled["data"]["run_id"] == a.run_id
        assert cancelled["data"]["function_id"] == "mini-long"
        assert cancelled["data"]["event"] == a.event and cancelled["data"]["events"] == [a.event]
        assert cancelled["data"]["error"]["message"] == "function cancelled"


async def test_a_cancel_matcher_expires_after_its_timeout() -> None:
    async with mini_app(_cancellable) as mini:
        await mini.executor.send({"name": "t/start", "data": {"id": "a"}})
        await mini.executor.run_until_idle(advance_clock=False)
        mini.clock.advance(dt.timedelta(days=2, hours=1).total_seconds())
        await mini.executor.send({"name": "t/stop", "data": {"id": "a"}})
        [run] = mini.executor.runs("long")
        assert run.status == "sleeping"


def _waits(client: inngest.Inngest) -> Functions:
    @client.create_function(fn_id="order", trigger=inngest.TriggerEvent(event="t/order"))
    async def order(ctx: inngest.Context) -> Any:
        paid = await ctx.step.wait_for_event(
            "paid",
            event="t/paid",
            if_exp="async.data.order == event.data.order",
            timeout=dt.timedelta(hours=1),
        )
        return None if paid is None else {"id": paid.id, "data": dict(paid.data)}

    return [order]


async def test_wait_for_event_takes_the_matching_event_or_null_at_its_timeout() -> None:
    async with mini_app(_waits) as mini:
        await mini.executor.send(
            [{"name": "t/order", "data": {"order": 1}}, {"name": "t/order", "data": {"order": 2}}]
        )
        await mini.executor.run_until_idle(advance_clock=False)
        matched, timed_out = mini.executor.runs("order")
        assert matched.status == timed_out.status == "waiting"
        [paid_id] = await mini.executor.send({"name": "t/paid", "data": {"order": 1, "usd": 5}})
        await mini.executor.run_until_idle()
        assert matched.status == "completed"
        assert matched.output == {"id": paid_id, "data": {"order": 1, "usd": 5}}
        [memo] = [v for v in matched.steps.values()]
        assert memo["name"] == "t/paid" and memo["id"] == paid_id  # the event itself, not nested
        assert timed_out.status == "completed" and timed_out.output is None
        assert list(timed_out.steps.values()) == [None]


def _parallel_and_invoke(bodies: dict[str, int]) -> Any:
    def build(client: inngest.Inngest) -> Functions:
        @client.create_function(fn_id="child", trigger=inngest.TriggerEvent(event="t/child"))
        async def child(ctx: inngest.Context) -> int:
            if ctx.event.data["n"] < 0:
                raise inngest.NonRetriableError("negative")
            return int(ctx.event.data["n"]) * 10

        @client.create_function(fn_id="parent", trigger=inngest.TriggerEvent(event="t/parent"))
        async def parent(ctx: inngest.Context) -> Any:
            async def value(name: str, n: int) -> int:
                count(bodies, name)
                return n

            pair = await ctx.group.parallel(
                (
                    lambda: ctx.step.run("left", value, "left", 1),
                    lambda: ctx.step.run("right", value, "right", 2),
                )
            )
            invoked = await ctx.step.invoke(
                "call-child", function=child, data={"n": ctx.event.data["n"]}
            )
            return [*pair, invoked]

        @client.create_function(fn_id="caller", trigger=inngest.TriggerEvent(event="t/caller"))
        async def caller(ctx: inngest.Context) -> str:
            try:
                await ctx.step.invoke("call-child", function=child, data={"n": -1})
            except inngest.StepError as exc:
                return f"child failed: {exc.message}"
            return "unreachable"

        return [child, parent, caller]

    return build


async def test_parallel_steps_are_planned_then_called_each_with_its_step_id() -> None:
    bodies: dict[str, int] = {}
    async with mini_app(_parallel_and_invoke(bodies)) as mini:
        await mini.executor.send({"name": "t/parent", "data": {"n": 4}})
        await mini.executor.run_until_idle()
        [parent] = mini.executor.runs("parent")
        assert parent.status == "completed", parent.error
        assert parent.output == [1, 2, 40]
        assert bodies == {"left": 1, "right": 1}
        assert parent.step_names("StepPlanned") == ["left", "right"]
        assert parent.step_names("StepRun") == ["left", "right"]
        assert parent.disable_immediate


async def test_invoke_starts_the_target_and_memoizes_its_result_or_error() -> None:
    async with mini_app(_parallel_and_invoke({})) as mini:
        await mini.executor.send([{"name": "t/parent", "data": {"n": 4}}, {"name": "t/caller"}])
        await mini.executor.run_until_idle()
        parent, caller = mini.executor.runs("parent")[0], mini.executor.runs("caller")[0]
        ok_child, failed_child = mini.executor.runs("child")
        assert ok_child.event["name"] == "inngest/function.invoked"
        assert ok_child.event["data"]["n"] == 4
        assert ok_child.event["data"]["_inngest"]["fn_id"] == "mini-child"
        assert parent.steps[parent.stack[-1]] == {"data": 40}
        assert failed_child.status == "failed"
        assert caller.status == "completed" and caller.output == "child failed: negative"


def _invoke_with_timeout(client: inngest.Inngest) -> Functions:
    @client.create_function(fn_id="slow", trigger=inngest.TriggerEvent(event="t/slow"))
    async def slow(ctx: inngest.Context) -> str:
        await ctx.step.sleep("think", dt.timedelta(hours=2))
        return "late"

    @client.create_function(fn_id="impatient", trigger=inngest.TriggerEvent(event="t/go"))
    async def impatient(ctx: inngest.Context) -> str:
        try:
            await ctx.step.invoke("ask", function=slow, timeout=dt.timedelta(hours=1))
        except inngest.StepError as exc:
            return exc.name
        return "answered"

    return [slow, impatient]


async def test_an_invoke_that_times_out_gives_the_invoker_an_error() -> None:
    async with mini_app(_invoke_with_timeout) as mini:
        await mini.executor.send({"name": "t/go", "data": {}})
        await mini.executor.run_until_idle()
        [impatient], [slow] = mini.executor.runs("impatient"), mini.executor.runs("slow")
        assert impatient.output == "InngestInvokeTimeoutError"
        assert slow.status == "completed"  # the invoked run goes on by itself


def _cron_and_triggers(client: inngest.Inngest) -> Functions:
    @client.create_function(fn_id="hourly", trigger=inngest.TriggerCron(cron="0 * * * *"))
    async def hourly(ctx: inngest.Context) -> dict[str, Any]:
        return {"name": ctx.event.name, "data": dict(ctx.event.data)}

    @client.create_function(fn_id="any-stripe", trigger=inngest.TriggerEvent(event="stripe/*"))
    async def any_stripe(ctx: inngest.Context) -> str:
        return ctx.event.name

    @client.create_function(
        fn_id="pro-only",
        trigger=inngest.TriggerEvent(
            event="t/signup", expression="event.data.plan == 'pro' && event.data.seats > 1"
        ),
    )
    async def pro_only(ctx: inngest.Context) -> str:
        return str(ctx.event.data["plan"])

    return [hourly, any_stripe, pro_only]


async def test_fire_cron_starts_a_run_with_the_scheduled_timer_event() -> None:
    async with mini_app(_cron_and_triggers) as mini:
        run = await mini.executor.fire_cron("hourly")
        await mini.executor.wait_for(run.run_id)
        assert run.status == "completed"
        assert run.output == {"name": "inngest/scheduled.timer", "data": {"cron": "0 * * * *"}}
        with pytest.raises(ValueError, match="no cron trigger"):
            await mini.executor.fire_cron("pro-only")


async def test_wildcards_and_expressions_choose_which_functions_start() -> None:
    async with mini_app(_cron_and_triggers) as mini:
        await mini.executor.send(
            [
                {"name": "stripe/invoice.paid", "data": {}},
                {"name": "stripe-like/not.this", "data": {}},
                {"name": "t/signup", "data": {"plan": "pro", "seats": 3}},
                {"name": "t/signup", "data": {"plan": "pro", "seats": 1}},
                {"name": "t/signup", "data": {"plan": "free"}},
            ]
        )
        await mini.executor.run_until_idle()
        assert [r.output for r in mini.executor.runs("any-stripe")] == ["stripe/invoice.paid"]
        assert [r.event["data"] for r in mini.executor.runs("pro-only")] == [
            {"plan": "pro", "seats": 3}
        ]
        assert mini.executor.runs(event_name="stripe-like/not.this") == []
