"""The webhook envelope and the Inngest event built from it."""

from __future__ import annotations

import json

import inngest
import pytest

from inngest_app.events import parse_event
from inngest_app.stripe.events import (
    CheckoutCompleted,
    EventError,
    StripeEventData,
    inngest_event,
    parse_envelope,
)
from tests.stripe.support import EVENT_FIXTURES, load_event


@pytest.mark.parametrize(("directory", "name"), EVENT_FIXTURES)
def test_each_fixture_becomes_an_inngest_event_named_and_keyed_by_stripe(
    directory: str, name: str
) -> None:
    raw = load_event(name, directory)
    event = inngest_event(parse_envelope(json.dumps(raw).encode()))
    assert event.name == f"stripe/{raw['type']}"
    assert event.id == raw["id"]
    assert event.ts == raw["created"] * 1000
    assert dict(event.data) == {
        "id": raw["id"],
        "type": raw["type"],
        "created": raw["created"],
        "livemode": raw["livemode"],
        "api_version": raw.get("api_version"),
        "object": raw["data"]["object"],
    }
    # What the functions read back is what was sent.
    assert StripeEventData.model_validate(dict(event.data)).id == raw["id"]


def test_a_replay_id_overrides_only_the_id() -> None:
    raw = load_event("invoice.paid.json")
    event = inngest_event(parse_envelope(json.dumps(raw)), event_id="evt_x/replay/1")
    assert event.id == "evt_x/replay/1" and event.data["id"] == raw["id"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"id": "evt_1"}', "object: Field required"),
        (
            b'{"id": "x", "object": "event", "type": "a.b", "created": 1, "data": {"object": {}}}',
            "id:",
        ),
        (
            b'{"id": "evt_1", "object": "v2.core.event", "type": "a", "created": 1, '
            b'"data": {"object": {}}}',
            "object:",
        ),
        (b'{"id": "evt_1", "object": "event", "type": "a.b", "created": 1}', "data:"),
    ],
)
def test_bodies_that_are_not_stripe_events_are_refused(body: bytes, reason: str) -> None:
    with pytest.raises(EventError, match=reason):
        parse_envelope(body)


def test_function_payload_names_the_bad_field() -> None:
    data = dict(inngest_event(parse_envelope(json.dumps(load_event("invoice.paid.json")))).data)
    with pytest.raises(inngest.NonRetriableError, match="object.mode"):
        parse_event(CheckoutCompleted, data, event="stripe/checkout.session.completed")
