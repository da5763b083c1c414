"""`reconcile-executions`: runs left "started" settled from what Inngest says of them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest

from inngest_app.monitoring.reconcile import InngestRuns, RunState, StaleRow, final_observation
from inngest_app.repos.executions import ExecutionsRepo

RECONCILE_CRON = "*/10 * * * *"
RECONCILE_LIMIT = 200  # rows settled per run (the rest in the next)
RECONCILE_RETRY_S = 3600  # a row Inngest calls running (or does not know) is asked again after


async def reconcile_handler(
    ctx: inngest.Context, *, repo: ExecutionsRepo, runs: InngestRuns, older_than_s: int
) -> dict[str, Any]:
    """Rows still "started" `older_than_s` after they began: ask Inngest how each run ended and
    record it (a run still running, or unknown to Inngest, stays as it is)."""

    async def find() -> list[dict[str, Any]]:
        return await repo.stale(older_than_s=older_than_s, limit=RECONCILE_LIMIT)

    stale = [StaleRow.model_validate(r) for r in await ctx.step.run("find-stale", find)]
    if not stale:
        return {"stale": 0, "settled": 0, "open": 0, "unknown": 0}

    async def ask() -> dict[str, Any]:
        states = await runs.runs([r.run_id for r in stale])
        return {k: None if v is None else v.model_dump(mode="json") for k, v in states.items()}

    states = await ctx.step.run("ask-inngest", ask)
    now = dt.datetime.now(dt.UTC)
    observations = [
        o
        for row in stale
        if (
            o := final_observation(
                row,
                None
                if states.get(row.run_id) is None
                else RunState.model_validate(states[row.run_id]),
                now=now,
            )
        )
        is not None
    ]

    async def record() -> int:
        return await repo.record(observations) if observations else 0

    await ctx.step.run("record-final-states", record)
    settled = {o["run_id"] for o in observations}
    still_open = [row.run_id for row in stale if row.run_id not in settled]
    if still_open:

        async def defer() -> int:
            return await repo.reconcile_later(still_open, delay_s=RECONCILE_RETRY_S)

        await ctx.step.run("ask-again-later", defer)
    unknown = sum(1 for row in stale if states.get(row.run_id) is None)
    return {
        "stale": len(stale),
        "settled": len(observations),
        "open": len(stale) - len(observations) - unknown,
        "unknown": unknown,
    }
