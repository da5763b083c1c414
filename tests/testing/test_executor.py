"""The test executor speaks Inngest's protocol: each opcode, retries, waits, cancel, crons."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import inngest
import pytest
from starlette.applications import Starlette

from inngest_app.serve import inngest_routes
from inngest_app.testing import ManualClock, TestExecutor
from inngest_app.testing.executor import parse_duration
from inngest_app.testing.expressions import evaluate
from inngest_app.testing.live import serve_asgi
from inngest_app.testing.signing import hashed_signing_key, sign

SIGNING_KEY = "signkey-test-" + "a1" * 32
Build = Callable[[inngest.Inngest], list[inngest.Function[Any]]]


@contextlib.asynccontextmanager
async def mini_app(build: Build, *, cloud: bool = False) -> AsyncIterator[TestExecutor]:
    """A tiny app of `build`'s functions, served and synced with a fresh executor."""
    executor = TestExecutor(signing_key=SIGNING_KEY if cloud else None, clock=ManualClock())
    async with serve_asgi(executor.asgi) as executor_url:
        client = inngest.Inngest(
            app_id="mini",
            is_production=cloud,
            signing_key=SIGNING_KEY if cloud else None,
            event_key="k" if cloud else None,
            api_base_url=executor_url,
            event_api_base_url=executor_url,
        )
        app = Starlette(routes=inngest_routes(client, build(client)))
        async with serve_asgi(app) as app_url:
            response = await executor.sync(f"{app_url}/api/inngest")
            assert response.status_code == 200 and executor.functions
            yield executor
        await client._http_client._http_client.aclose()
        client._http_client._http_client_sync.close()


def _two_steps(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    @client.create_function(fn_id="two", trigger=inngest.TriggerEvent(event="t/two"))
    async def two(ctx: inngest.Context) -> int:
        a = await ctx.step.run("a", lambda: _value(1))
        b = await ctx.step.run("b", lambda: _value(2))
        return int(a) + int(b)

    return [two]


async def _value(n: int) -> int:
    return n


async def test_cloud_mode_signs_calls_and_authenticates_registration() -> None:
    async with mini_app(_two_steps, cloud=True) as executor:
        [registration] = executor.registrations
        assert registration["appname"] == "mini"
        ids = await executor.send({"name": "t/two", "data": {}})
        await executor.run_until_idle()
        [run] = executor.runs("two")
        assert run.status == "completed" and run.output == 3
        assert run.event["id"] == ids[0]


async def test_event_ids_are_deduplicated() -> None:
    async with mini_app(_two_steps) as executor:
        first = await executor.send({"name": "t/two", "data": {}, "id": "same"})
        second = await executor.send({"name": "t/two", "data": {}, "id": "same"})
        await executor.run_until_idle()
        assert first == second == ["same"]
        assert len(executor.runs("two")) == 1


def _waits(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    @client.create_function(fn_id="waits", trigger=inngest.TriggerEvent(event="t/order"))
    async def waits(ctx: inngest.Context) -> Any:
        paid = await ctx.step.wait_for_event(
            "paid",
            event="t/paid",
            if_exp="async.data.order == event.data.order",
            timeout=dt.timedelta(hours=1),
        )
        return None if paid is None else paid.data

    return [waits]


async def test_wait_for_event_matches_and_times_out() -> None:
    async with mini_app(_waits) as executor:
        await executor.send(
            [{"name": "t/order", "data": {"order": 1}}, {"name": "t/order", "data": {"order": 2}}]
        )
        await executor.run_until_idle(advance_clock=False)
        assert [r.status for r in executor.runs("waits")] == ["waiting", "waiting"]
        await executor.send({"name": "t/paid", "data": {"order": 1, "amount": 5}})
        await executor.run_until_idle()
        matched, timed_out = executor.runs("waits")
        assert matched.status == "completed" and matched.output == {"order": 1, "amount": 5}
        assert timed_out.status == "completed" and timed_out.output is None


def _cancellable(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    @client.create_function(
        fn_id="long",
        trigger=inngest.TriggerEvent(event="t/start"),
        cancel=[inngest.Cancel(event="t/stop", if_exp="async.data.id == event.data.id")],
    )
    async def long(ctx: inngest.Context) -> str:
        await ctx.step.sleep("nap", dt.timedelta(days=1))
        return "woke"

    return [long]


async def test_cancel_matcher_cancels_only_the_matching_sleeping_run() -> None:
    async with mini_app(_cancellable) as executor:
        await executor.send(
            [{"name": "t/start", "data": {"id": "a"}}, {"name": "t/start", "data": {"id": "b"}}]
        )
        await executor.run_until_idle(advance_clock=False)
        await executor.send({"name": "t/stop", "data": {"id": "a"}})
        await executor.run_until_idle()
        a, b = executor.runs("long")
        assert a.status == "cancelled" and b.status == "completed"
        [cancelled] = [e for e in executor.events if e["name"] == "inngest/function.cancelled"]
        assert cancelled["data"]["run_id"] == a.run_id
        assert cancelled["data"]["error"]["message"] == "function cancelled"


def _retry_after(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    seen: list[float] = []

    @client.create_function(fn_id="later", trigger=inngest.TriggerEvent(event="t/later"))
    async def later(ctx: inngest.Context) -> int:
        async def call() -> int:
            seen.append(1)
            if len(seen) == 1:
                raise inngest.RetryAfterError("rate limited", dt.timedelta(seconds=90))
            return len(seen)

        return await ctx.step.run("call", call)

    @client.create_function(fn_id="refuse", trigger=inngest.TriggerEvent(event="t/refuse"))
    async def refuse(ctx: inngest.Context) -> None:
        raise inngest.NonRetriableError("bad input: field x")

    return [later, refuse]


async def test_retry_after_is_honoured_on_the_clock_and_non_retriable_is_final() -> None:
    async with mini_app(_retry_after) as executor:
        clock = executor.clock
        assert isinstance(clock, ManualClock)
        start = clock.now()
        await executor.send([{"name": "t/later", "data": {}}, {"name": "t/refuse", "data": {}}])
        await executor.run_until_idle(advance_clock=False)
        [later] = executor.runs("later")
        assert later.status == "retrying" and later.due is not None
        assert later.due - start >= 89
        await executor.run_until_idle()
        assert later.status == "completed" and later.output == 2 and later.retries == 1
        [refuse] = executor.runs("refuse")
        assert refuse.status == "failed" and refuse.retries == 0
        assert refuse.error is not None and "field x" in refuse.error["message"]


def _parallel_and_invoke(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    @client.create_function(fn_id="child", trigger=inngest.TriggerEvent(event="t/child"))
    async def child(ctx: inngest.Context) -> int:
        return int(ctx.event.data["n"]) * 10

    @client.create_function(fn_id="parent", trigger=inngest.TriggerEvent(event="t/parent"))
    async def parent(ctx: inngest.Context) -> Any:
        pair = await ctx.group.parallel(
            (
                lambda: ctx.step.run("left", lambda: _value(1)),
                lambda: ctx.step.run("right", lambda: _value(2)),
            )
        )
        invoked = await ctx.step.invoke("call-child", function=child, data={"n": 4})
        return [*pair, invoked]

    return [child, parent]


async def test_parallel_steps_and_invoke() -> None:
    async with mini_app(_parallel_and_invoke) as executor:
        await executor.send({"name": "t/parent", "data": {}})
        await executor.run_until_idle()
        [parent] = executor.runs("parent")
        assert parent.status == "completed", parent.error
        assert parent.output == [1, 2, 40]
        assert sorted(parent.step_names("StepPlanned")) == ["left", "right"]
        [child] = executor.runs("child")
        assert child.event["name"] == "inngest/function.invoked"


def _cron(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    @client.create_function(fn_id="hourly", trigger=inngest.TriggerCron(cron="0 * * * *"))
    async def hourly(ctx: inngest.Context) -> str:
        return str(ctx.event.name)

    return [hourly]


async def test_cron_fires_on_demand() -> None:
    async with mini_app(_cron) as executor:
        run = await executor.fire_cron("hourly")
        await executor.run_until_idle()
        assert run.status == "completed" and run.output == "inngest/scheduled.timer"
        assert run.event["data"] == {"cron": "0 * * * *"}


async def test_event_api_refuses_reserved_names_and_bad_keys() -> None:
    executor = TestExecutor(event_key="right")
    transport = httpx.ASGITransport(app=executor.asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
        assert (await http.post("/e/wrong", json={"name": "a/b"})).status_code == 401
        reserved = await http.post("/e/right", json={"name": "inngest/function.failed"})
        assert reserved.status_code == 400
        ok = await http.post("/e/right", json=[{"name": "a/b"}, {"name": "a/c", "id": "x"}])
        assert ok.json()["status"] == 200 and ok.json()["ids"][1] == "x"


def test_signing_matches_the_published_vectors() -> None:
    import json
    from pathlib import Path

    vectors = json.loads(
        (Path(__file__).parents[3] / "shared/fixtures/inngest/protocol-vectors.json").read_text()
    )
    [request] = [v for v in vectors["request_signature"] if v["kind"] == "derived"]
    assert (
        sign(request["body_utf8"].encode(), request["signing_key"], request["t"])
        == request["header"]
    )
    bearer = vectors["signing_key_bearer_hash"][0]
    assert hashed_signing_key(bearer["signing_key"]) == bearer["bearer"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("event.data.a == 'x' && async.data.b == event.data.b", True),
        ("event.data.a != 'x' || !(async.data.n > 2)", False),
        ("event.data.missing == 'x'", False),
        ("async.data.n >= 3", True),
    ],
)
def test_expressions(expression: str, expected: bool) -> None:
    env = {"event": {"data": {"a": "x", "b": 1}}, "async": {"data": {"b": 1, "n": 3}}}
    assert evaluate(expression, env) is expected


def test_expressions_refuse_what_they_cannot_parse() -> None:
    with pytest.raises(ValueError):
        evaluate("__import__('os')", {"event": {}})


def test_durations() -> None:
    assert parse_duration("1h30m") == 5400
    assert parse_duration(2500) == 2.5
