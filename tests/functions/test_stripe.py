"""Stripe end to end: signed webhook → our endpoint → the test executor → the functions → rows.

Everything crosses real HTTP on loopback (`start_live`); events come from the shared fixtures,
signed in the test exactly as Stripe signs them. The Stripe API and the alert webhook are pinned
with respx (`live.mock`).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
import respx
from respx.models import RouteList

from inngest_app.cli.stripe import replay
from inngest_app.testing import Run
from tests.harness import Live, LiveFactory
from tests.stripe.support import (
    EVENT_FIXTURES,
    SECRET,
    load_event,
    load_object,
    signed,
    with_object,
    wrap,
)

WEBHOOK = "/api/stripe/webhook"
USER = "user-7f3a"
ALERT_URL = "https://alerts.example.test/hook"


@pytest.fixture(autouse=True)
def _fast_send_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("inngest._internal.client_lib.client.RETRY_BASE_DELAY", 0.0)


@asynccontextmanager
async def stripe_live(start_live: LiveFactory, **overrides: Any) -> AsyncIterator[Live]:
    async with start_live(stripe_webhook_secret=SECRET, **overrides) as live:
        yield live


async def deliver(live: Live, event: dict[str, Any] | str, **sign: Any) -> httpx.Response:
    body, headers = signed(event, **sign)
    return await live.api.post(WEBHOOK, content=body, headers=headers)


def stripe_events(live: Live) -> list[dict[str, Any]]:
    return [e for e in live.executor.events if e["name"].startswith("stripe/")]


def run_for(live: Live, event_id: str) -> Run:
    [run] = [r for r in live.executor.runs() if r.event.get("id") == event_id]
    return run


async def rows(live: Live, sql: str, *args: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in await live.pool.fetch(sql, *args)]


async def ledger(live: Live) -> dict[str, str]:
    found = await live.pool.fetch("select event_id, outcome from stripe_events")
    return {r["event_id"]: r["outcome"] for r in found}


def at(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def fixture_case(i: int, directory: str, name: str) -> dict[str, Any]:
    """The fixture with its own event id and object id, and a user on checkouts."""
    event = load_event(name, directory, id=f"evt_case_{i}")
    obj = event["data"]["object"]
    prefix = obj["id"].split("_")[0]
    if obj["object"] == "checkout.session":
        obj["client_reference_id"] = USER
        obj["payment_intent"] = f"pi_case_{i}"
    elif obj["object"] == "invoice":
        obj["customer"] = f"cus_case_{i}"
    else:
        obj["id"] = f"{prefix}_case_{i}"
    return event


async def expect_rows(live: Live, event: dict[str, Any]) -> None:
    """The rows each fixture type must leave."""
    obj, kind, eid = event["data"]["object"], event["type"], event["id"]
    if kind == "checkout.session.completed":
        [pay] = await rows(
            live, "select * from payments where payment_intent_id = $1", obj["payment_intent"]
        )
        assert (pay["user_id"], pay["amount"], pay["currency"]) == (
            USER,
            obj["amount_total"],
            obj["currency"],
        )
        assert pay["status"] == "succeeded" and pay["last_event_id"] == eid
        [link] = await rows(
            live, "select * from billing_customers where customer_id = $1", obj["customer"]
        )
        assert link["user_id"] == USER
    elif kind.startswith("customer.subscription."):
        [sub] = await rows(
            live, "select * from subscriptions where subscription_id = $1", obj["id"]
        )
        assert (sub["status"], sub["customer_id"]) == (obj["status"], obj["customer"])
        assert sub["price_id"] == obj["items"]["data"][0]["price"]["id"]
        assert sub["current_period_end"] == at(obj["current_period_end"])
        assert sub["last_event_created"] == at(event["created"])
    elif kind.startswith("invoice."):
        subscription = obj.get("subscription")
        found = await rows(
            live, "select * from subscriptions where customer_id = $1", obj["customer"]
        )
        if subscription is None:
            assert found == [] and (await ledger(live))[eid] == "ignored"
        else:
            [sub] = found
            line_end = obj["lines"]["data"][0]["period"]["end"]
            assert sub["subscription_id"] == subscription
            assert sub["status"] == ("active" if kind == "invoice.paid" else "past_due")
            assert sub["current_period_end"] == at(line_end)
    elif kind.startswith("payment_intent."):
        [pay] = await rows(live, "select * from payments where payment_intent_id = $1", obj["id"])
        assert (pay["amount"], pay["currency"]) == (obj["amount"], obj["currency"])
        if kind == "payment_intent.succeeded":
            assert pay["status"] == "succeeded" and pay["failure_code"] is None
        else:
            assert (pay["status"], pay["failure_code"], pay["failure_message"]) == (
                "failed",
                "card_declined",
                "Your card was declined.",
            )
    else:
        raise AssertionError(f"no expectation for {kind}")
    assert (await ledger(live))[eid] in {"applied", "ignored"}


async def test_each_fixture_event_round_trips(start_live: LiveFactory) -> None:
    async with stripe_live(start_live) as live:
        for i, (directory, name) in enumerate(EVENT_FIXTURES):
            event = fixture_case(i, directory, name)
            response = await deliver(live, event)
            assert response.status_code == 200, (name, response.text)
            [sent] = [e for e in stripe_events(live) if e["id"] == event["id"]]
            assert sent["name"] == f"stripe/{event['type']}"
            assert sent["ts"] == event["created"] * 1000
            assert sent["data"]["object"] == event["data"]["object"]
            await live.executor.run_until_idle()
            run = run_for(live, event["id"])
            assert run.status == "completed", (name, run.error)
            assert run.retries == 0
            await expect_rows(live, event)
        assert len(stripe_events(live)) == len(EVENT_FIXTURES)
        assert len(await ledger(live)) == len(EVENT_FIXTURES)


async def test_subscription_checkout_fetches_the_subscription_the_event_lacks(
    start_live: LiveFactory,
) -> None:
    session = load_object("pay-rails.checkout.session.subscription-mode.json")
    session["metadata"] = {"userId": USER}
    stripe_sub = load_object("openapi-fixture.subscription.json")
    stripe_sub.update(id=session["subscription"], customer=session["customer"], status="active")
    async with stripe_live(start_live, stripe_api_key="sk_test_fixture_key") as live:
        api = live.mock.get(f"https://api.stripe.com/v1/subscriptions/{session['subscription']}")
        api.mock(return_value=httpx.Response(200, json=stripe_sub))
        event = wrap(
            session, "checkout.session.completed", event_id="evt_sub_co", created=1700000000
        )
        assert (await deliver(live, event)).status_code == 200
        await live.executor.run_until_idle()
        run = run_for(live, "evt_sub_co")
        assert run.status == "completed", run.error
        assert run.step_names() == ["fetch-subscription", "apply-checkout"]
        assert api.call_count == 1
        assert api.calls[0].request.headers["authorization"] == "Bearer sk_test_fixture_key"
        [sub] = await rows(live, "select * from subscriptions")
        assert (sub["subscription_id"], sub["user_id"], sub["status"]) == (
            "sub_1LNkeSKXBGcbgpbZ7jMqOPSi",
            USER,
            "active",
        )
        # Current API shape: the period end came from the subscription's items.
        assert sub["current_period_end"] == at(stripe_sub["items"]["data"][0]["current_period_end"])
        assert sub["price_id"] == "price_1PgafmB7WZ01zgkW6dKueIc5" and sub["cancel_at_period_end"]
        assert await live.pool.fetchval("select user_id from billing_customers") == USER
        # A subscription event for the same customer now finds the user through the link.
        updated = load_event(
            "customer.subscription.updated.json", id="evt_sub_2", created=1700000100
        )
        updated = with_object(updated, id="sub_other", customer=session["customer"])
        assert (await deliver(live, updated)).status_code == 200
        await live.executor.run_until_idle()
        [other] = await rows(
            live, "select * from subscriptions where subscription_id = 'sub_other'"
        )
        assert other["user_id"] == USER


async def test_expanded_subscription_is_read_from_the_event(start_live: LiveFactory) -> None:
    session = load_object("pay-rails.checkout.session.subscription-mode.json")
    session["client_reference_id"] = USER
    session["subscription"] = load_event("customer.subscription.created.json")["data"]["object"]
    async with stripe_live(start_live) as live:  # no API key: nothing may be fetched
        event = wrap(session, "checkout.session.completed", event_id="evt_exp", created=1700000000)
        assert (await deliver(live, event)).status_code == 200
        await live.executor.run_until_idle()
        run = run_for(live, "evt_exp")
        assert run.status == "completed", run.error
        assert run.step_names() == ["apply-checkout"]
        [sub] = await rows(live, "select * from subscriptions")
        assert (sub["user_id"], sub["current_period_end"]) == (USER, at(1650998510))


async def test_checkout_without_a_user_fails_without_retry_naming_both_fields(
    start_live: LiveFactory,
) -> None:
    async with stripe_live(start_live) as live:
        event = load_event("checkout.session.completed.json", id="evt_no_user")
        assert (await deliver(live, event)).status_code == 200
        await live.executor.run_until_idle()
        run = run_for(live, "evt_no_user")
        assert run.status == "failed" and run.retries == 0
        assert "client_reference_id" in run.error["message"]
        assert "metadata.userId" in run.error["message"]
        assert await ledger(live) == {}
        assert await rows(live, "select * from billing_customers") == []


async def test_bad_object_fails_without_retry_naming_the_field(start_live: LiveFactory) -> None:
    async with stripe_live(start_live) as live:
        event = with_object(
            load_event("payment_intent.succeeded.json", id="evt_bad"), amount="lots"
        )
        assert (await deliver(live, event)).status_code == 200
        await live.executor.run_until_idle()
        run = run_for(live, "evt_bad")
        assert run.status == "failed" and run.retries == 0
        assert "object.amount" in run.error["message"]
        assert await ledger(live) == {} and await rows(live, "select * from payments") == []


async def test_the_same_delivery_twice_has_one_effect(start_live: LiveFactory) -> None:
    async with stripe_live(start_live) as live:
        event = load_event("payment_intent.succeeded.json", id="evt_twice")
        for _ in range(2):
            assert (await deliver(live, event)).status_code == 200
        await live.executor.run_until_idle()
        assert [e["id"] for e in stripe_events(live)] == ["evt_twice"]  # dropped by id
        assert len(live.executor.runs("process-payment-succeeded")) == 1
        assert await ledger(live) == {"evt_twice": "applied"}
        assert len(await rows(live, "select * from payments")) == 1
        [kept] = await rows(live, "select deliveries from stripe_deliveries")
        assert kept["deliveries"] == 2


async def test_the_same_event_processed_twice_by_the_function_has_one_effect(
    start_live: LiveFactory,
) -> None:
    async with stripe_live(start_live, alert_webhook_url=ALERT_URL) as live:
        alert = live.mock.post(ALERT_URL).mock(return_value=httpx.Response(200))
        event = load_event("payment_intent.payment_failed.json", id="evt_proc_twice")
        assert (await deliver(live, event)).status_code == 200
        await live.executor.run_until_idle()
        [sent] = stripe_events(live)
        # The same Stripe event again under another Inngest id (a replay): the ledger holds.
        await live.executor.send({**sent, "id": "another-inngest-id"})
        await live.executor.run_until_idle()
        first, second = live.executor.runs("process-payment-failed")
        assert first.status == second.status == "completed"
        assert first.output["outcome"] == "applied"
        assert second.output["outcome"] == "duplicate"
        assert second.step_names() == ["record-failure"]  # no second alert
        assert await ledger(live) == {"evt_proc_twice": "applied"}
        [pay] = await rows(live, "select * from payments")
        assert pay["last_event_id"] == "evt_proc_twice"
        assert alert.call_count == 1
        text = json.loads(alert.calls[0].request.content)["text"]
        assert "pi_000000000000000000000000" in text and "card_declined" in text


async def test_an_older_subscription_update_after_a_newer_one_changes_nothing(
    start_live: LiveFactory,
) -> None:
    base = load_event("customer.subscription.updated.json")
    newer = with_object(
        {**copy.deepcopy(base), "id": "evt_newer", "created": base["created"] + 60},
        status="past_due",
        cancel_at_period_end=True,
    )
    older = {**copy.deepcopy(base), "id": "evt_older"}
    async with stripe_live(start_live) as live:
        for event in (newer, older):  # Stripe delivered them out of order
            assert (await deliver(live, event)).status_code == 200
            await live.executor.run_until_idle()
        assert run_for(live, "evt_older").output["outcome"] == "stale"
        [sub] = await rows(live, "select * from subscriptions")
        assert (sub["status"], sub["cancel_at_period_end"], sub["last_event_id"]) == (
            "past_due",
            True,
            "evt_newer",
        )
        assert await ledger(live) == {"evt_newer": "applied", "evt_older": "stale"}


def _tampered(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body, headers = signed(event)
    return body.replace(b'"amount": 2000', b'"amount": 1'), headers


BAD = {
    "forged": lambda e: signed(e, "whsec_not_ours_0000"),
    "stale": lambda e: signed(e, timestamp=int(dt.datetime.now().timestamp()) - 301),
    "tampered": _tampered,
    "unsigned": lambda e: (json.dumps(e).encode(), {"Content-Type": "application/json"}),
    "non-json": lambda e: signed("{not json"),
}


async def test_forged_stale_tampered_unsigned_and_non_json_are_400_and_nothing_is_sent(
    start_live: LiveFactory,
) -> None:
    async with stripe_live(start_live) as live:
        event = load_event("payment_intent.succeeded.json", id="evt_bad_delivery")
        for case, make in BAD.items():
            body, headers = make(event)
            response = await live.api.post(WEBHOOK, content=body, headers=headers)
            if case == "non-json":  # verified but never processable: acknowledged as poison
                assert response.status_code == 200 and response.json()["rejected"] is True
                continue
            assert response.status_code == 400, case
            assert response.headers["content-type"] == "application/json", case
            assert {"error", "code"} <= response.json().keys(), case
        await live.executor.run_until_idle()
        assert stripe_events(live) == [] and live.executor.runs() == []
        assert await rows(live, "select * from stripe_deliveries") == []


@asynccontextmanager
async def event_api_down(live: Live) -> AsyncIterator[respx.Route]:
    """Refuse connections to the executor's event API (`/e/...`) until the block ends."""
    saved = RouteList(live.mock.routes)
    down = respx.Route(method="POST", path__startswith="/e/").mock(
        side_effect=httpx.ConnectError("connection refused")
    )
    blocked = RouteList()
    blocked.add(down)
    for route in saved:
        blocked.add(route)
    live.mock.routes[:] = blocked
    try:
        yield down
    finally:
        live.mock.routes[:] = saved


async def test_event_api_down_is_503_and_the_redelivery_is_processed_once(
    start_live: LiveFactory,
) -> None:
    async with stripe_live(start_live) as live:
        event = load_event("invoice_paid.json", "events-supabase-sync-engine")
        async with event_api_down(live) as down:
            response = await deliver(live, event)
        assert response.status_code == 503 and response.json()["code"] == "inngest_unavailable"
        assert down.call_count >= 1
        assert stripe_events(live) == []
        [kept] = await rows(live, "select forwarded_at from stripe_deliveries")
        assert kept["forwarded_at"] is None
        # Stripe delivers again later (re-signed), the event API is back.
        for _ in range(2):
            assert (await deliver(live, event)).status_code == 200
        await live.executor.run_until_idle()
        assert len(live.executor.runs("sync-invoice")) == 1
        assert await ledger(live) == {event["id"]: "applied"}
        [sub] = await rows(live, "select * from subscriptions")
        assert (sub["subscription_id"], sub["status"]) == ("sub_JsuPyCPhXWfZar", "active")


async def test_replay_reruns_and_the_ledger_keeps_one_effect(start_live: LiveFactory) -> None:
    async with stripe_live(start_live) as live:
        event = load_event("customer.subscription.created.json", id="evt_replayed")
        assert (await deliver(live, event)).status_code == 200
        await live.executor.run_until_idle()
        done = await replay(live.services, "evt_replayed")
        assert done.inngest_event_id.startswith("evt_replayed/replay/")
        await live.executor.run_until_idle()
        first, second = live.executor.runs("sync-subscription")
        assert (first.output["outcome"], second.output["outcome"]) == ("applied", "duplicate")
        assert second.event["data"]["id"] == "evt_replayed"
        assert len(await rows(live, "select * from subscriptions")) == 1
        assert await ledger(live) == {"evt_replayed": "applied"}


async def test_registration_retries_three_times(start_live: LiveFactory) -> None:
    async with stripe_live(start_live) as live:
        ids = {
            "process-checkout-completed",
            "process-payment-succeeded",
            "process-payment-failed",
            "sync-subscription",
            "sync-invoice",
        }
        configs = {k.removeprefix("inngest-app-"): v for k, v in live.executor.functions.items()}
        for fn_id in ids:
            assert configs[fn_id]["steps"]["step"]["retries"]["attempts"] == 3, fn_id
        events = {t["event"] for t in configs["sync-subscription"]["triggers"]}
        assert events == {
            "stripe/customer.subscription.created",
            "stripe/customer.subscription.updated",
            "stripe/customer.subscription.deleted",
        }


async def test_current_api_shapes_are_applied(start_live: LiveFactory) -> None:
    """Periods on subscription items; invoices naming their subscription under `parent`."""
    sub = load_object("openapi-fixture.subscription.json")
    sub.update(status="active", cancel_at_period_end=False)
    item = sub["items"]["data"][0]
    invoice = load_object("openapi-fixture.invoice.json")
    invoice["customer"] = sub["customer"]
    invoice["billing_reason"] = "subscription_cycle"
    invoice["parent"] = {
        "type": "subscription_details",
        "quote_details": None,
        "subscription_details": {"metadata": {}, "subscription": sub["id"]},
    }
    line = invoice["lines"]["data"][0]
    line["parent"] = {
        "type": "subscription_item_details",
        "invoice_item_details": None,
        "subscription_item_details": {"subscription": sub["id"], "subscription_item": item["id"]},
    }
    line["period"] = {"start": 1760000000, "end": 1762600000}
    async with stripe_live(start_live) as live:
        created = wrap(
            sub, "customer.subscription.created", event_id="evt_now_1", created=1760000000
        )
        paid = wrap(invoice, "invoice.paid", event_id="evt_now_2", created=1760000100)
        failed = wrap(invoice, "invoice.payment_failed", event_id="evt_now_3", created=1760000200)

        assert (await deliver(live, created)).status_code == 200
        await live.executor.run_until_idle()
        [row] = await rows(live, "select * from subscriptions")
        assert row["current_period_end"] == at(item["current_period_end"])
        assert row["price_id"] == item["price"]["id"]

        assert (await deliver(live, paid)).status_code == 200
        await live.executor.run_until_idle()
        [row] = await rows(live, "select * from subscriptions")
        assert (row["status"], row["current_period_end"]) == ("active", at(1762600000))
        assert row["price_id"] == item["price"]["id"]  # an invoice does not change the price

        assert (await deliver(live, failed)).status_code == 200
        await live.executor.run_until_idle()
        [row] = await rows(live, "select * from subscriptions")
        assert (row["status"], row["current_period_end"]) == ("past_due", at(1762600000))
        assert await ledger(live) == dict.fromkeys(
            ("evt_now_1", "evt_now_2", "evt_now_3"), "applied"
        )


async def test_alert_outage_retries_the_alert_not_the_recording(start_live: LiveFactory) -> None:
    async with stripe_live(start_live, alert_webhook_url=ALERT_URL) as live:
        alert = live.mock.post(ALERT_URL)
        alert.side_effect = [httpx.Response(503), httpx.Response(200)]
        event = load_event("payment_intent.payment_failed.json", id="evt_alert_retry")
        assert (await deliver(live, event)).status_code == 200
        await live.executor.run_until_idle()
        run = run_for(live, "evt_alert_retry")
        assert run.status == "completed", run.error
        assert run.retries == 1 and alert.call_count == 2
        assert run.step_names() == ["record-failure", "post-alert"]
        assert run.output["alert"] == {"status": 200}
        assert await ledger(live) == {"evt_alert_retry": "applied"}


SUPABASE_URL = "https://abcd.supabase.co"


def _literal(value: Any) -> str:
    """A SQL literal of unknown type, which Postgres coerces to the parameter's type."""
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value)
    return "'" + text.replace("'", "''") + "'"


async def test_a_supabase_outage_in_a_billing_step_is_retried_not_failed(
    start_live: LiveFactory, database_url: str
) -> None:
    """PostgREST answers 503 PGRST000 once (the database is down): Inngest retries the step."""
    conn = await asyncpg.connect(database_url)
    outages = {"billing_sync_subscription": 1}
    calls: list[str] = []

    async def postgrest(request: httpx.Request, fn: str) -> httpx.Response:
        """PostgREST's `/rpc/<fn>` over the test database, down for the first call(s) of fn."""
        calls.append(fn)
        if outages.get(fn, 0) > 0:
            outages[fn] -= 1
            return httpx.Response(
                503,
                json={
                    "code": "PGRST000",
                    "details": "connection to server failed: Connection refused",
                    "hint": None,
                    "message": "Database connection error. Retrying the connection.",
                },
            )
        args = json.loads(request.content or b"{}")
        named = ", ".join(f"{name} => {_literal(value)}" for name, value in args.items())
        result = await conn.fetchval(f"select to_json(public.{fn}({named}))::text")  # noqa: S608
        return httpx.Response(
            200, content=result or "null", headers={"content-type": "application/json"}
        )

    try:
        overrides = {
            "database_url": None,
            "supabase_url": SUPABASE_URL,
            "supabase_service_role_key": "service-role-key-for-tests",
        }
        async with stripe_live(start_live, **overrides) as live:
            live.mock.post(url__regex=rf"^{SUPABASE_URL}/rest/v1/rpc/(?P<fn>\w+)$").mock(
                side_effect=postgrest
            )
            event = load_event("customer.subscription.created.json", id="evt_outage")
            assert (await deliver(live, event)).status_code == 200
            await live.executor.run_until_idle()
            run = run_for(live, "evt_outage")
            assert run.status == "completed", run.error
            assert run.retries == 1
            assert calls.count("billing_sync_subscription") == 2
            assert await ledger(live) == {"evt_outage": "applied"}
            [sub] = await rows(live, "select subscription_id from subscriptions")
            assert sub["subscription_id"] == event["data"]["object"]["id"]
    finally:
        await conn.close()
