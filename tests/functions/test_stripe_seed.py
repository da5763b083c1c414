"""The seed apps' Stripe payloads: `{session, eventId}` and `{paymentIntent}` run the same
functions as the webhook form, end to end, with the real Stripe objects from the fixtures."""

from __future__ import annotations

from typing import Any

from inngest_app.testing import Run
from tests.harness import Live, LiveFactory
from tests.stripe.support import load_event

USER = "user-seed-1"


def checkout_session() -> dict[str, Any]:
    session: dict[str, Any] = load_event("checkout.session.completed.json")["data"]["object"]
    session.update(client_reference_id=USER, payment_intent="pi_seed_checkout")
    return session


def payment_intent(fixture: str, pi_id: str) -> dict[str, Any]:
    obj: dict[str, Any] = load_event(fixture)["data"]["object"]
    obj["id"] = pi_id
    return obj


async def only_run(live: Live, fn: str) -> Run:
    await live.executor.run_until_idle()
    [run] = live.executor.runs(fn)
    return run


async def ledger(live: Live) -> dict[str, str]:
    found = await live.pool.fetch("select event_id, outcome from stripe_events")
    return {r["event_id"]: r["outcome"] for r in found}


async def test_the_seed_test_command_runs_a_checkout_end_to_end(start_live: LiveFactory) -> None:
    session = checkout_session()
    async with start_live() as live:
        # the seed's own test command, against our dev-mode route
        sent = await live.api.post(
            "/api/inngest/test",
            json={"name": "stripe/checkout.session.completed", "data": {"session": session}},
        )
        assert sent.status_code == 200, sent.text
        [inngest_id] = sent.json()["ids"]
        run = await only_run(live, "process-checkout-completed")
        assert run.status == "completed", run.error
        assert run.output["outcome"] == "applied"
        [pay] = await live.pool.fetch(
            "select * from payments where payment_intent_id = 'pi_seed_checkout'"
        )
        assert (pay["user_id"], pay["amount"], pay["currency"], pay["status"]) == (
            USER,
            session["amount_total"],
            session["currency"],
            "succeeded",
        )
        link = await live.pool.fetchval(
            "select user_id from billing_customers where customer_id = $1", session["customer"]
        )
        assert link == USER
        # no eventId: the Inngest event's id keys the ledger
        assert await ledger(live) == {inngest_id: "applied"}


async def test_seed_checkout_with_event_id_keeps_one_effect(start_live: LiveFactory) -> None:
    data = {"session": checkout_session(), "eventId": "evt_seed_co_1"}
    async with start_live() as live:
        await live.executor.send({"name": "stripe/checkout.session.completed", "data": data})
        await live.executor.send(
            {"name": "stripe/checkout.session.completed", "data": data, "id": "second-send"}
        )
        await live.executor.run_until_idle()
        first, second = live.executor.runs("process-checkout-completed")
        assert first.status == second.status == "completed", (first.error, second.error)
        assert first.output["outcome"] == "applied"
        assert second.output["outcome"] == "duplicate"
        assert await ledger(live) == {"evt_seed_co_1": "applied"}
        assert await live.pool.fetchval("select count(*) from payments") == 1


async def test_seed_payment_events_record_payments(start_live: LiveFactory) -> None:
    succeeded = payment_intent("payment_intent.succeeded.json", "pi_seed_ok")
    failed = payment_intent("payment_intent.payment_failed.json", "pi_seed_bad")
    async with start_live() as live:
        await live.executor.send(
            {"name": "stripe/payment_intent.succeeded", "data": {"paymentIntent": succeeded}}
        )
        await live.executor.send(
            {"name": "stripe/payment_intent.payment_failed", "data": {"paymentIntent": failed}}
        )
        ok = await only_run(live, "process-payment-succeeded")
        bad = await only_run(live, "process-payment-failed")
        assert ok.status == bad.status == "completed", (ok.error, bad.error)
        rows = {
            r["payment_intent_id"]: dict(r)
            for r in await live.pool.fetch("select * from payments order by 1")
        }
        assert rows["pi_seed_ok"]["status"] == "succeeded"
        assert rows["pi_seed_ok"]["amount"] == succeeded["amount"]
        assert (rows["pi_seed_bad"]["status"], rows["pi_seed_bad"]["failure_code"]) == (
            "failed",
            "card_declined",
        )
        assert sorted((await ledger(live)).values()) == ["applied", "applied"]


async def test_seed_payloads_missing_what_is_needed_name_the_field(
    start_live: LiveFactory,
) -> None:
    no_amount = payment_intent("payment_intent.succeeded.json", "pi_seed_x")
    del no_amount["amount"]
    async with start_live() as live:
        await live.executor.send(
            {"name": "stripe/checkout.session.completed", "data": {"eventId": "evt_seed_2"}}
        )
        await live.executor.send(
            {"name": "stripe/payment_intent.succeeded", "data": {"paymentIntent": no_amount}}
        )
        checkout = await only_run(live, "process-checkout-completed")
        payment = await only_run(live, "process-payment-succeeded")
        for run in (checkout, payment):
            assert run.status == "failed" and run.retries == 0  # NonRetriableError
        assert "session: Field required" in checkout.error["message"]
        assert "paymentIntent.amount: Field required" in payment.error["message"]
        assert await ledger(live) == {}
        assert await live.pool.fetchval("select count(*) from payments") == 0
