"""Stripe: the functions that turn `stripe/*` events into billing rows, exactly once and in order.

Each function parses its event once, at the top, and applies it in one step whose single SQL call
claims the Stripe event id in the `stripe_events` ledger and writes the effect in the same
transaction. A second run for the same event (a replay, a duplicate delivery) changes nothing, and
an event older than the one already applied to a subscription or payment is recorded as `stale`.

One module per job (`checkout`, `payments`, `subscriptions`); each body a module-level handler
taking its dependencies, bound here.
"""

from __future__ import annotations

from typing import Any

import inngest

from functions.stripe.checkout import checkout_handler
from functions.stripe.common import StripeApis
from functions.stripe.payments import payment_failed_handler, payment_succeeded_handler
from functions.stripe.subscriptions import invoice_handler, subscription_handler
from inngest_app.repos.billing import BillingRepo
from inngest_app.services import Services
from inngest_app.stripe.events import (
    CHECKOUT_SESSION_COMPLETED,
    INVOICE_PAID,
    INVOICE_PAYMENT_FAILED,
    PAYMENT_INTENT_PAYMENT_FAILED,
    PAYMENT_INTENT_SUCCEEDED,
    SUBSCRIPTION_CREATED,
    SUBSCRIPTION_DELETED,
    SUBSCRIPTION_UPDATED,
)

RETRIES = 3


def build(services: Services) -> list[inngest.Function[Any]]:
    """The Stripe functions, bound to `services`."""
    client, settings = services.inngest, services.settings
    stripe = StripeApis(settings, lambda: services.http)

    def repo() -> BillingRepo:
        return BillingRepo(services.transport)

    @client.create_function(
        fn_id="process-checkout-completed",
        name="Stripe: checkout completed",
        trigger=inngest.TriggerEvent(event=CHECKOUT_SESSION_COMPLETED),
        retries=RETRIES,
    )
    async def process_checkout_completed(ctx: inngest.Context) -> dict[str, Any]:
        return await checkout_handler(ctx, repo=repo(), settings=settings, stripe=stripe)

    @client.create_function(
        fn_id="process-payment-succeeded",
        name="Stripe: payment succeeded",
        trigger=inngest.TriggerEvent(event=PAYMENT_INTENT_SUCCEEDED),
        retries=RETRIES,
    )
    async def process_payment_succeeded(ctx: inngest.Context) -> dict[str, Any]:
        return await payment_succeeded_handler(ctx, repo=repo(), settings=settings)

    @client.create_function(
        fn_id="process-payment-failed",
        name="Stripe: payment failed",
        trigger=inngest.TriggerEvent(event=PAYMENT_INTENT_PAYMENT_FAILED),
        retries=RETRIES,
    )
    async def process_payment_failed(ctx: inngest.Context) -> dict[str, Any]:
        http = services.http
        return await payment_failed_handler(ctx, repo=repo(), settings=settings, http=http)

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
        return await subscription_handler(ctx, repo=repo(), settings=settings)

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
        return await invoice_handler(ctx, repo=repo(), settings=settings)

    return [
        process_checkout_completed,
        process_payment_succeeded,
        process_payment_failed,
        sync_subscription,
        sync_invoice,
    ]
