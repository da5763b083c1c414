"""What every Stripe handler shares: the test-mode check, the ledger step, and the Stripe API
client (built on first use, one per open HTTP client)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx
import inngest

from inngest_app.events import parse_event
from inngest_app.repos.billing import EventResult
from inngest_app.settings import Settings
from inngest_app.store import StoreError
from inngest_app.stripe.api import StripeApi
from inngest_app.stripe.events import (
    InvoiceEvent,
    PaymentIntentEvent,
    StripeEventData,
    SubscriptionEvent,
    refuses_test_event,
)
from inngest_app.stripe.state import from_unix

Data = TypeVar("Data", bound=StripeEventData)


async def stored(call: Callable[[], Awaitable[EventResult]]) -> dict[str, Any]:
    """Run one billing call; a refusal by the SQL function is bad input, not a fault."""
    try:
        result = await call()
    except StoreError as exc:
        if exc.retriable:
            raise
        raise inngest.NonRetriableError(str(exc)) from None
    return result.model_dump(mode="json")


def live_checked(settings: Settings, parsed: Data, event: str) -> Data:
    """`parsed`, unless it is a test-mode event in a live deployment: that ends the run
    before any effect (the webhook refuses those too, but replays and sends bypass it)."""
    if refuses_test_event(settings, livemode=parsed.livemode):
        raise inngest.NonRetriableError(
            f"{event} {parsed.id} is a test-mode event (livemode: false) and this "
            "deployment is live; set STRIPE_ALLOW_TEST_EVENTS=1 to apply it"
        )
    return parsed


def parse(
    settings: Settings, model: type[Data], data: Mapping[str, Any] | None, event: str
) -> Data:
    """The event's data, parsed once, then `live_checked`."""
    return live_checked(settings, parse_event(model, data, event=event), event)


def ledger_step(
    data: PaymentIntentEvent | SubscriptionEvent | InvoiceEvent,
    write: Callable[..., Awaitable[EventResult]],
    **effect: Any,
) -> Callable[[], Awaitable[dict[str, Any]]]:
    """The step body that applies `effect` with `write` (a billing repository's method) and
    records the event in the ledger, both in one SQL call keyed on the Stripe event id."""

    async def step() -> dict[str, Any]:
        return await stored(
            lambda: write(
                event_id=data.id,
                event_type=data.type,
                created=from_unix(data.created),
                **effect,
            )
        )

    return step


class StripeApis:
    """One Stripe client per open HTTP client (i.e. per app lifespan), built on first use;
    None without `STRIPE_API_KEY`."""

    def __init__(self, settings: Settings, http: Callable[[], httpx.AsyncClient]) -> None:
        self._settings = settings
        self._http = http
        self._cached: list[tuple[httpx.AsyncClient, StripeApi]] = []

    def __call__(self) -> StripeApi | None:
        key = self._settings.stripe_api_key
        if key is None:
            return None
        http = self._http()
        if not self._cached or self._cached[0][0] is not http:
            api = StripeApi(key.get_secret_value(), http, timeout_s=self._settings.http_timeout_s)
            self._cached[:] = [(http, api)]
        return self._cached[0][1]
