"""What each Stripe object says about our billing rows: pure functions, no I/O."""

from __future__ import annotations

import datetime as dt

from inngest_app.repos.billing import PaymentState, SubscriptionState
from inngest_app.stripe.objects import CheckoutSession, Invoice, PaymentIntent, Subscription


def from_unix(seconds: int) -> dt.datetime:
    """A Stripe timestamp (Unix seconds) as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def subscription_state(sub: Subscription, *, user_id: str | None = None) -> SubscriptionState:
    """The full state of a subscription object (any API version)."""
    end = sub.period_end
    return SubscriptionState(
        subscription_id=sub.id,
        customer_id=sub.customer,
        status=sub.status,
        user_id=user_id or sub.metadata.get("userId") or None,
        price_id=sub.price_id,
        current_period_end=from_unix(end) if end is not None else None,
        cancel_at_period_end=sub.cancel_at_period_end,
    )


def invoice_subscription_state(invoice: Invoice, *, paid: bool) -> SubscriptionState | None:
    """What a paid or failed invoice says about its subscription; None when it bills none.

    A paid invoice means the subscription is active through the period its lines bill. A failed
    payment leaves a new subscription `incomplete` and makes a renewing one `past_due` (Stripe's
    behaviour with automatic collection). The price and the cancel flag are not the invoice's to
    say, so they are left out (kept as stored).
    """
    sub_id = invoice.subscription_id
    if sub_id is None:
        return None
    lines = invoice.subscription_lines()
    ends = [line.period.end for line in lines if line.period and line.period.end is not None]
    if paid:
        status = "active"
    elif invoice.billing_reason == "subscription_create":
        status = "incomplete"
    else:
        status = "past_due"
    return SubscriptionState(
        subscription_id=sub_id,
        customer_id=invoice.customer,
        status=status,
        current_period_end=from_unix(max(ends)) if paid and ends else None,
    )


def payment_state(intent: PaymentIntent, *, succeeded: bool) -> PaymentState:
    """A PaymentIntent after `payment_intent.succeeded` or `payment_intent.payment_failed`."""
    error = intent.last_payment_error
    return PaymentState(
        payment_intent_id=intent.id,
        amount=intent.amount,
        currency=intent.currency.lower(),
        status="succeeded" if succeeded else "failed",
        customer_id=intent.customer,
        user_id=intent.metadata.get("userId") or None,
        failure_code=None if succeeded or error is None else (error.code or error.type),
        failure_message=None if succeeded or error is None else error.message,
    )


def checkout_payment_state(session: CheckoutSession) -> PaymentState | None:
    """The payment a payment-mode session made; None when it names no PaymentIntent."""
    if session.mode != "payment" or session.payment_intent is None:
        return None
    if session.amount_total is None or session.currency is None:
        return None
    return PaymentState(
        payment_intent_id=session.payment_intent,
        amount=session.amount_total,
        currency=session.currency.lower(),
        status="succeeded" if session.payment_status == "paid" else "processing",
        customer_id=session.customer,
    )
