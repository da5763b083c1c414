"""Issue 22: the SDK endpoint refuses in the one error shape, its own fields kept beside it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from inngest_app.app import create_app
from inngest_app.settings import Settings
from inngest_app.testing.signing import sign, step_call
from tests.apps import in_process

KEY = "signkey-prod-" + "ab" * 32
WRONG = "signkey-prod-" + "ef" * 32
PING = "/api/inngest?fnId=inngest-app-ping&stepId=step"


def _shape(response: httpx.Response) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) >= {"error", "code", "field"}, body
    assert isinstance(body["error"], str) and body["error"] and isinstance(body["code"], str)
    return body


def _signed(body: bytes, key: str = KEY) -> dict[str, str]:
    return {"X-Inngest-Signature": sign(body, key, int(time.time()))}


def _call() -> bytes:
    return step_call({"data": {}, "id": "e1", "name": "app/ping", "ts": 1}, run_id="01JSHAPE")


@pytest.fixture
def cloud(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        inngest_dev=False,
        inngest_signing_key=KEY,
        inngest_event_key="test-event-key",
        inngest_api_base_url="http://127.0.0.1:9",
        inngest_event_api_base_url="http://127.0.0.1:9",
    )


async def test_cloud_refusals_are_in_the_error_shape(cloud: Settings) -> None:
    async with in_process(create_app(cloud)) as client:
        cases: list[tuple[str, str, bytes, dict[str, str]]] = [
            ("POST", PING, _call(), _signed(_call(), WRONG)),
            ("PUT", "/api/inngest", b"{}",
             {**_signed(b"{}", WRONG), "X-Inngest-Sync-Kind": "in_band"}),
            ("GET", "/api/inngest", b"", _signed(b"", WRONG)),
            ("PUT", "/api/inngest", b"{}", {**_signed(b"{}"), "X-Inngest-Sync-Kind": "in_band"}),
            ("POST", PING, b"{}", _signed(b"{}")),
            ("POST", PING, b'{"event": 5, "ctx": [], "steps": 1, "use_api": "x"}',
             _signed(b'{"event": 5, "ctx": [], "steps": 1, "use_api": "x"}')),
            ("POST", PING, b"[" * 5000 + b"]" * 5000, _signed(b"[" * 5000 + b"]" * 5000)),
            ("POST", PING, b"{}", {}),
            ("POST", "/api/inngest?fnId=nope", b"{}", _signed(b"{}")),
        ]  # fmt: skip
        for method, url, body, headers in cases:
            response = await client.request(method, url, content=body, headers=headers)
            answer = _shape(response)
            if answer["code"] == "unauthorized" or response.status_code == 401:
                assert response.status_code == 401


async def test_a_refused_sdk_signature_keeps_the_sdk_message(cloud: Settings) -> None:
    async with in_process(create_app(cloud)) as client:
        response = await client.post(PING, content=_call(), headers=_signed(_call(), WRONG))
        body = _shape(response)
        assert response.status_code == 401 and body["message"]


async def test_dev_mode_refusals_are_in_the_error_shape(
    make_settings: Callable[..., Settings],
) -> None:
    async with in_process(create_app(make_settings())) as client:
        for body in (b"[" * 10_000 + b"]" * 10_000, b"{}", b'{"event": {"name": NaN}}', b"\xff"):
            _shape(await client.post(PING, content=body))
        _shape(await client.post("/api/inngest", content=b"{}"))
        no_events = (
            b'{"event": {"name": "app/ping", "data": {}}, "steps": {}, "use_api": false, "ctx":'
            b' {"attempt": 0, "disable_immediate_execution": false, "run_id": "r",'
            b' "stack": {"stack": []}}}'
        )
        assert _shape(await client.post(PING, content=no_events))["field"] == "events"


async def test_a_sync_inngest_cannot_take_is_a_502_in_the_shape(
    make_settings: Callable[..., Settings],
) -> None:
    # dev mode, no Dev Server listening: registering fails upstream, not here
    settings = make_settings(inngest_api_base_url="http://127.0.0.1:9")
    async with in_process(create_app(settings)) as client:
        response = await client.put("/api/inngest", content=b"[" * 5000 + b"]" * 5000)
        assert response.status_code == 502, response.text
        body = response.json()
        assert set(body) >= {"error", "code", "field", "message"}
