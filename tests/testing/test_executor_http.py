"""The executor's HTTP surfaces: the event and registration API, signed calls, refusals."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import inngest
from inngest._internal import net, server_lib
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inngest_app.testing import ManualClock, TestExecutor
from inngest_app.testing.live import serve_asgi
from inngest_app.testing.signing import canonical_json
from tests.testing.support import (
    OTHER_SIGNING_KEY,
    SIGNING_KEY,
    Functions,
    fastapi_app,
    mini_app,
)


def _echo(client: inngest.Inngest) -> Functions:
    @client.create_function(fn_id="echo", trigger=inngest.TriggerEvent(event="t/echo"))
    async def echo(ctx: inngest.Context) -> Any:
        step = await ctx.step.run("step", lambda: dict(ctx.event.data))
        return {"step": step, "run_id": ctx.run_id}

    return [echo]


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
    async with mini_app(_echo, cloud=True) as mini:
        ids = await mini.client.send(inngest.Event(name="t/echo", data={"a": 1}))
        run = await mini.executor.wait_for(lambda r: r.event["id"] == ids[0])
        assert run.status == "completed", run.error
        assert run.output == {"step": {"a": 1}, "run_id": run.run_id}


async def test_cloud_registration_needs_the_hashed_signing_key() -> None:
    executor = TestExecutor(signing_key=OTHER_SIGNING_KEY, clock=ManualClock())
    async with mini_app(_echo, cloud=True, executor=executor, sync=False) as mini:
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


async def test_calls_are_signed_as_the_sdk_verifies_them() -> None:
    seen: list[tuple[bytes, dict[str, str]]] = []

    async def endpoint(request: Request) -> JSONResponse:
        seen.append((await request.body(), dict(request.headers)))
        return JSONResponse("done")

    app = Starlette(routes=[Route("/api/inngest", endpoint, methods=["POST"])])
    async with (
        TestExecutor(signing_key=SIGNING_KEY) as executor,
        serve_asgi(app) as origin,
    ):
        executor.registry.register(_config("app-fn", f"{origin}/api/inngest", "t/signed"))
        await executor.send({"name": "t/signed", "data": {"ü": "✓"}})
        [run] = await _settle(executor)
    assert run.status == "completed" and run.output == "done"
    [(body, headers)] = seen
    assert body == canonical_json(json.loads(body))  # raw body == what the SDK verifies
    assert headers["x-inngest-server-kind"] == "cloud"
    verified = net.validate_request_sig(
        body=body,
        headers=net.normalize_headers(headers),
        mode=server_lib.ServerKind.CLOUD,
        signing_key=SIGNING_KEY,
        signing_key_fallback=None,
    )
    assert verified == SIGNING_KEY
    request = json.loads(body)
    assert request["ctx"]["run_id"] == run.run_id and request["ctx"]["max_attempts"] == 5
    assert request["ctx"]["stack"] == {"stack": [], "current": 0}
    assert request["version"] == 2 and request["use_api"] is False
    assert request["events"] == [request["event"]] and request["steps"] == {}


async def test_an_app_that_refuses_the_signature_fails_the_run_without_retries() -> None:
    executor = TestExecutor(signing_key=OTHER_SIGNING_KEY, clock=ManualClock())
    async with mini_app(_echo, cloud=True, executor=executor, sync=False) as mini:
        mini.executor.registry.register(
            _config("mini-echo", f"{mini.app_url}?fnId=mini-echo&stepId=step", "t/echo")
        )
        await mini.executor.send({"name": "t/echo", "data": {}})
        [run] = await _settle(mini.executor)
        assert run.status == "failed" and run.calls == 1 and run.retries == 0
        assert run.error is not None and "HTTP 401" in run.error["message"]
        assert [r.op for r in run.step_log] == ["Refused"]


async def test_an_unknown_function_id_is_refused_at_once() -> None:
    async with mini_app(_echo) as mini:
        ghost = _config("mini-ghost", f"{mini.app_url}?fnId=mini-ghost&stepId=step", "t/ghost")
        mini.executor.registry.register(ghost)
        await mini.executor.send({"name": "t/ghost", "data": {}})
        [run] = await _settle(mini.executor)
        assert run.status == "failed" and run.calls == 1
        assert run.error is not None and run.error["code"] == "function_not_found"


async def test_an_unreachable_app_is_retried_then_fails() -> None:
    executor = TestExecutor()
    async with executor:
        executor.registry.register(_config("gone-fn", "http://127.0.0.1:9/api/inngest", "t/x"))
        await executor.send({"name": "t/x", "data": {}})
        [run] = await _settle(executor)
    assert run.status == "failed" and run.calls == 5 and run.retries == 4
    assert run.error is not None and run.error["name"] == "ConnectError"


async def test_streamed_answers_are_unwrapped() -> None:
    def streaming_app(client: inngest.Inngest, functions: Functions) -> Any:
        return fastapi_app(client, functions, streaming=inngest.Streaming.FORCE)

    async with mini_app(_echo, asgi=streaming_app) as mini:
        await mini.executor.send({"name": "t/echo", "data": {"b": 2}})
        [run] = await _settle(mini.executor)
        assert run.status == "completed", run.error
        assert run.output == {"step": {"b": 2}, "run_id": run.run_id}


async def test_the_rest_api_shows_an_events_runs() -> None:
    async with mini_app(_echo) as mini:
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
        executor.registry.register(_config("app-fn", f"{origin}/api/inngest", "t/nap"))
        await executor.send({"name": "t/nap", "data": {}})
        [run] = await _settle(executor)
    assert run.status == "completed" and run.output == "woke"
    assert run.ended_at == run.started_at + 90
    assert seen[1]["steps"] == {"nap-hash": None}


def _config(fn_id: str, url: str, event: str) -> dict[str, Any]:
    """A registration of one function, as if an app named after the function had synced."""
    return {
        "appname": f"{fn_id}-app",
        "functions": [
            {
                "id": fn_id,
                "name": fn_id,
                "triggers": [{"event": event}],
                "steps": {"step": {"id": "step", "name": "step", "runtime": {"url": url}}},
            }
        ],
    }


async def _settle(executor: TestExecutor) -> list[Any]:
    await executor.run_until_idle()
    return executor.runs()
