"""Billing: Stripe customers, subscriptions, payments, the processed-event ledger, deliveries.

Each `apply_*`/`record_*`/`sync_*` call is one SQL function call, hence one transaction: it claims
the Stripe event id in the ledger and applies the effect together, so a repeated event changes
nothing (`outcome == "duplicate"`), and an event older than the one already applied to a
subscription or payment leaves it as it is (`outcome == "stale"`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from inngest_app.store import Transport

Outcome = Literal["applied", "stale", "ignored", "duplicate"]
PaymentStatus = Literal["succeeded", "failed", "processing"]


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SubscriptionState(_Row):
    """What one Stripe event says about a subscription. Fields left None are kept as stored
    (an invoice says nothing about the price, for instance), except the required ones."""

    subscription_id: str
    customer_id: str
    status: str
    user_id: str | None = None
    price_id: str | None = None
    current_period_end: dt.datetime | None = None
    cancel_at_period_end: bool | None = None

    def to_sql(self) -> dict[str, Any]:
        """The jsonb argument: keys of unknown fields are left out (kept as stored)."""
        return self.model_dump(mode="json", exclude_none=True)


class PaymentState(_Row):
    """What one Stripe event says about a payment (a PaymentIntent)."""

    payment_intent_id: str
    amount: int
    currency: str
    status: PaymentStatus
    customer_id: str | None = None
    user_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None

    def to_sql(self) -> dict[str, Any]:
        """The jsonb argument."""
        return self.model_dump(mode="json", exclude_none=True)


class SubscriptionRow(_Row):
    """A row of `subscriptions`."""

    subscription_id: str
    user_id: str | None
    customer_id: str
    status: str
    price_id: str | None
    current_period_end: dt.datetime | None
    cancel_at_period_end: bool
    last_event_id: str
    last_event_created: dt.datetime
    updated_at: dt.datetime


class PaymentRow(_Row):
    """A row of `payments`."""

    payment_intent_id: str
    user_id: str | None
    customer_id: str | None
    amount: int
    currency: str
    status: PaymentStatus
    failure_code: str | None
    failure_message: str | None
    last_event_id: str
    last_event_created: dt.datetime


class EventResult(_Row):
    """The ledger entry of one processed event, and what became of its effect."""

    event_id: str
    type: str
    created: dt.datetime
    outcome: Outcome
    processed_at: dt.datetime
    subscription: SubscriptionRow | None = None
    payment: PaymentRow | None = None
    subscription_outcome: Outcome | None = None
    payment_outcome: Outcome | None = None

    @property
    def duplicate(self) -> bool:
        """The event had been processed before: this call changed nothing."""
        return self.outcome == "duplicate"


class Delivery(_Row):
    """A verified webhook delivery as stored."""

    event_id: str
    type: str
    deliveries: int
    received_at: dt.datetime
    forwarded_at: dt.datetime | None
    body: str | None = None
    created: dt.datetime | None = None
    livemode: bool | None = None
    forwards: int | None = None


class BillingRepo:
    """Calls the billing SQL functions."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def apply_checkout(
        self,
        *,
        event_id: str,
        event_type: str,
        created: dt.datetime,
        user_id: str,
        customer_id: str | None,
        livemode: bool,
        subscription: SubscriptionState | None,
        payment: PaymentState | None,
    ) -> EventResult:
        """Link the customer to the user and apply the subscription or payment, once."""
        row = await self._transport.call(
            "billing_apply_checkout",
            {
                "p_event_id": event_id,
                "p_type": event_type,
                "p_created": created,
                "p_user_id": user_id,
                "p_customer_id": customer_id,
                "p_livemode": livemode,
                "p_subscription": subscription.to_sql() if subscription else None,
                "p_payment": payment.to_sql() if payment else None,
            },
        )
        return EventResult.model_validate(row)

    async def sync_subscription(
        self,
        *,
        event_id: str,
        event_type: str,
        created: dt.datetime,
        subscription: SubscriptionState | None,
    ) -> EventResult:
        """Bring a subscription to the event's state unless a newer event was applied; once.

        `subscription=None` records the event as `ignored` (it concerns no subscription)."""
        row = await self._transport.call(
            "billing_sync_subscription",
            {
                "p_event_id": event_id,
                "p_type": event_type,
                "p_created": created,
                "p_subscription": subscription.to_sql() if subscription else None,
            },
        )
        return EventResult.model_validate(row)

    async def record_payment(
        self, *, event_id: str, event_type: str, created: dt.datetime, payment: PaymentState
    ) -> EventResult:
        """Record a payment's state unless a newer event was applied to it; once."""
        row = await self._transport.call(
            "billing_record_payment",
            {
                "p_event_id": event_id,
                "p_type": event_type,
                "p_created": created,
                "p_payment": payment.to_sql(),
            },
        )
        return EventResult.model_validate(row)

    async def record_delivery(
        self, *, event_id: str, event_type: str, created: dt.datetime, livemode: bool, body: str
    ) -> Delivery:
        """Store a verified delivery (a redelivery bumps its count and receive time)."""
        row = await self._transport.call(
            "stripe_record_delivery",
            {
                "p_event_id": event_id,
                "p_type": event_type,
                "p_created": created,
                "p_livemode": livemode,
                "p_body": body,
            },
        )
        return Delivery.model_validate(row)

    async def mark_forwarded(self, *, event_id: str) -> None:
        """Note that the delivery has been handed to Inngest."""
        await self._transport.call("stripe_mark_forwarded", {"p_event_id": event_id})

    async def get_delivery(self, *, event_id: str) -> Delivery | None:
        """The stored delivery of `event_id`, body included, or None."""
        row = await self._transport.call("stripe_get_delivery", {"p_event_id": event_id})
        return None if row is None else Delivery.model_validate(row)
