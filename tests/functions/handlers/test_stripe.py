"""The Stripe handlers alone: a fake billing repository (an in-memory ledger), a fake step
context, the real Stripe captures, respx at the alert webhook."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import inngest
import pytest
import respx

from functions.stripe.payments import payment_failed_handler, payment_succeeded_handler
from inngest_app.repos.billing import EventResult, PaymentState
from inngest_app.settings import Settings
from inngest_app.stripe.events import inngest_event, parse_envelope
from tests.fakes import fake_context, step_of
from tests.stripe.support import load_event

HOOK = "https://alerts.example.test/stripe"


class FakeBilling:
    """The ledger: each Stripe event id applied once; a later event wins over an earlier one."""

    def __init__(self) -> None:
        self.ledger: dict[str, str] = {}
        self.payments: dict[str, tuple[dt.datetime, PaymentState]] = {}

    async def record_payment(
        self, *, event_id: str, event_type: str, created: dt.datetime, payment: PaymentState
    ) -> EventResult:
        if event_id in self.ledger:
            outcome = "duplicate"
        else:
            known = self.payments.get(payment.payment_intent_id)
            outcome = "stale" if known and known[0] > created else "applied"
            if outcome == "applied":
                self.payments[payment.payment_intent_id] = (created, payment)
            self.ledger[event_id] = outcome
        row = self.payments.get(payment.payment_intent_id, (created, payment))[1]
        return EventResult.model_validate(
            {
                "event_id": event_id,
                "type": event_type,
                "created": created,
                "outcome": outcome,
                "processed_at": created,
                "payment": {
                    **row.model_dump(),
                    "last_event_id": event_id,
                    "last_event_created": created,
                },
                "payment_outcome": outcome,
            }
        )


def _event(name: str, **changes: Any) -> inngest.Event:
    return inngest_event(parse_envelope(json.dumps(load_event(name, **changes))))


async def test_a_failed_payment_is_recorded_and_alerted_once() -> None:
    repo = FakeBilling()
    settings = Settings(inngest_dev=True, alert_webhook_url=HOOK)
    event = _event("payment_intent.payment_failed.json")
    async with httpx.AsyncClient() as http:
        with respx.mock(assert_all_called=True) as mock:
            hook = mock.post(HOOK).respond(200)
            first_ctx = fake_context(event.name, event.data)
            first = await payment_failed_handler(first_ctx, repo=repo, settings=settings, http=http)  # type: ignore[arg-type]
            again_ctx = fake_context(event.name, event.data, run_id="run-2")
            again = await payment_failed_handler(again_ctx, repo=repo, settings=settings, http=http)  # type: ignore[arg-type]

    assert step_of(first_ctx).ids == ["record-failure", "post-alert"]
    assert first["outcome"] == "applied" and first["alert"] == {"status": 200}
    assert first["payment"]["status"] == "failed"
    assert first["payment"]["failure_code"] == "card_declined"
    text = json.loads(hook.calls.last.request.content)["text"]
    assert text.startswith("Stripe payment failed: pi_000000000000000000000000 for 2000 USD")
    assert "card_declined" in text
    # the same Stripe event again (a replay, a duplicate delivery): nothing new, no second alert
    assert step_of(again_ctx).ids == ["record-failure"]
    assert again["outcome"] == "duplicate" and "alert" not in again
    assert hook.call_count == 1


async def test_an_older_failure_than_the_success_applied_is_stale_and_not_alerted() -> None:
    repo = FakeBilling()
    settings = Settings(inngest_dev=True, alert_webhook_url=HOOK)
    success = _event("payment_intent.succeeded.json", id="evt_success_2", created=1760000200)
    failure = _event("payment_intent.payment_failed.json", id="evt_failure_1", created=1760000100)
    success_ctx = fake_context(success.name, success.data)
    done = await payment_succeeded_handler(success_ctx, repo=repo, settings=settings)  # type: ignore[arg-type]
    assert done["outcome"] == "applied" and step_of(success_ctx).ids == ["record-payment"]

    async with httpx.AsyncClient() as http:
        with respx.mock(assert_all_called=False) as mock:
            hook = mock.post(HOOK).respond(200)
            late_ctx = fake_context(failure.name, failure.data)
            late = await payment_failed_handler(late_ctx, repo=repo, settings=settings, http=http)  # type: ignore[arg-type]
    assert late["outcome"] == "stale" and "alert" not in late
    assert hook.call_count == 0


async def test_a_test_mode_event_in_a_live_deployment_changes_nothing() -> None:
    repo = FakeBilling()
    live = Settings(inngest_dev=True, stripe_livemode=True)
    event = _event("payment_intent.succeeded.json")  # a test-mode capture
    ctx = fake_context(event.name, event.data)
    with pytest.raises(inngest.NonRetriableError, match="STRIPE_ALLOW_TEST_EVENTS"):
        await payment_succeeded_handler(ctx, repo=repo, settings=live)  # type: ignore[arg-type]
    assert step_of(ctx).ids == [] and repo.ledger == {}
    allowed = Settings(inngest_dev=True, stripe_livemode=True, stripe_allow_test_events=True)
    result = await payment_succeeded_handler(
        fake_context(event.name, event.data), repo=repo, settings=allowed
    )  # type: ignore[arg-type]
    assert result["outcome"] == "applied"
