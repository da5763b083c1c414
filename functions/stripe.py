"""Stripe: the functions that turn `stripe/*` events into billing rows, exactly once and in order.

Each function parses its event once, at the top, and applies it in one step whose single SQL call
claims the Stripe event id in the `stripe_events` ledger and writes the effect in the same
transaction. A second run for the same event (a replay, a duplicate delivery) changes nothing, and
an event older than the one already applied to a subscription or payment is recorded as `stale`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx
import inngest

from inngest_app.alerts import post_alert
from inngest_app.events import parse_event
from inngest_app.repos.billing import BillingRepo, EventResult
from inngest_app.services import Services
from inngest_app.store import StoreError
from inngest_app.stripe.api import StripeApi
from inngest_app.stripe.events import (
    CHECKOUT_SESSION_COMPLETED,
    INVOICE_PAID,
    INVOICE_PAYMENT_FAILED,
    PAYMENT_INTENT_PAYMENT_FAILED,
    PAYMENT_INTENT_SUCCEEDED,
    SUBSCRIPTION_CREATED,
    SUBSCRIPTION_DELETED,
    SUBSCRIPTION_UPDATED,
    CheckoutCompleted,
    InvoiceEvent,
    PaymentIntentEvent,
    StripeEventData,
    SubscriptionEvent,
    refuses_test_event,
)
from inngest_app.stripe.objects import CheckoutSession, Subscription
from inngest_app.stripe.state import (
    checkout_payment_state,
    from_unix,
    invoice_subscription_state,
    payment_state,
    subscription_state,
)

RETRIES = 3
Data = TypeVar("Data", bound=StripeEventData)


async def _stored(call: Callable[[], Awaitable[EventResult]]) -> dict[str, Any]:
    """Run one billing call; a refusal by the SQL function is bad input, not a fault."""
    try:
        result = await call()
    except StoreError as exc:
        if exc.retriable:
            raise
        raise inngest.NonRetriableError(str(exc)) from None
    return result.model_dump(mode="json")


def checkout_user(session: CheckoutSession) -> str:
    """The user who checked out, or `NonRetriableError` naming both places it may be."""
    user_id = session.user_id
    if user_id is None:
        raise inngest.NonRetriableError(
            f"checkout session {session.id} names no user: "
            "neither client_reference_id nor metadata.userId is set"
        )
    if session.status not in (None, "complete"):
        raise inngest.NonRetriableError(
            f"checkout session {session.id} has status {session.status!r}, not 'complete'"
        )
    return user_id


def alert_text(result: dict[str, Any]) -> str:
    """The alert posted for a failed payment (no customer data beyond ids)."""
    payment = result.get("payment") or {}
    return (
        f"Stripe payment failed: {payment.get('payment_intent_id')} for "
        f"{payment.get('amount')} {str(payment.get('currency', '')).upper()} (minor units) "
        f"(user {payment.get('user_id') or 'unknown'}): "
        f"{payment.get('failure_code') or 'no code'}: {payment.get('failure_message') or ''}"
    ).strip()


def build(services: Services) -> list[inngest.Function[Any]]:
    """The Stripe functions, bound to `services`."""
    client = services.inngest
    settings = services.settings

    def repo() -> BillingRepo:
        return BillingRepo(services.transport)

    def parse(model: type[Data], data: Mapping[str, Any] | None, event: str) -> Data:
        """The event's data, parsed once; a test-mode event in a live deployment ends the run
        before any effect (the webhook refuses those too, but replays and sends bypass it)."""
        parsed = parse_event(model, data, event=event)
        if refuses_test_event(settings, livemode=parsed.livemode):
            raise inngest.NonRetriableError(
                f"{event} {parsed.id} is a test-mode event (livemode: false) and this "
                "deployment is live; set STRIPE_ALLOW_TEST_EVENTS=1 to apply it"
            )
        return parsed

    def ledger_step(
        data: PaymentIntentEvent | SubscriptionEvent | InvoiceEvent,
        write: Callable[..., Awaitable[EventResult]],
        **effect: Any,
    ) -> Callable[[], Awaitable[dict[str, Any]]]:
        """The step body that applies `effect` with `write(repo, ...)` and records the event
        in the ledger, both in one SQL call keyed on the Stripe event id."""

        async def step() -> dict[str, Any]:
            return await _stored(
                lambda: write(
                    repo(),
                    event_id=data.id,
                    event_type=data.type,
                    created=from_unix(data.created),
                    **effect,
                )
            )

        return step

    # One Stripe client per open HTTP client (i.e. per app lifespan), built on first use.
    cached: list[tuple[httpx.AsyncClient, StripeApi]] = []

    async def fetch_subscription(subscription_id: str) -> dict[str, Any]:
        if settings.stripe_api_key is None:
            raise inngest.NonRetriableError(
                f"STRIPE_API_KEY is not set: cannot fetch subscription {subscription_id}, "
                "which the event does not carry"
            )
        http = services.http
        if not cached or cached[0][0] is not http:
            key = settings.stripe_api_key.get_secret_value()
            cached[:] = [(http, StripeApi(key, http, timeout_s=settings.http_timeout_s))]
        api = cached[0][1]
        found = await api.retrieve_subscription(subscription_id)
        return found.model_dump(mode="json")

    @client.create_function(
        fn_id="process-checkout-completed",
        name="Stripe: checkout completed",
        trigger=inngest.TriggerEvent(event=CHECKOUT_SESSION_COMPLETED),
        retries=RETRIES,
    )
    async def process_checkout_completed(ctx: inngest.Context) -> dict[str, Any]:
        data = parse(CheckoutCompleted, ctx.event.data, CHECKOUT_SESSION_COMPLETED)
        session = data.object
        user_id = checkout_user(session)
        sub_state = None
        if session.mode == "subscription":
            if isinstance(session.subscription, Subscription):
                sub = session.subscription
            elif session.subscription is not None:
                fetched = await ctx.step.run(
                    "fetch-subscription", fetch_subscription, session.subscription
                )
                sub = Subscription.model_validate(fetched)
            else:
                raise inngest.NonRetriableError(
                    f"invalid {CHECKOUT_SESSION_COMPLETED} payload: object.subscription: "
                    "required in subscription mode"
                )
            sub_state = subscription_state(sub, user_id=user_id)
        payment = checkout_payment_state(session)

        async def apply() -> dict[str, Any]:
            return await _stored(
                lambda: repo().apply_checkout(
                    event_id=data.id,
                    event_type=data.type,
                    created=from_unix(data.created),
                    user_id=user_id,
                    customer_id=session.customer,
                    livemode=data.livemode,
                    subscription=sub_state,
                    payment=payment,
                )
            )

        result = await ctx.step.run("apply-checkout", apply)
        ctx.logger.info(
            "checkout %s for user %s: %s (subscription %s, payment %s)",
            session.id,
            user_id,
            result["outcome"],
            result.get("subscription_outcome"),
            result.get("payment_outcome"),
        )
        return result

    @client.create_function(
        fn_id="process-payment-succeeded",
        name="Stripe: payment succeeded",
        trigger=inngest.TriggerEvent(event=PAYMENT_INTENT_SUCCEEDED),
        retries=RETRIES,
    )
    async def process_payment_succeeded(ctx: inngest.Context) -> dict[str, Any]:
        data = parse(PaymentIntentEvent, ctx.event.data, PAYMENT_INTENT_SUCCEEDED)
        record = ledger_step(
            data, BillingRepo.record_payment, payment=payment_state(data.object, succeeded=True)
        )
        return await ctx.step.run("record-payment", record)

    @client.create_function(
        fn_id="process-payment-failed",
        name="Stripe: payment failed",
        trigger=inngest.TriggerEvent(event=PAYMENT_INTENT_PAYMENT_FAILED),
        retries=RETRIES,
    )
    async def process_payment_failed(ctx: inngest.Context) -> dict[str, Any]:
        data = parse(PaymentIntentEvent, ctx.event.data, PAYMENT_INTENT_PAYMENT_FAILED)
        record = ledger_step(
            data, BillingRepo.record_payment, payment=payment_state(data.object, succeeded=False)
        )
        result = await ctx.step.run("record-failure", record)
        url = settings.alert_webhook_url
        # Alert once: not for a duplicate, nor for a failure a later success already superseded.
        if url and result["outcome"] == "applied":

            async def alert() -> dict[str, Any]:
                status = await post_alert(services.http, url, {"text": alert_text(result)})
                return {"status": status}

            result["alert"] = await ctx.step.run("post-alert", alert)
        return result

    @client.create_function(
        fn_id="sync-subscription",
        name="Stripe: sync subscription",
        trigger=[
            inngest.TriggerEvent(event=SUBSCRIPTION_CREATED),
            inngest.TriggerEvent(event=SUBSCRIPTION_UPDATED),
            inngest.TriggerEvent(event=SUBSCRIPTION_DELETED),
        ],
        retries=RETRIES,
    )
    async def sync_subscription(ctx: inngest.Context) -> dict[str, Any]:
        data = parse(SubscriptionEvent, ctx.event.data, ctx.event.name)
        apply = ledger_step(
            data, BillingRepo.sync_subscription, subscription=subscription_state(data.object)
        )
        return await ctx.step.run("apply-subscription", apply)

    @client.create_function(
        fn_id="sync-invoice",
        name="Stripe: invoice paid or failed",
        trigger=[
            inngest.TriggerEvent(event=INVOICE_PAID),
            inngest.TriggerEvent(event=INVOICE_PAYMENT_FAILED),
        ],
        retries=RETRIES,
    )
    async def sync_invoice(ctx: inngest.Context) -> dict[str, Any]:
        data = parse(InvoiceEvent, ctx.event.data, ctx.event.name)
        state = invoice_subscription_state(data.object, paid=ctx.event.name == INVOICE_PAID)
        apply = ledger_step(data, BillingRepo.sync_subscription, subscription=state)
        return await ctx.step.run("apply-invoice", apply)

    return [
        process_checkout_completed,
        process_payment_succeeded,
        process_payment_failed,
        sync_subscription,
        sync_invoice,
    ]
