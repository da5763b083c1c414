"""The executor's HTTP surface and test API: registration, events in, the REST API, waiting."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import httpx
import inngest
import pytest

from inngest_app.testing import ManualClock, TestExecutor
from tests.testing.apps import FAILURES, echo_app, failing_app, flaky_app
from tests.testing.support import (
    OTHER_SIGNING_KEY,
    Functions,
    count,
    mini_app,
)


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


async def test_an_event_id_seen_before_is_accepted_but_starts_nothing() -> None:
    async with mini_app(flaky_app) as mini:
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
    async with mini_app(failing_app) as mini:
        with pytest.raises(ValueError, match="reserved"):
            await mini.executor.send({"name": "inngest/function.failed", "data": {}})
        data = {"function_id": "mini-doomed", "run_id": "r1", "error": {}, "event": {}}
        await mini.executor.send({"name": "inngest/function.failed", "data": data}, internal=True)
        handler = await mini.executor.wait_for(lambda r: r.function_id == "mini-doomed-failure")
        assert handler.status == "completed" and FAILURES == [data]


async def test_the_event_api_takes_batches_and_refuses_bad_keys_and_reserved_names() -> None:
    executor = TestExecutor(event_key="right")
    transport = httpx.ASGITransport(app=executor.asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://executor") as http:
        assert (await http.post("/e/wrong", json={"name": "a/b"})).status_code == 401
        reserved = await http.post("/e/right", json={"name": "inngest/function.failed"})
        assert reserved.status_code == 400 and "reserved" in reserved.json()["error"]
        bad_data = await http.post("/e/right", json={"name": "a/b", "data": [1]})
        assert bad_data.status_code == 400
        ok = await http.post("/e/right", json=[{"name": "a/b"}, {"name": "a/c", "id": "x"}])
        assert ok.json()["status"] == 200 and ok.json()["ids"][1] == "x"
        assert [e["name"] for e in executor.events] == ["a/b", "a/c"]


async def test_a_send_retried_with_the_same_id_seed_is_deduplicated() -> None:
    executor = TestExecutor()
    seed = f"1700000000000,{base64.b64encode(bytes(range(10))).decode()}"
    transport = httpx.ASGITransport(app=executor.asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://executor") as http:
        batch = [{"name": "a/b"}, {"name": "a/b"}]
        headers = {"x-inngest-event-id-seed": seed}
        first = (await http.post("/e/key", json=batch, headers=headers)).json()["ids"]
        again = (await http.post("/e/key", json=batch, headers=headers)).json()["ids"]
    assert first == again and len(set(first)) == 2 and len(executor.events) == 2


async def test_the_sdk_sends_events_to_the_executor_in_cloud_mode() -> None:
    async with mini_app(echo_app, cloud=True) as mini:
        ids = await mini.client.send(inngest.Event(name="t/echo", data={"a": 1}))
        run = await mini.executor.wait_for(lambda r: r.event["id"] == ids[0])
        assert run.status == "completed", run.error
        assert run.output == {"step": {"a": 1}, "run_id": run.run_id}


async def test_cloud_registration_needs_the_hashed_signing_key() -> None:
    executor = TestExecutor(signing_key=OTHER_SIGNING_KEY, clock=ManualClock())
    async with mini_app(echo_app, cloud=True, executor=executor, sync=False) as mini:
        response = await mini.executor.sync(mini.app_url)
        assert response.json()["error"] == "invalid signing key"
        assert mini.executor.functions == {}


async def test_registration_with_an_expression_that_does_not_compile_is_refused() -> None:
    def build(client: inngest.Inngest) -> Functions:
        @client.create_function(
            fn_id="odd", trigger=inngest.TriggerEvent(event="t/odd", expression="event.data.a = 1")
        )
        async def odd(ctx: inngest.Context) -> None:
            return None

        return [odd]

    async with mini_app(build, sync=False) as mini:
        response = await mini.executor.sync(mini.app_url)
        error = response.json()["error"]
        assert "mini-odd: triggers[0].expression: cannot compile" in error, error
        assert mini.executor.functions == {}


async def test_the_rest_api_shows_an_events_runs() -> None:
    async with mini_app(echo_app) as mini:
        [event_id] = await mini.executor.send({"name": "t/echo", "data": {}})
        async with httpx.AsyncClient(base_url=mini.executor_url) as http:
            before = (await http.get(f"/v1/events/{event_id}/runs")).json()["data"]
            await mini.executor.run_until_idle()
            after = (await http.get(f"/v1/events/{event_id}/runs")).json()["data"]
            one = (await http.get(f"/v1/runs/{after[0]['run_id']}")).json()["data"]
            missing = await http.get("/v1/runs/nope")
    assert [r["status"] for r in before] == ["Running"]
    assert after == [one] and one["status"] == "Completed" and one["output"]["step"] == {}
    assert missing.status_code == 404
