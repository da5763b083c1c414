"""The HTTP calls to the app: signed as the SDK verifies them, streamed, unreachable."""

from __future__ import annotations

import json
from typing import Any

import inngest
from inngest._internal import net, server_lib
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inngest_app.testing import TestExecutor
from inngest_app.testing.live import serve_asgi
from inngest_app.testing.signing import canonical_json
from tests.testing.apps import echo_app, registration, settle
from tests.testing.support import (
    SIGNING_KEY,
    Functions,
    fastapi_app,
    mini_app,
)


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
        executor.registry.register(registration("app-fn", f"{origin}/api/inngest", "t/signed"))
        await executor.send({"name": "t/signed", "data": {"ü": "✓"}})
        [run] = await settle(executor)
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


async def test_an_unreachable_app_is_retried_then_fails() -> None:
    executor = TestExecutor()
    async with executor:
        executor.registry.register(registration("gone-fn", "http://127.0.0.1:9/api/inngest", "t/x"))
        await executor.send({"name": "t/x", "data": {}})
        [run] = await settle(executor)
    assert run.status == "failed" and run.calls == 5 and run.retries == 4
    assert run.error is not None and run.error["name"] == "ConnectError"


async def test_streamed_answers_are_unwrapped() -> None:
    def streaming_app(client: inngest.Inngest, functions: Functions) -> Any:
        return fastapi_app(client, functions, streaming=inngest.Streaming.FORCE)

    async with mini_app(echo_app, asgi=streaming_app) as mini:
        await mini.executor.send({"name": "t/echo", "data": {"b": 2}})
        [run] = await settle(mini.executor)
        assert run.status == "completed", run.error
        assert run.output == {"step": {"b": 2}, "run_id": run.run_id}
