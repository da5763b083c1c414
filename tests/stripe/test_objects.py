"""Typed Stripe objects: every fixture parses, and each fact is read from either API shape."""

from __future__ import annotations

import pytest

from inngest_app.stripe.objects import CheckoutSession, Invoice, PaymentIntent, Subscription
from tests.stripe.support import EVENT_FIXTURES, load_event, load_object

MODELS = {
    "checkout.session": CheckoutSession,
    "invoice": Invoice,
    "payment_intent": PaymentIntent,
    "subscription": Subscription,
}


@pytest.mark.parametrize(("directory", "name"), EVENT_FIXTURES)
def test_every_fixture_object_parses(directory: str, name: str) -> None:
    obj = load_event(name, directory)["data"]["object"]
    parsed = MODELS[obj["object"]].model_validate(obj)
    assert parsed.id == obj["id"]


@pytest.mark.parametrize(
    "name",
    [
        "openapi-fixture.checkout.session.json",
        "openapi-fixture.invoice.json",
        "openapi-fixture.payment_intent.json",
        "openapi-fixture.subscription.json",
        "pay-rails.checkout.session.subscription-mode.json",
    ],
)
def test_current_api_objects_parse(name: str) -> None:
    obj = load_object(name)
    assert MODELS[obj["object"]].model_validate(obj).id == obj["id"]


def test_subscription_period_end_old_shape_is_top_level() -> None:
    sub = Subscription.model_validate(
        load_event("customer.subscription.updated.json")["data"]["object"]
    )
    assert sub.period_end == 1650998505
    assert sub.price_id == "price_000000000000000000000000"
    assert sub.customer == "cus_00000000000000"


def test_subscription_period_end_current_shape_is_on_the_items() -> None:
    raw = load_object("openapi-fixture.subscription.json")
    assert "current_period_end" not in raw
    sub = Subscription.model_validate(raw)
    assert sub.period_end == raw["items"]["data"][0]["current_period_end"] == 976287773
    assert sub.price_id == "price_1PgafmB7WZ01zgkW6dKueIc5"
    assert sub.cancel_at_period_end is True


def test_items_win_over_top_level_when_both_are_present() -> None:
    raw = load_object("openapi-fixture.subscription.json")
    raw["current_period_end"] = 1
    assert Subscription.model_validate(raw).period_end == 976287773


def test_old_plan_only_subscription_has_a_price() -> None:
    raw = load_event("customer.subscription.created.json")["data"]["object"]
    raw["items"] = {"data": []}
    assert Subscription.model_validate(raw).price_id == raw["plan"]["id"]


def test_invoice_subscription_old_shape_is_top_level() -> None:
    inv = Invoice.model_validate(
        load_event("invoice_paid.json", "events-supabase-sync-engine")["data"]["object"]
    )
    assert inv.subscription_id == "sub_JsuPyCPhXWfZar"
    (line,) = inv.subscription_lines()
    assert line.period is not None and line.period.end == 1645323680
    assert line.price_id == "price_1IDQm5JDPojXS6LNM31hxKzp"


def test_invoice_subscription_current_shape_is_under_parent() -> None:
    raw = load_object("openapi-fixture.invoice.json")
    assert raw["subscription"] is None
    assert Invoice.model_validate(raw).subscription_id == "subscription"


def test_current_invoice_lines_name_their_subscription_under_parent() -> None:
    raw = load_object("openapi-fixture.invoice.json")
    raw["parent"]["subscription_details"]["subscription"] = "sub_new"
    line = raw["lines"]["data"][0]
    line["parent"]["subscription_item_details"]["subscription"] = "sub_new"
    line["pricing"] = {"type": "price_details", "price_details": {"price": "price_new"}}
    (parsed,) = Invoice.model_validate(raw).subscription_lines()
    assert parsed.price_id == "price_new"
    assert parsed.period is not None and parsed.period.end == 1721954054


def test_invoice_without_subscription_has_none() -> None:
    inv = Invoice.model_validate(load_event("invoice.paid.json")["data"]["object"])
    assert inv.subscription_id is None and inv.subscription_lines() == []


def test_expanded_references_become_ids() -> None:
    raw = load_object("pay-rails.checkout.session.subscription-mode.json")
    sub = load_event("customer.subscription.created.json")["data"]["object"]
    session = CheckoutSession.model_validate(
        {**raw, "customer": {"id": "cus_x", "object": "customer"}, "subscription": sub}
    )
    assert session.customer == "cus_x"
    assert isinstance(session.subscription, Subscription)
    assert session.subscription_id == sub["id"]


def test_checkout_user_is_client_reference_then_metadata() -> None:
    raw = load_event("checkout.session.completed.json")["data"]["object"]
    assert CheckoutSession.model_validate(raw).user_id is None
    meta = {**raw, "metadata": {"userId": "user-meta"}}
    assert CheckoutSession.model_validate(meta).user_id == "user-meta"
    both = {**meta, "client_reference_id": "user-ref"}
    assert CheckoutSession.model_validate(both).user_id == "user-ref"


def test_payment_error_is_read() -> None:
    pi = PaymentIntent.model_validate(
        load_event("payment_intent.payment_failed.json")["data"]["object"]
    )
    assert pi.last_payment_error is not None
    assert pi.last_payment_error.code == "card_declined"
    assert pi.last_payment_error.message == "Your card was declined."
