"""What each Stripe object says about our rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from inngest_app.stripe.objects import CheckoutSession, Invoice, PaymentIntent, Subscription
from inngest_app.stripe.state import (
    checkout_payment_state,
    invoice_subscription_state,
    payment_state,
    subscription_state,
)
from tests.stripe.support import load_event, load_object


def _obj(name: str, directory: str = "events") -> dict[str, Any]:
    obj: dict[str, Any] = load_event(name, directory)["data"]["object"]
    return obj


def test_subscription_state_old_shape() -> None:
    state = subscription_state(
        Subscription.model_validate(_obj("customer.subscription.updated.json")), user_id="u1"
    )
    assert state.model_dump() == {
        "subscription_id": "sub_000000000000000000000000",
        "customer_id": "cus_00000000000000",
        "status": "active",
        "user_id": "u1",
        "price_id": "price_000000000000000000000000",
        "current_period_end": dt.datetime.fromtimestamp(1650998505, dt.UTC),
        "cancel_at_period_end": False,
    }


def test_subscription_state_current_shape_and_metadata_user() -> None:
    raw = load_object("openapi-fixture.subscription.json")
    raw["metadata"] = {"userId": "u-meta"}
    state = subscription_state(Subscription.model_validate(raw))
    assert state.user_id == "u-meta"
    assert state.current_period_end == dt.datetime.fromtimestamp(976287773, dt.UTC)
    assert state.cancel_at_period_end is True


def test_paid_invoice_activates_through_the_billed_period() -> None:
    inv = Invoice.model_validate(_obj("invoice_paid.json", "events-supabase-sync-engine"))
    state = invoice_subscription_state(inv, paid=True)
    assert state is not None
    assert state.to_sql() == {
        "subscription_id": "sub_JsuPyCPhXWfZar",
        "customer_id": "cus_JsuO3bmrj0QlAw",
        "status": "active",
        "current_period_end": "2022-02-20T02:21:20Z",
    }


def test_failed_invoice_makes_a_renewal_past_due_and_a_creation_incomplete() -> None:
    raw = _obj("invoice_paid.json", "events-supabase-sync-engine")
    renewal = invoice_subscription_state(Invoice.model_validate(raw), paid=False)
    assert renewal is not None and renewal.status == "past_due"
    assert "current_period_end" not in renewal.to_sql()
    first = invoice_subscription_state(
        Invoice.model_validate({**raw, "billing_reason": "subscription_create"}), paid=False
    )
    assert first is not None and first.status == "incomplete"


def test_invoice_without_subscription_says_nothing() -> None:
    inv = Invoice.model_validate(_obj("invoice.payment_failed.json"))
    assert invoice_subscription_state(inv, paid=False) is None


def test_payment_states() -> None:
    ok = payment_state(
        PaymentIntent.model_validate(_obj("payment_intent.succeeded.json")), succeeded=True
    )
    assert (ok.status, ok.amount, ok.currency, ok.failure_code) == ("succeeded", 2000, "usd", None)
    failed = payment_state(
        PaymentIntent.model_validate(_obj("payment_intent.payment_failed.json")), succeeded=False
    )
    assert failed.status == "failed"
    assert (failed.failure_code, failed.failure_message) == (
        "card_declined",
        "Your card was declined.",
    )


def test_checkout_payment_state() -> None:
    session = CheckoutSession.model_validate(_obj("checkout.session.completed.json"))
    state = checkout_payment_state(session)
    assert state is not None
    assert (state.payment_intent_id, state.amount, state.status, state.customer_id) == (
        "pi_000000000000000000000000",
        3000,
        "succeeded",
        "cus_00000000000000",
    )
    unpaid = session.model_copy(update={"payment_status": "unpaid"})
    assert (checkout_payment_state(unpaid) or state).status == "processing"
    sub_mode = CheckoutSession.model_validate(
        load_object("pay-rails.checkout.session.subscription-mode.json")
    )
    assert checkout_payment_state(sub_mode) is None
