"""Workspaces: daily metrics per workspace, a nightly fan-out, recomputation on membership
changes and captures (debounced, so a burst costs one run) and retention cleanup.

Every day a function looks at is derived from its triggering event's timestamp, never from the
clock at replay time, so a run that crosses midnight still computes the day it was asked for.
The nightly run recomputes a trailing window (activity captured after its day was aggregated
counts); a capture or a membership change marks the days it touched stale and asks for a
recomputation, which claims the mark. Loops work in slices and hand over to a fresh run with a
deterministic event id (Inngest's 1,000-step limit). One aggregation at a time per workspace,
across the aggregate and recompute functions.

One module per job (`aggregate`, `fan_out`, `changes`, `cleanup`); each body a module-level
handler taking its dependencies. `build` binds them, with the slice sizes below (read when a
run starts), and declares the options.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest

from functions.workspaces.aggregate import aggregate_handler, recompute_handler
from functions.workspaces.changes import repository_change_handler
from functions.workspaces.cleanup import cleanup_handler
from functions.workspaces.fan_out import fan_out_handler
from inngest_app.repos.workspaces import WorkspacesRepo
from inngest_app.services import Services
from inngest_app.workspaces.events import AGGREGATE, CLEANUP, FAN_OUT, RECOMPUTE, REPOSITORY_CHANGE

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


def build(services: Services) -> list[inngest.Function[Any]]:
    """The workspace functions, bound to `services`."""
    client = services.inngest

    def repo() -> WorkspacesRepo:
        return WorkspacesRepo(services.transport)

    @client.create_function(
        fn_id="aggregate-workspace-metrics",
        name="Aggregate workspace metrics",
        trigger=inngest.TriggerEvent(event=AGGREGATE),
        retries=RETRIES,
        concurrency=[WORKSPACE_KEY],
    )
    async def aggregate(ctx: inngest.Context) -> dict[str, Any]:
        return await aggregate_handler(ctx, repo=repo())

    @client.create_function(
        fn_id="scheduled-workspace-aggregation",
        name="Scheduled workspace aggregation",
        trigger=[inngest.TriggerCron(cron="0 0 * * *"), inngest.TriggerEvent(event=FAN_OUT)],
        retries=RETRIES,
    )
    async def fan_out(ctx: inngest.Context) -> dict[str, Any]:
        return await fan_out_handler(
            ctx, repo=repo(), batch=FAN_OUT_BATCH, pages=FAN_OUT_PAGES, trailing_days=TRAILING_DAYS
        )

    @client.create_function(
        fn_id="handle-workspace-repository-change",
        name="Handle workspace repository change",
        trigger=inngest.TriggerEvent(event=REPOSITORY_CHANGE),
        retries=RETRIES,
    )
    async def repository_change(ctx: inngest.Context) -> dict[str, Any]:
        return await repository_change_handler(ctx, repo=repo())

    @client.create_function(
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
        return await recompute_handler(ctx, repo=repo())

    @client.create_function(
        fn_id="cleanup-workspace-metrics-data",
        name="Clean up workspace metrics data",
        trigger=[
            inngest.TriggerEvent(event=CLEANUP),
            inngest.TriggerCron(cron="0 3 * * 0"),
        ],
        retries=RETRIES,
    )
    async def cleanup(ctx: inngest.Context) -> dict[str, Any]:
        return await cleanup_handler(ctx, repo=repo(), batch=CLEANUP_BATCH, batches=CLEANUP_BATCHES)

    return [aggregate, fan_out, repository_change, recompute, cleanup]
