"""`process-checkout-completed`: a checkout's subscription and payment, applied once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import inngest

from functions.stripe.common import live_checked, stored
from inngest_app.repos.billing import BillingRepo
from inngest_app.settings import Settings
from inngest_app.stripe.api import StripeApi
from inngest_app.stripe.events import CHECKOUT_SESSION_COMPLETED, parse_checkout
from inngest_app.stripe.objects import CheckoutSession, Subscription
from inngest_app.stripe.state import checkout_payment_state, from_unix, subscription_state


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


async def checkout_handler(
    ctx: inngest.Context,
    *,
    repo: BillingRepo,
    settings: Settings,
    stripe: Callable[[], StripeApi | None],
) -> dict[str, Any]:
    """Apply a completed checkout: its subscription (fetched when the event names only its id)
    and its payment, with the event recorded in the ledger, in one SQL call."""
    # the webhook's form or the seed apps' {session, eventId}
    data = live_checked(settings, parse_checkout(ctx.event), CHECKOUT_SESSION_COMPLETED)
    session = data.object
    user_id = checkout_user(session)

    async def fetch_subscription(subscription_id: str) -> dict[str, Any]:
        api = stripe()
        if api is None:
            raise inngest.NonRetriableError(
                f"STRIPE_API_KEY is not set: cannot fetch subscription {subscription_id}, "
                "which the event does not carry"
            )
        found = await api.retrieve_subscription(subscription_id)
        return found.model_dump(mode="json")

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
        return await stored(
            lambda: repo.apply_checkout(
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
