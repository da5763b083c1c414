"""`python -m inngest_app stripe replay EVT_ID`: send a stored delivery to Inngest again.

A delivery that never reached Inngest (`forwarded_at` empty) is sent with the Stripe event id,
as the webhook would have. One that did is sent under a fresh id (`evt_…/replay/<ms>`), since
Inngest drops an event whose id it has seen; the data still carries the Stripe id, so the
functions' ledger keeps the effect single: replaying an event already applied changes nothing.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from pydantic import BaseModel

from inngest_app.cli.support import CommandError, command_settings, open_services
from inngest_app.repos.billing import BillingRepo
from inngest_app.services import Services
from inngest_app.settings import Settings
from inngest_app.stripe.events import inngest_event, parse_envelope


class ReplayError(CommandError):
    """The delivery cannot be replayed."""


class Replayed(BaseModel):
    """What a replay sent."""

    event_id: str
    name: str
    inngest_event_id: str
    first_hand_over: bool


async def replay(services: Services, event_id: str) -> Replayed:
    """Send the stored delivery of `event_id` to Inngest and note it as forwarded."""
    repo = BillingRepo(services.transport)
    delivery = await repo.get_delivery(event_id=event_id)
    if delivery is None or delivery.body is None:
        raise ReplayError(f"no stored delivery for {event_id}")
    event = parse_envelope(delivery.body)
    first = delivery.forwarded_at is None
    send_id = event.id if first else f"{event.id}/replay/{int(time.time() * 1000)}"
    await services.inngest.send(inngest_event(event, event_id=send_id))
    await repo.mark_forwarded(event_id=event.id)
    return Replayed(
        event_id=event.id, name=event.name, inngest_event_id=send_id, first_hand_over=first
    )


async def _run_replay(args: argparse.Namespace, settings: Settings | None = None) -> int:
    # Sending needs the event key in cloud mode; the signing key (serving) is not used here.
    settings = settings or command_settings(cloud_keys=("INNGEST_EVENT_KEY",))
    async with open_services(settings) as services:
        done = await replay(services, args.event_id)
    how = "first hand-over" if done.first_hand_over else "replay"
    print(f"sent {done.name} for {done.event_id} as {done.inngest_event_id} ({how})")
    return 0


def register(subparsers: Any) -> None:
    """Add `stripe replay EVT_ID`."""
    parser = subparsers.add_parser("stripe", help="Stripe webhook deliveries")
    commands = parser.add_subparsers(dest="stripe_command", required=True)
    replay_parser = commands.add_parser("replay", help="send a stored delivery to Inngest again")
    replay_parser.add_argument("event_id", help="the Stripe event id (evt_...)")
    replay_parser.set_defaults(handler=_run_replay)
