"""`record-terminal-state`: the end of a run the middleware cannot see.

A run that fails after its last retry, or is cancelled while sleeping, makes no further call to
the app, so the middleware never sees its end: Inngest's `inngest/function.failed` and
`inngest/function.cancelled` system events carry it instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest

from inngest_app.events import TerminalEvent, parse_event
from inngest_app.monitoring.derive import ids, trigger_type
from inngest_app.repos.executions import ExecutionsRepo

FUNCTION_FAILED = "inngest/function.failed"
FUNCTION_CANCELLED = "inngest/function.cancelled"


def terminal_observation(name: str, data: TerminalEvent, *, at: dt.datetime) -> dict[str, Any]:
    """The observation that ends the run named by a system event."""
    trigger = data.event if isinstance(data.event, dict) else {}
    trigger_data = trigger.get("data")
    error = data.error
    return {
        "run_id": data.run_id,
        "function_id": data.function_id,
        "event_id": trigger.get("id"),
        "event_name": trigger.get("name"),
        "trigger_type": trigger_type(trigger.get("name"), trigger_data),
        **ids(trigger_data),
        "status": "cancelled" if name == FUNCTION_CANCELLED else "failed",
        "error_message": (error and (error.message or error.name)) or "unknown error",
        "error_stack": error.stack if error else None,
        "observed_at": at.isoformat(),
        "steps": {},
    }


async def terminal_handler(ctx: inngest.Context, *, repo: ExecutionsRepo) -> dict[str, Any]:
    """Record the failed or cancelled run named by the system event."""
    name = ctx.event.name
    data = parse_event(TerminalEvent, ctx.event.data, event=name)

    async def write() -> int:
        observation = terminal_observation(name, data, at=dt.datetime.now(dt.UTC))
        return await repo.record([observation])

    await ctx.step.run("record", write)
    return {"run_id": data.run_id, "status": "cancelled" if "cancelled" in name else "failed"}
