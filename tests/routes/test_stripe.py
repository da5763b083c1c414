"""`POST /api/stripe/webhook` in process: verification, storage, hand-over, and every refusal.

The Inngest event API is pinned with respx here; `tests/functions/test_stripe.py` runs the same
deliveries end to end through the test executor.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import respx

from inngest_app.app import create_app
from inngest_app.settings import Settings
from tests.apps import in_process
from tests.stripe.support import (
    EVENT_FIXTURES,
    OLD_SECRET,
    SECRET,
    load_event,
    signed,
)

EVENT_API = "http://localhost:8288/e/"
URL = "/api/stripe/webhook"


@pytest.fixture(autouse=True)
def _fast_send_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK retries a failed send five times with backoff; tests need not wait for it.
    monkeypatch.setattr("inngest._internal.client_lib.client.RETRY_BASE_DELAY", 0.0)


@pytest.fixture
def event_api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def client(
    make_settings: Callable[..., Settings], event_api: respx.MockRouter
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(stripe_webhook_secret=f"{SECRET},{OLD_SECRET}")
    async with in_process(create_app(settings)) as client:
        yield client


def accept_events(router: respx.MockRouter) -> respx.Route:
    def reply(request: httpx.Request) -> httpx.Response:
        events = json.loads(request.content)
        return httpx.Response(200, json={"ids": [e["id"] for e in events], "status": 200})

    return router.post(url__startswith=EVENT_API).mock(side_effect=reply)


def sent(route: respx.Route) -> list[dict[str, Any]]:
    return [e for call in route.calls for e in json.loads(call.request.content)]


Stored = Callable[[], Awaitable[list[dict[str, Any]]]]


@pytest.fixture
def stored(database_url: str) -> Stored:
    """The kept deliveries, read straight from the test's database."""

    async def fetch() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("select * from stripe_deliveries order by event_id")
        finally:
            await conn.close()
        return [dict(r) for r in rows]

    return fetch


async def test_each_fixture_is_verified_stored_and_sent_once(
    client: httpx.AsyncClient, event_api: respx.MockRouter, stored: Stored
) -> None:
    route = accept_events(event_api)
    for i, (directory, name) in enumerate(EVENT_FIXTURES):
        # The 2020-era captures share one zeroed id: give each its own.
        raw = load_event(name, directory, id=f"evt_fixture_{i}")
        body, headers = signed(raw)
        response = await client.post(URL, content=body, headers=headers)
        assert response.status_code == 200, (name, response.text)
        assert response.json() == {
            "received": True,
            "id": raw["id"],
            "name": f"stripe/{raw['type']}",
        }
        event = sent(route)[-1]
        assert event["name"] == f"stripe/{raw['type']}"
        assert event["id"] == raw["id"]
        assert event["ts"] == raw["created"] * 1000
        assert event["data"] == {
            "id": raw["id"],
            "type": raw["type"],
            "created": raw["created"],
            "livemode": raw["livemode"],
            "api_version": raw.get("api_version"),
            "object": raw["data"]["object"],
        }
    assert len(sent(route)) == len(EVENT_FIXTURES)
    kept_rows = {row["event_id"]: row for row in await stored()}
    assert len(kept_rows) == len(EVENT_FIXTURES)
    for row in kept_rows.values():
        assert row["forwarded_at"] is not None and row["deliveries"] == 1
        assert json.loads(row["body"])["id"] == row["event_id"]


async def test_a_delivery_signed_with_the_previous_secret_is_accepted(
    client: httpx.AsyncClient, event_api: respx.MockRouter
) -> None:
    route = accept_events(event_api)
    body, headers = signed(load_event("invoice.paid.json"), OLD_SECRET)
    assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    assert route.call_count == 1


async def test_the_same_delivery_twice_is_sent_with_the_same_id(
    client: httpx.AsyncClient, event_api: respx.MockRouter, stored: Stored
) -> None:
    route = accept_events(event_api)
    body, headers = signed(load_event("invoice.paid.json"))
    for _ in range(2):
        assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    # Inngest drops the second by id; our store counts both.
    assert [e["id"] for e in sent(route)] == ["evt_000000000000000000000000"] * 2
    (kept,) = await stored()
    assert kept["deliveries"] == 2 and kept["forwards"] == 2


def _forged(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    return signed(body.decode(), "whsec_forged_secret_000")


def _stale(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    return signed(body.decode(), timestamp=int(time.time()) - 301)


def _tampered(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    return body.replace(b'"amount_paid": 2000', b'"amount_paid": 1'), headers


def _unsigned(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    return body, {"Content-Type": "application/json"}


def _not_json(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    return signed("this is not json")


def _not_an_event(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    return signed(json.dumps({"id": "evt_1", "object": "charge"}))


def _not_utf8(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    return b"\xff\xfe" + body, headers


BAD_DELIVERIES = [
    ("forged", _forged, "signature_invalid"),
    ("stale", _stale, "signature_invalid"),
    ("tampered", _tampered, "signature_invalid"),
    ("unsigned", _unsigned, "signature_invalid"),
    ("not-utf8", _not_utf8, "signature_invalid"),
]
# A verified body that is no Stripe event is poison, acknowledged and recorded (issue 22):
# tests/routes/test_stripe_poison.py
POISON = [("non-json", _not_json), ("not-an-event", _not_an_event)]


async def test_bad_deliveries_are_400_json_and_nothing_is_sent_or_kept(
    client: httpx.AsyncClient, event_api: respx.MockRouter, stored: Stored
) -> None:
    route = accept_events(event_api)
    for case, make, code in BAD_DELIVERIES:
        body, headers = make(*signed(load_event("invoice.paid.json")))
        response = await client.post(URL, content=body, headers=headers)
        assert response.status_code == 400, case
        assert response.json()["code"] == code and response.json()["error"], case
    assert route.call_count == 0
    assert await stored() == []
    for case, make in POISON:
        body, headers = make(*signed(load_event("invoice.paid.json")))
        response = await client.post(URL, content=body, headers=headers)
        assert response.status_code == 200 and response.json()["rejected"] is True, case
    assert route.call_count == 0
    assert await stored() == []


async def test_event_api_down_is_503_then_a_redelivery_is_sent(
    client: httpx.AsyncClient, event_api: respx.MockRouter, stored: Stored
) -> None:
    down = event_api.post(url__startswith=EVENT_API).mock(
        side_effect=httpx.ConnectError("connection refused")
    )
    body, headers = signed(load_event("invoice.paid.json"))
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 503
    assert response.json()["code"] == "inngest_unavailable"
    assert down.call_count >= 1
    (kept,) = await stored()
    assert kept["forwarded_at"] is None  # kept, not acknowledged

    event_api.routes.clear()
    route = accept_events(event_api)
    body, headers = signed(load_event("invoice.paid.json"))  # Stripe re-signs each attempt
    assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    assert len(sent(route)) == 1
    (kept,) = await stored()
    assert kept["forwarded_at"] is not None and kept["deliveries"] == 2


async def test_event_api_5xx_is_503_and_the_delivery_is_kept_unforwarded(
    client: httpx.AsyncClient, event_api: respx.MockRouter, stored: Stored
) -> None:
    down = event_api.post(url__startswith=EVENT_API).mock(
        return_value=httpx.Response(502, text="bad")
    )
    event = load_event("invoice.paid.json")
    body, headers = signed(event)
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 503 and response.json()["code"] == "inngest_unavailable"
    assert down.call_count >= 1  # the hand-over was tried, and refused
    (kept,) = await stored()
    assert (kept["event_id"], kept["deliveries"]) == (event["id"], 1)
    assert kept["forwarded_at"] is None  # kept for the redelivery, not marked as sent

    event_api.routes.clear()
    route = accept_events(event_api)
    body, headers = signed(event)
    assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    assert [e["id"] for e in sent(route)] == [event["id"]]
    (kept,) = await stored()
    assert kept["forwarded_at"] is not None and kept["deliveries"] == 2


async def test_store_down_is_503_and_nothing_is_sent(
    make_settings: Callable[..., Settings], event_api: respx.MockRouter
) -> None:
    route = accept_events(event_api)
    settings = make_settings(
        stripe_webhook_secret=SECRET, database_url="postgresql://nobody@127.0.0.1:1/none"
    )
    async with in_process(create_app(settings)) as client:
        body, headers = signed(load_event("invoice.paid.json"))
        response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 503 and response.json()["code"] == "store_unavailable"
    assert route.call_count == 0


async def test_without_a_secret_the_endpoint_asks_stripe_to_retry(
    make_settings: Callable[..., Settings],
) -> None:
    async with in_process(create_app(make_settings())) as client:
        body, headers = signed(load_event("invoice.paid.json"))
        response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 503 and response.json()["code"] == "not_configured"


async def test_secrets_never_reach_a_log_line(
    client: httpx.AsyncClient, event_api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    accept_events(event_api)
    event = load_event("invoice.paid.json")
    for body, headers in (signed(event), signed(event, "whsec_forged"), signed("x")):
        await client.post(URL, content=body, headers=headers)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "evt_000000000000000000000000" in logged
    assert SECRET not in logged and OLD_SECRET not in logged


async def test_webhook_only_accepts_post(client: httpx.AsyncClient) -> None:
    response = await client.get(URL)
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


async def test_an_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    body, headers = signed("x" * ((1 << 20) + 1))
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 413 and response.json()["code"] == "body_too_large"
