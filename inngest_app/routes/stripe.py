"""`POST /api/stripe/webhook`: verify, keep the delivery, hand it to Inngest, then acknowledge.

The answer is 200 only once the event is with Inngest, so a delivery is never acknowledged and
lost: if the store or the Inngest event API cannot be reached the answer is 503 and Stripe
delivers again later. The Inngest event's id is the Stripe event id, so a redelivery that finds
the event already sent is dropped by Inngest, and the functions' ledger guards the rest.

A delivery that fails verification (unsigned, forged, tampered, older than 300 s) or that is not
a JSON Stripe event is refused with 400 and a JSON error; nothing is stored or sent. So is a
test-mode event (`livemode: false`) in a live deployment, unless `STRIPE_ALLOW_TEST_EVENTS`.
"""

from __future__ import annotations

import logging
import time

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from inngest_app.repos.billing import BillingRepo
from inngest_app.serve import error_response
from inngest_app.services import NotStartedError, Services
from inngest_app.store import StoreError
from inngest_app.stripe.events import (
    EventError,
    inngest_event,
    parse_envelope,
    refuses_test_event,
)
from inngest_app.stripe.signature import DEFAULT_TOLERANCE_S, SignatureError, verify_signature
from inngest_app.stripe.state import from_unix

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/stripe/webhook"
# Stripe's events are a few kB; a megabyte is no webhook of theirs (enforced by BodyLimit).
MAX_BODY_BYTES = 1 << 20


async def _mark_forwarded(repo: BillingRepo, event_id: str) -> None:
    try:
        await repo.mark_forwarded(event_id=event_id)
    except (StoreError, NotStartedError) as exc:
        # The event is with Inngest; only the bookkeeping is missing.
        logger.warning("stripe event %s sent but not marked forwarded: %s", event_id, exc)


def routes(services: Services) -> list[BaseRoute]:
    """The Stripe webhook route."""

    async def webhook(request: Request) -> Response:
        started = time.perf_counter()
        secrets = services.settings.stripe_webhook_secrets
        if not secrets:
            # Stripe retries a 5xx for days: configuring the secret later loses nothing.
            return error_response(503, "not_configured", "STRIPE_WEBHOOK_SECRET is not set")
        body = await request.body()  # at most MAX_BODY_BYTES: the app's BodyLimit middleware
        try:
            verify_signature(
                body,
                request.headers.get("stripe-signature"),
                secrets,
                tolerance_s=DEFAULT_TOLERANCE_S,
            )
        except SignatureError as exc:
            logger.warning("stripe webhook refused: %s", exc)
            return error_response(400, "signature_invalid", str(exc))
        try:
            event = parse_envelope(body)
        except EventError as exc:
            logger.warning("stripe webhook refused: %s", exc)
            return error_response(400, "event_invalid", str(exc))
        if refuses_test_event(services.settings, livemode=event.livemode):
            logger.warning("stripe test-mode event %s refused by a live deployment", event.id)
            return error_response(
                400, "test_event_refused", "a test-mode event changes nothing in a live deployment"
            )

        repo = BillingRepo(services.transport)
        try:
            delivery = await repo.record_delivery(
                event_id=event.id,
                event_type=event.type,
                created=from_unix(event.created),
                livemode=event.livemode,
                body=body.decode("utf-8"),
            )
        except (StoreError, NotStartedError) as exc:
            logger.error("stripe event %s not stored, asking Stripe to retry: %s", event.id, exc)
            return error_response(503, "store_unavailable", "the delivery could not be stored")
        try:
            await services.inngest.send(inngest_event(event))
        except Exception as exc:  # any failure to hand over: Stripe must deliver again
            logger.error(
                "stripe event %s not sent to Inngest, asking Stripe to retry: %s",
                event.id,
                type(exc).__name__,
            )
            return error_response(503, "inngest_unavailable", "the event could not be queued")
        logger.info(
            "stripe event %s (%s) queued in %.1f ms, delivery %d",
            event.id,
            event.type,
            (time.perf_counter() - started) * 1000,
            delivery.deliveries,
        )
        # Bookkeeping after the answer: Stripe waits for the hand-over, not for this.
        return JSONResponse(
            {"received": True, "id": event.id, "name": event.name},
            background=BackgroundTask(_mark_forwarded, repo, event.id),
        )

    return [Route(WEBHOOK_PATH, webhook, methods=["POST"])]
