"""Stripe fixtures for tests: load the shared captures, vary them, sign them as Stripe does."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from inngest_app.stripe.signature import sign

# The shared captures live beside the repository (`../shared/fixtures/stripe`), or beside the
# checkout a git worktree was made from (the nearest ancestor that has them).
FIXTURES = next(
    (
        parent / "shared" / "fixtures" / "stripe"
        for parent in Path(__file__).resolve().parents
        if (parent / "shared" / "fixtures" / "stripe").is_dir()
    ),
    Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "stripe",
)
SECRET = "whsec_test_current_0123456789"
OLD_SECRET = "whsec_test_previous_9876543210"

# Every event fixture: (directory, file name).
EVENT_FIXTURES = [
    ("events", "checkout.session.completed.json"),
    ("events", "checkout.session.completed.payment_mode.json"),
    ("events", "customer.subscription.created.json"),
    ("events", "customer.subscription.deleted.json"),
    ("events", "customer.subscription.updated.json"),
    ("events", "invoice.paid.json"),
    ("events", "invoice.payment_failed.json"),
    ("events", "payment_intent.payment_failed.json"),
    ("events", "payment_intent.succeeded.json"),
    ("events-supabase-sync-engine", "checkout_session_completed.json"),
    ("events-supabase-sync-engine", "invoice_paid.json"),
    ("events-supabase-sync-engine", "subscription_deleted.json"),
    ("events-supabase-sync-engine", "subscription_updated.json"),
]


def load_event(name: str, directory: str = "events", **changes: Any) -> dict[str, Any]:
    """A fixture envelope; top-level `changes` override (e.g. `id=`, `created=`)."""
    event: dict[str, Any] = json.loads((FIXTURES / directory / name).read_text())
    event.update(changes)
    return event


def load_object(name: str) -> dict[str, Any]:
    """A bare object from `objects/` (the pay-rails capture is wrapped in `{"object": ...}`)."""
    raw: dict[str, Any] = json.loads((FIXTURES / "objects" / name).read_text())
    return raw.get("object", raw) if "id" not in raw else raw


def with_object(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of `event` whose `data.object` has `changes` applied."""
    out = copy.deepcopy(event)
    out["data"]["object"].update(changes)
    return out


def wrap(obj: dict[str, Any], event_type: str, *, event_id: str, created: int) -> dict[str, Any]:
    """A webhook envelope around a bare object, shaped like Stripe's."""
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def signed(
    event: dict[str, Any] | str, secret: str = SECRET, *, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a delivery signed as Stripe signs: `t=..,v1=HMAC(t.body)`."""
    body = event if isinstance(event, str) else json.dumps(event)
    stamp = int(time.time()) if timestamp is None else timestamp
    header = sign(body, secret, timestamp=stamp)
    return body.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}
