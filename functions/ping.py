"""`app/ping`: the smallest real function: two stored steps around a sleep.

It proves the whole path: event in, signed step calls, steps memoized, a durable sleep, writes
through the store transport, a JSON result out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest
from pydantic import Field

from inngest_app.events import EventPayload, parse_event
from inngest_app.repos.pings import PingsRepo
from inngest_app.services import Services

PING = "app/ping"


class PingRequested(EventPayload):
    """Data of `app/ping`."""

    message: str = Field("ping", min_length=1, max_length=200)
    pause_s: float = Field(1.0, ge=0, le=3600)


async def ping_handler(ctx: inngest.Context, *, repo: PingsRepo) -> dict[str, Any]:
    """Record `ping`, sleep `pause_s`, record `pong`."""
    data = parse_event(PingRequested, ctx.event.data, event=PING)

    async def record(step: str) -> dict[str, Any]:
        row = await repo.record(run_id=ctx.run_id, step=step, message=data.message)
        ctx.logger.info("recorded %s", step)
        return row.model_dump(mode="json")

    first = await ctx.step.run("record-ping", record, "ping")
    await ctx.step.sleep("pause", dt.timedelta(seconds=data.pause_s))
    second = await ctx.step.run("record-pong", record, "pong")
    return {"message": data.message, "ping": first, "pong": second}


def build(services: Services) -> list[inngest.Function[Any]]:
    """The ping function, bound to `services`."""

    @services.inngest.create_function(
        fn_id="ping", name="Ping", trigger=inngest.TriggerEvent(event=PING), retries=3
    )
    async def ping(ctx: inngest.Context) -> dict[str, Any]:
        return await ping_handler(ctx, repo=PingsRepo(services.transport))

    return [ping]
