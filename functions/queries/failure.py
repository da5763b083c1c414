"""The executor's failure handler: a run that failed for good outside a page step (claim,
config) leaves its query `failed` and resumable, never stuck `pending` or `running`."""

from __future__ import annotations

import uuid

import inngest

from inngest_app.events import TerminalEvent, parse_event
from inngest_app.repos.queries import QueriesRepo


async def run_failed_handler(ctx: inngest.Context, *, repo: QueriesRepo) -> None:
    """Mark the query named by the failed run's event failed (retriable)."""
    failure = parse_event(TerminalEvent, ctx.event.data, event=ctx.event.name)
    try:
        original = failure.event.get("data", {})
        parsed = uuid.UUID(str(original.get("query_id") or original.get("queryId")))
    except ValueError:
        return  # the run never named a valid query: nothing to mark
    error = failure.error
    message = f"run failed: {(error and error.message) or 'unknown error'}"

    async def mark() -> None:
        await repo.fail(
            parsed,
            failure.run_id,
            error=message,
            code="run_failed",
            retriable=True,
        )

    await ctx.step.run("mark-query-failed", mark)
