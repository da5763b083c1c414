"""Stripe events: the webhook envelope, the Inngest event built from it, and the typed payloads.

A verified delivery becomes one Inngest event named `stripe/{type}` whose id is the Stripe event id
(Inngest drops a second event with the same id, so Stripe's redeliveries run nothing twice), whose
`ts` is Stripe's `created` time, and whose data is `{id, type, created, livemode, api_version,
object}`. Functions read that data through the payload models below.
"""

from __future__ import annotations

import json
from typing import Any

import inngest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inngest_app.events import EventPayload, describe_validation_error
from inngest_app.settings import Settings
from inngest_app.stripe.objects import CheckoutSession, Invoice, PaymentIntent, Subscription

PREFIX = "stripe/"
CHECKOUT_SESSION_COMPLETED = "stripe/checkout.session.completed"
PAYMENT_INTENT_SUCCEEDED = "stripe/payment_intent.succeeded"
PAYMENT_INTENT_PAYMENT_FAILED = "stripe/payment_intent.payment_failed"
SUBSCRIPTION_CREATED = "stripe/customer.subscription.created"
SUBSCRIPTION_UPDATED = "stripe/customer.subscription.updated"
SUBSCRIPTION_DELETED = "stripe/customer.subscription.deleted"
INVOICE_PAID = "stripe/invoice.paid"
INVOICE_PAYMENT_FAILED = "stripe/invoice.payment_failed"


class EventError(ValueError):
    """The body is not a Stripe event this endpoint can forward."""


class _EnvelopeData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    object: dict[str, Any]


class StripeEvent(BaseModel):
    """A Stripe webhook event envelope (snapshot event, `object: "event"`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(pattern=r"^evt_[A-Za-z0-9_]+$", max_length=255)
    object: str = Field(pattern=r"^event$")
    type: str = Field(pattern=r"^[a-z0-9_.]+$", max_length=200)
    created: int = Field(ge=0)
    livemode: bool = False
    api_version: str | None = None
    data: _EnvelopeData

    @property
    def name(self) -> str:
        """The Inngest event name."""
        return f"{PREFIX}{self.type}"


def parse_envelope(body: bytes | str) -> StripeEvent:
    """Parse a webhook body; `EventError` when it is not JSON or not a Stripe event."""
    try:
        raw = json.loads(body)
    except ValueError:
        raise EventError("the body is not valid JSON") from None
    if not isinstance(raw, dict):
        raise EventError("the body is not a JSON object")
    try:
        return StripeEvent.model_validate(raw)
    except ValidationError as exc:
        raise EventError(f"not a Stripe event: {describe_validation_error(exc)}") from None


def refuses_test_event(settings: Settings, *, livemode: bool) -> bool:
    """Whether a test-mode event must change nothing here: the deployment is live (a live
    STRIPE_API_KEY, or STRIPE_LIVEMODE) and STRIPE_ALLOW_TEST_EVENTS is off."""
    return not livemode and settings.stripe_live and not settings.stripe_allow_test_events


def inngest_event(event: StripeEvent, *, event_id: str | None = None) -> inngest.Event:
    """The Inngest event for a Stripe event; `event_id` overrides the id (replays only)."""
    return inngest.Event(
        name=event.name,
        id=event_id or event.id,
        ts=event.created * 1000,
        data={
            "id": event.id,
            "type": event.type,
            "created": event.created,
            "livemode": event.livemode,
            "api_version": event.api_version,
            "object": event.data.object,
        },
    )


class StripeEventData(EventPayload):
    """Data of every `stripe/*` event: the envelope fields and the event's object."""

    id: str = Field(min_length=1)
    type: str = Field(min_length=1)
    created: int = Field(ge=0)
    livemode: bool = False
    api_version: str | None = None
    object: dict[str, Any]


class CheckoutCompleted(StripeEventData):
    """Data of `stripe/checkout.session.completed`."""

    object: CheckoutSession  # type: ignore[assignment]


class PaymentIntentEvent(StripeEventData):
    """Data of `stripe/payment_intent.succeeded` and `stripe/payment_intent.payment_failed`."""

    object: PaymentIntent  # type: ignore[assignment]


class SubscriptionEvent(StripeEventData):
    """Data of `stripe/customer.subscription.{created,updated,deleted}`."""

    object: Subscription  # type: ignore[assignment]


class InvoiceEvent(StripeEventData):
    """Data of `stripe/invoice.paid` and `stripe/invoice.payment_failed`."""

    object: Invoice  # type: ignore[assignment]
