"""`cleanup-workspace-metrics-data`: retention, `batch` rows a step; after `batches` steps a
fresh run goes on, with a deterministic event id."""

from __future__ import annotations

from typing import Any

import inngest

from functions.workspaces.aggregate import event_day
from inngest_app.events import parse_event
from inngest_app.repos.workspaces import WorkspacesRepo
from inngest_app.workspaces.events import CLEANUP, CleanupRequested


async def cleanup_handler(
    ctx: inngest.Context, *, repo: WorkspacesRepo, batch: int, batches: int
) -> dict[str, Any]:
    """Delete what is past retention as of the event's day (or the day a continuation carries)."""
    round_ = 0
    today = event_day(ctx)
    if ctx.event.name == CLEANUP:
        data = parse_event(CleanupRequested, ctx.event.data, event=CLEANUP)
        today, round_ = data.today or today, data.round
    deleted = done = 0
    for number in range(batches):

        async def delete() -> int:
            return await repo.cleanup_batch(today=today, limit=batch)

        count = await ctx.step.run(f"delete-batch-{number}", delete)
        deleted, done = deleted + count, number + 1
        if count < batch:
            break
        if number == batches - 1:
            await ctx.step.send_event(
                "hand-over",
                inngest.Event(
                    name=CLEANUP,
                    data={"today": today.isoformat(), "round": round_ + 1},
                    id=f"cleanup-{today.isoformat()}-{round_ + 1}",
                ),
            )
    return {"deleted": deleted, "batches": done, "today": today.isoformat()}
