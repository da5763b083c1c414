"""What the app's answers do to a run: waits, parallel steps, invokes, sleeps."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import inngest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inngest_app.testing import ManualClock, TestExecutor
from inngest_app.testing.live import serve_asgi
from tests.testing.apps import registration, settle
from tests.testing.support import (
    Functions,
    count,
    mini_app,
)


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


async def test_a_sleep_given_as_a_duration_lasts_that_long() -> None:
    """The JS SDK's `Sleep` opcode names a duration ("1m30s"), the Python SDK's an ISO time."""
    seen: list[dict[str, Any]] = []

    async def endpoint(request: Request) -> JSONResponse:
        seen.append(json.loads(await request.body()))
        if len(seen) == 1:
            return JSONResponse([{"id": "nap-hash", "op": "Sleep", "name": "1m30s"}], 206)
        return JSONResponse("woke")

    app = Starlette(routes=[Route("/api/inngest", endpoint, methods=["POST"])])
    clock = ManualClock()
    async with TestExecutor(clock=clock) as executor, serve_asgi(app) as origin:
        executor.registry.register(registration("app-fn", f"{origin}/api/inngest", "t/nap"))
        await executor.send({"name": "t/nap", "data": {}})
        [run] = await settle(executor)
    assert run.status == "completed" and run.output == "woke"
    assert run.ended_at == run.started_at + 90
    assert seen[1]["steps"] == {"nap-hash": None}
