"""`process-payment-succeeded` and `process-payment-failed`: a payment intent's outcome, and
one alert for a failure that was applied (not a duplicate, not superseded)."""

from __future__ import annotations

from typing import Any

import httpx
import inngest

from functions.stripe.common import ledger_step, live_checked
from inngest_app.alerts import post_alert
from inngest_app.repos.billing import BillingRepo
from inngest_app.settings import Settings
from inngest_app.stripe.events import (
    PAYMENT_INTENT_PAYMENT_FAILED,
    PAYMENT_INTENT_SUCCEEDED,
    parse_payment,
)
from inngest_app.stripe.state import payment_state


def alert_text(result: dict[str, Any]) -> str:
    """The alert posted for a failed payment (no customer data beyond ids)."""
    payment = result.get("payment") or {}
    return (
        f"Stripe payment failed: {payment.get('payment_intent_id')} for "
        f"{payment.get('amount')} {str(payment.get('currency', '')).upper()} (minor units) "
        f"(user {payment.get('user_id') or 'unknown'}): "
        f"{payment.get('failure_code') or 'no code'}: {payment.get('failure_message') or ''}"
    ).strip()


async def payment_succeeded_handler(
    ctx: inngest.Context, *, repo: BillingRepo, settings: Settings
) -> dict[str, Any]:
    """Record a succeeded payment (the webhook's form or the seed apps' {paymentIntent})."""
    data = live_checked(settings, parse_payment(ctx.event), PAYMENT_INTENT_SUCCEEDED)
    record = ledger_step(
        data, repo.record_payment, payment=payment_state(data.object, succeeded=True)
    )
    result: dict[str, Any] = await ctx.step.run("record-payment", record)
    return result


async def payment_failed_handler(
    ctx: inngest.Context, *, repo: BillingRepo, settings: Settings, http: httpx.AsyncClient
) -> dict[str, Any]:
    """Record a failed payment; alert once when this event was the one applied."""
    data = live_checked(settings, parse_payment(ctx.event), PAYMENT_INTENT_PAYMENT_FAILED)
    record = ledger_step(
        data, repo.record_payment, payment=payment_state(data.object, succeeded=False)
    )
    result: dict[str, Any] = await ctx.step.run("record-failure", record)
    url = settings.alert_webhook_url
    # Alert once: not for a duplicate, nor for a failure a later success already superseded.
    if url and result["outcome"] == "applied":

        async def alert() -> dict[str, Any]:
            status = await post_alert(http, url, {"text": alert_text(result)})
            return {"status": status}

        result["alert"] = await ctx.step.run("post-alert", alert)
    return result
