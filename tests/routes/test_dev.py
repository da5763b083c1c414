"""`POST /api/inngest/test`: any event in dev mode, no such route in cloud mode."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
import respx

from inngest_app.app import create_app
from inngest_app.settings import Settings
from tests.apps import in_process

EVENT_API = "http://localhost:8288/e/"


@pytest.fixture
def event_api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def test_dev_mode_sends_the_event(
    make_settings: Callable[..., Settings], event_api: respx.MockRouter
) -> None:
    route = event_api.post(url__startswith=EVENT_API).mock(
        return_value=httpx.Response(200, json={"ids": ["01J"], "status": 200})
    )
    async with in_process(create_app(make_settings())) as client:
        response = await client.post(
            "/api/inngest/test", json={"name": "app/ping", "data": {"message": "hi"}}
        )
        assert response.status_code == 200
        assert response.json() == {"ids": ["01J"], "name": "app/ping"}
        (event,) = json.loads(route.calls[0].request.content)
        assert (event["name"], event["data"]) == ("app/ping", {"message": "hi"})

        for body, field in (
            (b"nope", "not valid JSON"),
            (b'{"data": {}}', "name"),
            (b'{"name": "a/b", "data": []}', "data"),
            (b'{"name": "a/b", "extra": 1}', "extra"),
        ):
            bad = await client.post("/api/inngest/test", content=body)
            assert bad.status_code == 400 and field in bad.json()["error"], body
        assert route.call_count == 1


async def test_event_api_down_is_502(
    make_settings: Callable[..., Settings],
    event_api: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("inngest._internal.client_lib.client.RETRY_BASE_DELAY", 0.0)
    down = event_api.post(url__startswith=EVENT_API).mock(side_effect=httpx.ConnectError("refused"))
    async with in_process(create_app(make_settings())) as client:
        response = await client.post(
            "/api/inngest/test", json={"name": "app/ping", "data": {"n": 1}}
        )
        assert response.status_code == 502 and response.json()["code"] == "inngest_unavailable"
        assert response.json()["error"]
        # the event was really handed to the SDK, which tried the event API (and retried)
        assert down.call_count >= 1
        (tried,) = json.loads(down.calls[0].request.content)
        assert (tried["name"], tried["data"]) == ("app/ping", {"n": 1})
        # nothing sticks: once the API answers, the same request goes through
        event_api.routes.clear()
        back = event_api.post(url__startswith=EVENT_API).mock(
            return_value=httpx.Response(200, json={"ids": ["01K"], "status": 200})
        )
        again = await client.post("/api/inngest/test", json={"name": "app/ping", "data": {"n": 1}})
        assert again.status_code == 200 and again.json() == {"ids": ["01K"], "name": "app/ping"}
        assert back.call_count == 1


async def test_cloud_mode_has_no_test_route(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        inngest_dev=False,
        inngest_signing_key="signkey-prod-0123456789abcdef",
        inngest_event_key="event-key-0123456789",
    )
    async with in_process(create_app(settings)) as client:
        response = await client.post("/api/inngest/test", json={"name": "app/ping"})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
