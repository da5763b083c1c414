"""Events in, runs out: cancellation, crons, and which triggers start which functions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest
import pytest

from tests.testing.support import (
    Functions,
    mini_app,
)


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
