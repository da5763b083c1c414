"""Stripe events: the webhook envelope, the Inngest event built from it, and the typed payloads.

A verified delivery becomes one Inngest event named `stripe/{type}` whose id is the Stripe event id
(Inngest drops a second event with the same id, so Stripe's redeliveries run nothing twice), whose
`ts` is Stripe's `created` time, and whose data is `{id, type, created, livemode, api_version,
object}`. Functions read that data through the payload models below.

The seed apps this service replaces sent their own shapes: `{session, eventId}` for a completed
checkout and `{paymentIntent}` for the payment events. `parse_checkout` and `parse_payment`
accept those too, filling the envelope from the Inngest event (its id when there is no
`eventId`, its `ts` as the creation time), so producers can move over unchanged.
"""

from __future__ import annotations

from typing import Any, TypeVar

import inngest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inngest_app.events import EventPayload, describe_validation_error, parse_event
from inngest_app.inputs import InputError, parse_json
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


MAX_EVENT_DEPTH = 64  # Stripe's objects nest a handful of levels (expanded lists included)
MAX_CREATED = 253402300799  # 9999-12-31T23:59:59Z: the last second a timestamp column holds


class EventError(ValueError):
    """The body is not a Stripe event this endpoint can forward; `code` says why."""

    def __init__(self, message: str, code: str = "event_invalid") -> None:
        super().__init__(message)
        self.code = code


class _EnvelopeData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    object: dict[str, Any]


class StripeEvent(BaseModel):
    """A Stripe webhook event envelope (snapshot event, `object: "event"`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(pattern=r"^evt_[A-Za-z0-9_]+$", max_length=255)
    object: str = Field(pattern=r"^event$")
    type: str = Field(pattern=r"^[a-z0-9_.]+$", max_length=200)
    created: int = Field(ge=0, le=MAX_CREATED)
    livemode: bool = False
    api_version: str | None = Field(None, max_length=64)
    data: _EnvelopeData

    @property
    def name(self) -> str:
        """The Inngest event name."""
        return f"{PREFIX}{self.type}"


def parse_envelope(body: bytes | str) -> StripeEvent:
    """Parse a webhook body; `EventError` when it is not JSON or not a Stripe event."""
    try:
        raw = parse_json(body, max_depth=MAX_EVENT_DEPTH)
    except InputError as exc:
        where = f"{exc.field}: " if exc.field else ""
        raise EventError(f"{where}{exc.message}", exc.code) from None
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


class SeedCheckoutCompleted(EventPayload):
    """The seed apps' `stripe/checkout.session.completed` data: `{session, eventId}`."""

    session: CheckoutSession
    event_id: str | None = Field(None, alias="eventId", min_length=1, max_length=255)


class SeedPaymentIntentEvent(EventPayload):
    """The seed apps' payment event data: `{paymentIntent}` (an `eventId` is used if sent)."""

    payment_intent: PaymentIntent = Field(alias="paymentIntent")
    event_id: str | None = Field(None, alias="eventId", min_length=1, max_length=255)


_FullT = TypeVar("_FullT", CheckoutCompleted, PaymentIntentEvent)


def _seed_shaped(data: dict[str, Any], keys: tuple[str, ...]) -> bool:
    """A seed payload: one of its keys, and not the webhook form's `object`."""
    return "object" not in data and any(key in data for key in keys)


def _from_seed(
    model: type[_FullT], event: inngest.Event, stripe_event_id: str | None, obj: BaseModel
) -> _FullT:
    """The webhook form of a seed payload. The ledger keys on the event id: the Stripe one
    when the seed sent it, else the Inngest event's (the same on every retry)."""
    event_id = stripe_event_id or event.id
    if not event_id:
        raise inngest.NonRetriableError(
            f"invalid {event.name} payload: eventId: required when the event itself has no id"
        )
    return model(
        id=event_id,
        type=event.name.removeprefix(PREFIX),
        created=max(0, event.ts // 1000),
        livemode=bool(getattr(obj, "livemode", False)),
        object=obj,
    )


def parse_checkout(event: inngest.Event) -> CheckoutCompleted:
    """Data of a `stripe/checkout.session.completed` event, webhook or seed form; a
    `NonRetriableError` naming the field otherwise."""
    data = dict(event.data or {})
    if not _seed_shaped(data, ("session", "eventId")):
        return parse_event(CheckoutCompleted, data, event=event.name)
    seed = parse_event(SeedCheckoutCompleted, data, event=event.name)
    return _from_seed(CheckoutCompleted, event, seed.event_id, seed.session)


def parse_payment(event: inngest.Event) -> PaymentIntentEvent:
    """Data of a `stripe/payment_intent.*` event, webhook or seed form; a `NonRetriableError`
    naming the field otherwise."""
    data = dict(event.data or {})
    if not _seed_shaped(data, ("paymentIntent", "eventId")):
        return parse_event(PaymentIntentEvent, data, event=event.name)
    seed = parse_event(SeedPaymentIntentEvent, data, event=event.name)
    return _from_seed(PaymentIntentEvent, event, seed.event_id, seed.payment_intent)
