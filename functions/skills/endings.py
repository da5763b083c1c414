"""How a skill run ends when `skill-execute` does not end it itself: failed after its last retry
(the function's failure handler), or cancelled by Inngest (`timeouts.start`, `timeouts.finish`,
or by hand). Either way the run is marked failed at once, with the reason, and
`skill.execute.failed` is sent, unless the run finished or another execution holds it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import inngest

from inngest_app.events import TerminalEvent, parse_event
from inngest_app.repos.skills import SkillsRepo
from inngest_app.skills.events import FUNCTION_CANCELLED, SKILL_EXECUTE_FAILED
from inngest_app.skills.flow import FINISH_TIMEOUT


def _run_id(terminal: TerminalEvent) -> uuid.UUID | None:
    """The skill run named by the ended execution's triggering event."""
    original = terminal.event.get("data") or {}
    try:
        return uuid.UUID(str(original.get("runId")))
    except ValueError:
        return None


async def _send_failed(ctx: inngest.Context, run_id: uuid.UUID, error: str) -> None:
    await ctx.step.send_event(
        "send-failed",
        inngest.Event(
            name=SKILL_EXECUTE_FAILED,
            data={"runId": str(run_id), "error": error, "retryable": False},
            id=f"skill-failed-{run_id}",
        ),
    )


async def failed_handler(ctx: inngest.Context, *, repo: SkillsRepo) -> dict[str, Any]:
    """After the last retry: the run is failed with the error and `skill.execute.failed` sent.
    The run id is in the original event, inside the failure event."""
    failure = parse_event(TerminalEvent, ctx.event.data, event=ctx.event.name)
    run_id = _run_id(failure)
    if run_id is None:
        return {"skipped": "the failed run named no valid runId"}
    error = failure.error
    message = (error and (error.message or error.name)) or "unknown error"

    async def mark_failed() -> dict[str, Any] | None:
        run = await repo.fail_run(run_id, message)
        return None if run is None else run.model_dump(mode="json")

    run = await ctx.step.run("mark-failed", mark_failed)
    if run is None or run["status"] != "failed":
        return {"skipped": "no such run" if run is None else f"run is {run['status']}"}
    await _send_failed(ctx, run_id, run["error"] or message)
    return {"runId": str(run_id), "status": "failed"}


def cancel_reasons(start_after: dt.timedelta) -> tuple[str, str]:
    """The run's error when Inngest cancelled its execution before it started / while running."""
    return (
        f"cancelled by Inngest before it started: not started within "
        f"{int(start_after.total_seconds())} s (timeouts.start), or cancelled by hand",
        f"cancelled by Inngest while running: not finished within "
        f"{int(FINISH_TIMEOUT.total_seconds())} s (timeouts.finish), or cancelled by hand",
    )


async def cancelled_handler(
    ctx: inngest.Context, *, repo: SkillsRepo, start_after: dt.timedelta
) -> dict[str, Any]:
    """A start or finish timeout (or a cancel by hand) ends the run at once, with why."""
    cancelled = parse_event(TerminalEvent, ctx.event.data, event=FUNCTION_CANCELLED)
    run_id = _run_id(cancelled)
    if run_id is None:
        return {"skipped": "the cancelled run named no valid runId"}
    before, running = cancel_reasons(start_after)

    async def mark_cancelled() -> dict[str, Any] | None:
        marked = await repo.run_cancelled(run_id, cancelled.run_id, before=before, running=running)
        return None if marked is None else marked.model_dump(mode="json")

    marked = await ctx.step.run("mark-cancelled", mark_cancelled)
    if marked is None:
        return {"skipped": "no such run"}
    run = marked["run"]
    if not marked["changed"]:
        return {"skipped": f"run is {run['status']} (not this execution's)"}
    await _send_failed(ctx, run_id, run["error"])
    return {"runId": str(run_id), "status": "failed", "error": run["error"]}
