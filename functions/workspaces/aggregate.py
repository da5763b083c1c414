"""`aggregate-workspace-metrics` and `recompute-workspace-metrics`: a workspace's daily metrics,
for the day its event asks for (never the clock at replay time), or for every stale day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest

from inngest_app.events import parse_event
from inngest_app.repos.workspaces import WorkspacesRepo
from inngest_app.workspaces.events import (
    AGGREGATE,
    RECOMPUTE,
    AggregateRequested,
    RecomputeRequested,
)


def event_day(ctx: inngest.Context) -> dt.date:
    """The UTC day of the triggering event (its `ts`, in ms), else today."""
    ts = ctx.event.ts
    when = dt.datetime.fromtimestamp(ts / 1000, dt.UTC) if ts else dt.datetime.now(dt.UTC)
    return when.date()


async def aggregate_handler(ctx: inngest.Context, *, repo: WorkspacesRepo) -> dict[str, Any]:
    """The metrics of the asked day (by default the event's yesterday), and with `days` > 1 the
    days before it and every stale day."""
    data = parse_event(AggregateRequested, ctx.event.data, event=AGGREGATE)
    day = data.date or event_day(ctx) - dt.timedelta(days=1)
    first = day - dt.timedelta(days=data.days - 1)

    async def compute() -> dict[str, Any] | None:
        if data.days > 1:
            # the days before, and any the workspace's metrics are stale from (claimed)
            before = day - dt.timedelta(days=1)
            await repo.recompute(data.workspace_id, until=before, days=data.days - 1)
        metrics = await repo.compute_day(data.workspace_id, day)
        return None if metrics is None else metrics.model_dump(mode="json")

    step = f"compute-{day.isoformat()}"
    if data.days > 1:
        step = f"compute-{first.isoformat()}-{day.isoformat()}"
    metrics = await ctx.step.run(step, compute)
    if metrics is None:
        return {"workspaceId": str(data.workspace_id), "skipped": "no such workspace"}
    return {"workspaceId": str(data.workspace_id), "date": day.isoformat(), **metrics}


async def recompute_handler(ctx: inngest.Context, *, repo: WorkspacesRepo) -> dict[str, Any]:
    """Recompute the workspace's stale days up to the event's yesterday (claiming the marks)."""
    data = parse_event(RecomputeRequested, ctx.event.data, event=RECOMPUTE)
    until = event_day(ctx) - dt.timedelta(days=1)

    async def compute() -> dict[str, Any]:
        days, first = await repo.recompute(data.workspace_id, until=until, days=data.days)
        return {"days": days, "from": first.isoformat() if first else None}

    done = await ctx.step.run("recompute", compute)
    return {"workspaceId": str(data.workspace_id), "until": until.isoformat(), **done}
