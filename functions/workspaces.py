"""Workspaces: daily metrics per workspace, a nightly fan-out, recomputation on membership
changes and captures (debounced, so a burst costs one run) and retention cleanup.

Every day a function looks at is derived from its triggering event's timestamp, never from the
clock at replay time, so a run that crosses midnight still computes the day it was asked for.
The nightly run recomputes a trailing window (activity captured after its day was aggregated
counts); a capture or a membership change marks the days it touched stale and asks for a
recomputation, which claims the mark. Loops work in slices and hand over to a fresh run with a
deterministic event id (Inngest's 1,000-step limit). One aggregation at a time per workspace,
across the aggregate and recompute functions.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import inngest

from inngest_app.events import parse_event
from inngest_app.github.events import DISCOVER
from inngest_app.repos.workspaces import RepositoryState, WorkspacesRepo
from inngest_app.services import Services
from inngest_app.workspaces.events import (
    AGGREGATE,
    CLEANUP,
    FAN_OUT,
    RECOMPUTE,
    REPOSITORY_CHANGE,
    AggregateRequested,
    CleanupRequested,
    FanOutRequested,
    RecomputeRequested,
    RepositoryChanged,
)

RETRIES = 3
FAN_OUT_BATCH = 500  # events per send step: Inngest accepts at most 5,000 per send (docs)
FAN_OUT_PAGES = 100  # pages per run (2 steps each, 50,000 workspaces), then a fresh run
TRAILING_DAYS = 3  # the nightly run recomputes yesterday and the 2 days before
CLEANUP_BATCH = 5_000
CLEANUP_BATCHES = 100  # delete steps per run, then a fresh run goes on
# One aggregation at a time per workspace, whichever function computes it.
WORKSPACE_KEY = inngest.Concurrency(
    limit=1, key="'workspace:' + event.data.workspaceId", scope="env"
)
RECOMPUTE_DEBOUNCE = dt.timedelta(seconds=30)
RECOMPUTE_DEBOUNCE_TIMEOUT = dt.timedelta(minutes=5)  # constant churn still recomputes


def event_day(ctx: inngest.Context) -> dt.date:
    """The UTC day of the triggering event (its `ts`, in ms), else today."""
    ts = ctx.event.ts
    when = dt.datetime.fromtimestamp(ts / 1000, dt.UTC) if ts else dt.datetime.now(dt.UTC)
    return when.date()


def build(services: Services) -> list[inngest.Function[Any]]:
    """The workspace functions, bound to `services`."""

    def repo() -> WorkspacesRepo:
        return WorkspacesRepo(services.transport)

    @services.inngest.create_function(
        fn_id="aggregate-workspace-metrics",
        name="Aggregate workspace metrics",
        trigger=inngest.TriggerEvent(event=AGGREGATE),
        retries=RETRIES,
        concurrency=[WORKSPACE_KEY],
    )
    async def aggregate(ctx: inngest.Context) -> dict[str, Any]:
        data = parse_event(AggregateRequested, ctx.event.data, event=AGGREGATE)
        day = data.date or event_day(ctx) - dt.timedelta(days=1)
        first = day - dt.timedelta(days=data.days - 1)

        async def compute() -> dict[str, Any] | None:
            if data.days > 1:
                # the days before, and any the workspace's metrics are stale from (claimed)
                before = day - dt.timedelta(days=1)
                await repo().recompute(data.workspace_id, until=before, days=data.days - 1)
            metrics = await repo().compute_day(data.workspace_id, day)
            return None if metrics is None else metrics.model_dump(mode="json")

        step = f"compute-{day.isoformat()}"
        if data.days > 1:
            step = f"compute-{first.isoformat()}-{day.isoformat()}"
        metrics = await ctx.step.run(step, compute)
        if metrics is None:
            return {"workspaceId": str(data.workspace_id), "skipped": "no such workspace"}
        return {"workspaceId": str(data.workspace_id), "date": day.isoformat(), **metrics}

    @services.inngest.create_function(
        fn_id="scheduled-workspace-aggregation",
        name="Scheduled workspace aggregation",
        trigger=[inngest.TriggerCron(cron="0 0 * * *"), inngest.TriggerEvent(event=FAN_OUT)],
        retries=RETRIES,
    )
    async def fan_out(ctx: inngest.Context) -> dict[str, Any]:
        after: str | None = None
        if ctx.event.name == FAN_OUT:
            cont = parse_event(FanOutRequested, ctx.event.data, event=FAN_OUT)
            day, after = cont.date.isoformat(), str(cont.after)
        else:
            day = (event_day(ctx) - dt.timedelta(days=1)).isoformat()
        sent = 0
        for page in range(FAN_OUT_PAGES):

            async def list_page(after: str | None = after) -> list[str]:
                ids = await repo().ids_page(
                    after=uuid.UUID(after) if after else None, limit=FAN_OUT_BATCH
                )
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
                        data={"workspaceId": ws, "date": day, "days": TRAILING_DAYS},
                        id=f"aggregate-{ws}-{day}",
                    )
                    for ws in ids
                ],
            )
            sent += len(ids)
            after = ids[-1]
            if len(ids) < FAN_OUT_BATCH:
                break
            if page == FAN_OUT_PAGES - 1:
                await ctx.step.send_event(
                    "hand-over",
                    inngest.Event(
                        name=FAN_OUT,
                        data={"date": day, "after": after},
                        id=f"aggregate-fan-out-{day}-{after}",
                    ),
                )
        return {"date": day, "workspaces": sent}

    @services.inngest.create_function(
        fn_id="handle-workspace-repository-change",
        name="Handle workspace repository change",
        trigger=inngest.TriggerEvent(event=REPOSITORY_CHANGE),
        retries=RETRIES,
    )
    async def repository_change(ctx: inngest.Context) -> dict[str, Any]:
        data = parse_event(RepositoryChanged, ctx.event.data, event=REPOSITORY_CHANGE)
        if data.repository is None and data.repository_id is None:
            raise inngest.NonRetriableError(
                f"invalid {REPOSITORY_CHANGE} payload: repositoryId or repository is required"
            )
        discovered = False
        if data.action == "added":
            ref = data.repository

            async def look_up() -> dict[str, Any]:
                state = await repo().repository_state(
                    repository_id=None if ref else data.repository_id,
                    owner=ref.owner if ref else None,
                    name=ref.name if ref else None,
                )
                return state.model_dump(mode="json")

            state = RepositoryState.model_validate(await ctx.step.run("repository-state", look_up))
            if not state.captured:
                if state.owner is None or state.name is None:
                    raise inngest.NonRetriableError(
                        f"repository {data.repository_id} is unknown and the event names no "
                        "repository to discover"
                    )
                await ctx.step.send_event(
                    "discover-repository",
                    inngest.Event(
                        name=DISCOVER,
                        data={"repository": {"owner": state.owner, "name": state.name}},
                    ),
                )
                discovered = True
        await ctx.step.send_event(
            "request-recompute",
            inngest.Event(name=RECOMPUTE, data={"workspaceId": str(data.workspace_id)}),
        )
        return {"workspaceId": str(data.workspace_id), "discovered": discovered}

    @services.inngest.create_function(
        fn_id="recompute-workspace-metrics",
        name="Recompute workspace metrics",
        trigger=inngest.TriggerEvent(event=RECOMPUTE),
        retries=RETRIES,
        # a burst of membership changes or captures costs one recomputation, run with the
        # last event; it claims the stale days as they are then, so no change is lost
        debounce=inngest.Debounce(
            period=RECOMPUTE_DEBOUNCE,
            key="event.data.workspaceId",
            timeout=RECOMPUTE_DEBOUNCE_TIMEOUT,
        ),
        concurrency=[WORKSPACE_KEY],
    )
    async def recompute(ctx: inngest.Context) -> dict[str, Any]:
        data = parse_event(RecomputeRequested, ctx.event.data, event=RECOMPUTE)
        until = event_day(ctx) - dt.timedelta(days=1)

        async def compute() -> dict[str, Any]:
            days, first = await repo().recompute(data.workspace_id, until=until, days=data.days)
            return {"days": days, "from": first.isoformat() if first else None}

        done = await ctx.step.run("recompute", compute)
        return {"workspaceId": str(data.workspace_id), "until": until.isoformat(), **done}

    @services.inngest.create_function(
        fn_id="cleanup-workspace-metrics-data",
        name="Clean up workspace metrics data",
        trigger=[
            inngest.TriggerEvent(event=CLEANUP),
            inngest.TriggerCron(cron="0 3 * * 0"),
        ],
        retries=RETRIES,
    )
    async def cleanup(ctx: inngest.Context) -> dict[str, Any]:
        round_ = 0
        today = event_day(ctx)
        if ctx.event.name == CLEANUP:
            data = parse_event(CleanupRequested, ctx.event.data, event=CLEANUP)
            today, round_ = data.today or today, data.round
        deleted = batches = 0
        for batch in range(CLEANUP_BATCHES):

            async def delete() -> int:
                return await repo().cleanup_batch(today=today, limit=CLEANUP_BATCH)

            count = await ctx.step.run(f"delete-batch-{batch}", delete)
            deleted, batches = deleted + count, batch + 1
            if count < CLEANUP_BATCH:
                break
            if batch == CLEANUP_BATCHES - 1:
                await ctx.step.send_event(
                    "hand-over",
                    inngest.Event(
                        name=CLEANUP,
                        data={"today": today.isoformat(), "round": round_ + 1},
                        id=f"cleanup-{today.isoformat()}-{round_ + 1}",
                    ),
                )
        return {"deleted": deleted, "batches": batches, "today": today.isoformat()}

    return [aggregate, fan_out, repository_change, recompute, cleanup]
