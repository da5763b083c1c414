"""The Stripe API, for what an event does not carry: the official `stripe` client on our httpx.

Errors are sorted for Inngest: a request Stripe refuses (unknown id, bad key, no permission) ends
the run (`NonRetriableError`); network faults, rate limits and Stripe's 5xx are raised as they are,
so the step is retried.
"""

from __future__ import annotations

import httpx
import inngest
import stripe

from inngest_app.stripe.objects import Subscription

_PERMANENT = (
    stripe.InvalidRequestError,
    stripe.AuthenticationError,
    stripe.PermissionError,
    stripe.IdempotencyError,
)


class _SharedHTTPXClient(stripe.HTTPXClient):
    """stripe's httpx adapter, sending through the service's shared `httpx.AsyncClient`."""

    def __init__(self, http: httpx.AsyncClient, *, timeout_s: float) -> None:
        super().__init__(timeout=timeout_s)
        # The adapter builds its own AsyncClient; ours carries the service's limits and is the
        # one tests intercept. Closing stays with the app's lifespan.
        self._client_async = http

    async def close_async(self) -> None:
        """The shared client is not ours to close."""


class StripeApi:
    """Typed reads from the Stripe API."""

    def __init__(self, api_key: str, http: httpx.AsyncClient, *, timeout_s: float = 10.0) -> None:
        self._client = stripe.StripeClient(
            api_key,
            http_client=_SharedHTTPXClient(http, timeout_s=timeout_s),
            # Inngest retries the step, with backoff and a record of each attempt.
            max_network_retries=0,
        )

    async def retrieve_subscription(self, subscription_id: str) -> Subscription:
        """The subscription as Stripe has it now."""
        try:
            found = await self._client.v1.subscriptions.retrieve_async(subscription_id)
        except _PERMANENT as exc:
            raise inngest.NonRetriableError(
                f"Stripe refused to return subscription {subscription_id}: "
                f"{exc.http_status} {exc.user_message}"
            ) from None
        return Subscription.model_validate(found.to_dict())
