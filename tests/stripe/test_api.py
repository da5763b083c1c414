"""The Stripe API client: official `stripe` package over our httpx client, errors sorted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import inngest
import pytest
import respx
import stripe

from inngest_app.stripe.api import StripeApi
from tests.stripe.support import load_object

URL = "https://api.stripe.com/v1/subscriptions/sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@respx.mock
async def test_retrieve_subscription_parses_the_current_shape(http: httpx.AsyncClient) -> None:
    route = respx.get(URL).mock(
        return_value=httpx.Response(200, json=load_object("openapi-fixture.subscription.json"))
    )
    sub = await StripeApi("sk_test_123", http).retrieve_subscription("sub_1Pgc6rB7WZ01zgkWNy0Cn5nw")
    assert sub.period_end == 976287773 and sub.price_id == "price_1PgafmB7WZ01zgkW6dKueIc5"
    assert route.calls[0].request.headers["authorization"] == "Bearer sk_test_123"


@respx.mock
async def test_unknown_subscription_is_not_retried(http: httpx.AsyncClient) -> None:
    respx.get(URL).mock(
        return_value=httpx.Response(
            404,
            json={
                "error": {
                    "type": "invalid_request_error",
                    "message": "No such subscription",
                    "code": "resource_missing",
                }
            },
        )
    )
    with pytest.raises(inngest.NonRetriableError, match="404 No such subscription"):
        await StripeApi("sk_test_123", http).retrieve_subscription("sub_1Pgc6rB7WZ01zgkWNy0Cn5nw")


@respx.mock
async def test_stripe_outage_is_retried_by_inngest(http: httpx.AsyncClient) -> None:
    route = respx.get(URL).mock(
        return_value=httpx.Response(500, json={"error": {"type": "api_error", "message": "oops"}})
    )
    with pytest.raises(stripe.APIError):
        await StripeApi("sk_test_123", http).retrieve_subscription("sub_1Pgc6rB7WZ01zgkWNy0Cn5nw")
    assert route.call_count == 1  # no retry of our own: the step's retries are the record
