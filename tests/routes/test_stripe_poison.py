"""Issue 22: a verified Stripe delivery that can never be stored or parsed is a poison message.

It is recorded once as rejected and answered 2xx (Stripe would redeliver a 4xx/5xx for days),
logged and counted; nothing is kept as a delivery and nothing reaches Inngest. A delivery that
is not verified is still a 400 and records nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import respx

from inngest_app.app import create_app
from inngest_app.settings import Settings
from tests.apps import in_process
from tests.stripe.support import SECRET, load_event, signed

EVENT_API = "http://localhost:8288/e/"
URL = "/api/stripe/webhook"


@pytest.fixture
def event_api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.post(url__startswith=EVENT_API).mock(
            return_value=httpx.Response(200, json={"ids": ["x"], "status": 200})
        )
        yield router


@pytest.fixture
async def client(
    make_settings: Callable[..., Settings], event_api: respx.MockRouter
) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(create_app(make_settings(stripe_webhook_secret=SECRET))) as client:
        yield client


async def _table(database_url: str, sql: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(database_url)
    try:
        return [dict(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


def _surrogate_in_object(event: dict[str, Any]) -> str:
    text = json.dumps(event)
    return text.replace('"object": "invoice"', '"object": "invoice", "note": "bad \\ud800 text"')


def _nul_in_id(event: dict[str, Any]) -> str:
    return json.dumps({**event, "data": {"object": {**event["data"]["object"], "x": "\x00"}}})


def _created_past_64_bits(event: dict[str, Any]) -> str:
    return json.dumps({**event, "created": 2**63})


def _created_past_year_9999(event: dict[str, Any]) -> str:
    return json.dumps({**event, "created": 253402300800})


def _deep(event: dict[str, Any]) -> str:
    return json.dumps(event)[:-1] + ', "deep": ' + "[" * 10_000 + "]" * 10_000 + "}"


def _not_json(event: dict[str, Any]) -> str:
    return "this is not json"


def _not_an_event(event: dict[str, Any]) -> str:
    return json.dumps({"id": "evt_1", "object": "charge"})


def _nan(event: dict[str, Any]) -> str:
    return json.dumps(event)[:-1] + ', "amount": NaN}'


POISON = [_surrogate_in_object, _nul_in_id, _created_past_64_bits, _created_past_year_9999,
          _deep, _not_json, _not_an_event, _nan]  # fmt: skip


@pytest.mark.parametrize("make", POISON)
async def test_a_verified_poison_delivery_is_recorded_once_and_acknowledged(
    client: httpx.AsyncClient,
    event_api: respx.MockRouter,
    database_url: str,
    make: Callable[[dict[str, Any]], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    payload = make(load_event("invoice.paid.json"))
    with caplog.at_level(logging.WARNING):
        for _ in range(3):  # Stripe's redeliveries of the same event
            body, headers = signed(payload)
            response = await client.post(URL, content=body, headers=headers)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["received"] is True and answer["rejected"] is True
            assert answer["code"] and answer["error"]
    assert any("rejected" in r.getMessage() for r in caplog.records)
    assert event_api.calls.call_count == 0
    assert await _table(database_url, "select * from stripe_deliveries") == []
    (rejected,) = await _table(database_url, "select * from webhook_rejections")
    assert rejected["source"] == "stripe" and rejected["deliveries"] == 3
    assert rejected["code"] == answer["code"]
    metrics = await client.get("/metrics")
    counted = f'webhook_rejections_total{{code="{answer["code"]}",source="stripe"}} 3.0'
    assert counted in metrics.text


async def test_unverified_deliveries_stay_400_and_record_nothing(
    client: httpx.AsyncClient, event_api: respx.MockRouter, database_url: str
) -> None:
    body, headers = signed(_surrogate_in_object(load_event("invoice.paid.json")))
    for header in ("t=1,v1=" + "0" * 64, "t=\u00e9\u00e9,v1=\u2603", "", "x" * 5000):
        response = await client.post(
            URL,
            content=body,
            headers={**headers, "Stripe-Signature": header.encode("utf-8")},  # type: ignore[dict-item]
        )
        assert response.status_code == 400, (header, response.text)
        assert set(response.json()) >= {"error", "code", "field"}
        assert response.json()["code"] == "signature_invalid"
    assert await _table(database_url, "select * from webhook_rejections") == []
    assert event_api.calls.call_count == 0
