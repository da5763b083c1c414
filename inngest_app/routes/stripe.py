"""`POST /api/stripe/webhook`: verify, keep the delivery, hand it to Inngest, then acknowledge.

The answer is 200 only once the event is with Inngest, so a delivery is never acknowledged and
lost: if the store or the Inngest event API cannot be reached the answer is 503 and Stripe
delivers again later. The Inngest event's id is the Stripe event id, so a redelivery that finds
the event already sent is dropped by Inngest, and the functions' ledger guards the rest.

A delivery that fails verification (unsigned, forged, tampered, older than 300 s) is refused with
400 and a JSON error; nothing is stored or sent. So is a test-mode event (`livemode: false`) in a
live deployment, unless `STRIPE_ALLOW_TEST_EVENTS`.

A verified delivery that can never be parsed or stored (not a Stripe event, text Postgres cannot
hold, `created` past year 9999, JSON nested too deep, a store refusal caused by its values) is a
poison message: Stripe would redeliver any error answer for days, so it is recorded once in
`webhook_rejections` (a redelivery of the same body only counts up), logged, counted in
`inngest_app_webhook_rejections_total{source,code}`, and answered 200 `{"received": true,
"rejected": true, "code", "error"}`. Nothing is kept as a delivery or sent to Inngest.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from inngest_app.repos.billing import BillingRepo
from inngest_app.repos.webhooks import WebhooksRepo
from inngest_app.routes.api import Operation, public_route
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


class WebhookAck(BaseModel):
    """The 200 answer: the delivery is with Inngest, or was rejected as poison (`rejected`)."""

    received: bool
    id: str | None = None
    name: str | None = None
    rejected: bool = False
    code: str | None = None
    error: str | None = None


async def _mark_forwarded(repo: BillingRepo, event_id: str) -> None:
    try:
        await repo.mark_forwarded(event_id=event_id)
    except (StoreError, NotStartedError) as exc:
        # The event is with Inngest; only the bookkeeping is missing.
        logger.warning("stripe event %s sent but not marked forwarded: %s", event_id, exc)


def routes(services: Services) -> list[BaseRoute]:
    """The Stripe webhook route."""

    registry = services.recorder.metrics.registry if services.recorder else None
    rejections = Counter(
        "inngest_app_webhook_rejections",
        "Verified webhook deliveries rejected as poison, by source and reason",
        ["source", "code"],
        registry=registry,
    )

    async def reject(body: bytes, code: str, reason: str, event_id: str | None) -> Response:
        """Record a poison delivery once (or count its redelivery) and acknowledge it."""
        text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
        try:
            await WebhooksRepo(services.transport).reject(
                source="stripe",
                key=hashlib.sha256(body).hexdigest(),
                event_id=event_id,
                code=code,
                reason=reason,
                body=text,
            )
        except (StoreError, NotStartedError) as exc:
            if not (isinstance(exc, StoreError) and exc.input_fault):
                logger.error("stripe poison delivery not recorded, asking to retry: %s", exc)
                return error_response(503, "store_unavailable", "the delivery could not be stored")
            logger.error("stripe poison delivery could not be recorded either: %s", exc)
        rejections.labels(source="stripe", code=code).inc()
        logger.warning("stripe delivery rejected as poison (%s): %s", code, reason)
        ack = WebhookAck(received=True, id=event_id, rejected=True, code=code, error=reason)
        return JSONResponse(ack.model_dump(exclude_none=True))

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
            return error_response(400, "signature_invalid", str(exc), field="Stripe-Signature")
        try:
            event = parse_envelope(body)
        except EventError as exc:
            return await reject(body, exc.code, str(exc), None)
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
        except StoreError as exc:
            if exc.input_fault:
                return await reject(body, "store_refused", str(exc), event.id)
            logger.error("stripe event %s not stored, asking Stripe to retry: %s", event.id, exc)
            return error_response(503, "store_unavailable", "the delivery could not be stored")
        except NotStartedError as exc:
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

    operation = Operation(
        "Stripe webhooks: verified, kept, handed to Inngest",
        "stripe",
        response=WebhookAck,
        body=StripeEnvelope,
        raw_body=True,
        max_body=MAX_BODY_BYTES,
        auth=False,
        errors={503: "store or Inngest unreachable, or no secret configured: Stripe retries"},
    )
    return [public_route("POST", WEBHOOK_PATH, webhook, operation)]


class StripeEnvelope(BaseModel):
    """The signed body (`Stripe-Signature` header): a Stripe event as Stripe sends it."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: str
    type: str
    created: int
    data: dict[str, Any]
