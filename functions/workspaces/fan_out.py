"""`scheduled-workspace-aggregation`: the nightly fan-out, one aggregation event per workspace,
in pages; after `pages` pages a fresh run goes on (Inngest's 1,000-step limit)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import inngest

from functions.workspaces.aggregate import event_day
from inngest_app.events import parse_event
from inngest_app.repos.workspaces import WorkspacesRepo
from inngest_app.workspaces.events import AGGREGATE, FAN_OUT, FanOutRequested


async def fan_out_handler(
    ctx: inngest.Context, *, repo: WorkspacesRepo, batch: int, pages: int, trailing_days: int
) -> dict[str, Any]:
    """Send an aggregation of the trailing `trailing_days` days for every workspace, `batch` a
    page; the cron's day is its yesterday, a continuation's the day it carries."""
    after: str | None = None
    if ctx.event.name == FAN_OUT:
        cont = parse_event(FanOutRequested, ctx.event.data, event=FAN_OUT)
        day, after = cont.date.isoformat(), str(cont.after)
    else:
        day = (event_day(ctx) - dt.timedelta(days=1)).isoformat()
    sent = 0
    for page in range(pages):

        async def list_page(after: str | None = after) -> list[str]:
            ids = await repo.ids_page(after=uuid.UUID(after) if after else None, limit=batch)
            return [str(value) for value in ids]

        ids = await ctx.step.run(f"list-workspaces-{page}", list_page)
        if not ids:
            break
        await ctx.step.send_event(
            f"fan-out-{page}",
            [
                # the id makes a retried or doubled cron run send each day's event once
                inngest.Event(
                    name=AGGREGATE,
                    data={"workspaceId": ws, "date": day, "days": trailing_days},
                    id=f"aggregate-{ws}-{day}",
                )
                for ws in ids
            ],
        )
        sent += len(ids)
        after = ids[-1]
        if len(ids) < batch:
            break
        if page == pages - 1:
            await ctx.step.send_event(
                "hand-over",
                inngest.Event(
                    name=FAN_OUT,
                    data={"date": day, "after": after},
                    id=f"aggregate-fan-out-{day}-{after}",
                ),
            )
    return {"date": day, "workspaces": sent}
