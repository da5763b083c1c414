"""`sync-subscription` and `sync-invoice`: a subscription's state from its own events and from
its invoices, applied in order (an older event is recorded as `stale`)."""

from __future__ import annotations

from typing import Any

import inngest

from functions.stripe.common import ledger_step, parse
from inngest_app.repos.billing import BillingRepo
from inngest_app.settings import Settings
from inngest_app.stripe.events import INVOICE_PAID, InvoiceEvent, SubscriptionEvent
from inngest_app.stripe.state import invoice_subscription_state, subscription_state


async def subscription_handler(
    ctx: inngest.Context, *, repo: BillingRepo, settings: Settings
) -> dict[str, Any]:
    """Apply a `customer.subscription.*` event."""
    data = parse(settings, SubscriptionEvent, ctx.event.data, ctx.event.name)
    apply = ledger_step(data, repo.sync_subscription, subscription=subscription_state(data.object))
    result: dict[str, Any] = await ctx.step.run("apply-subscription", apply)
    return result


async def invoice_handler(
    ctx: inngest.Context, *, repo: BillingRepo, settings: Settings
) -> dict[str, Any]:
    """Apply an invoice's effect on its subscription (paid, or payment failed)."""
    data = parse(settings, InvoiceEvent, ctx.event.data, ctx.event.name)
    state = invoice_subscription_state(data.object, paid=ctx.event.name == INVOICE_PAID)
    apply = ledger_step(data, repo.sync_subscription, subscription=state)
    result: dict[str, Any] = await ctx.step.run("apply-invoice", apply)
    return result
