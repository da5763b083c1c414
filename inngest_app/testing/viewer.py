"""The run viewer: `GET /` on the offline executor, the parts of the Dev Server's page a
developer uses most (latest events, the runs they started, a run's steps, sending an event).

The page (`inngest_app/pages/viewer.*`) polls two read-only JSON endpoints; it sends events
through the executor's own event API (`POST /e/{key}`), so what it sends is handled exactly like
an event the app sends. It says plainly that this is the project's offline executor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from inngest_app.pages import SECURITY_HEADERS, page_routes
from inngest_app.testing.runs import RESERVED_PREFIX, Run, StepRecord

if TYPE_CHECKING:
    from inngest_app.testing.executor import TestExecutor

LATEST_EVENTS = 100
DEV_SERVER_COMMAND = "npx inngest-cli@latest dev -u http://localhost:8000/api/inngest"
# what the page calls each thing a run reports (planned steps are shown when they run)
STEP_KINDS = {
    "StepRun": "step.run",
    "StepError": "error",
    "StepFailed": "failed",
    "Sleep": "sleep",
    "WaitForEvent": "wait for event",
    "InvokeFunction": "invoke",
    "FunctionError": "function error",
    "Refused": "refused",
    "LimitExceeded": "platform limit",
}


def routes(executor: TestExecutor) -> list[BaseRoute]:
    """`GET /` (the page, its script and styles under `/viewer/`) and its JSON endpoints."""

    async def state(_: Request) -> JSONResponse:
        return JSONResponse(viewer_state(executor), headers=SECURITY_HEADERS)

    async def run(request: Request) -> JSONResponse:
        try:
            found = executor.run(request.path_params["run_id"])
        except KeyError:
            return JSONResponse(
                {"error": "no such run", "code": "not_found"}, 404, headers=SECURITY_HEADERS
            )
        return JSONResponse(run_detail(found, now=executor.clock.now()), headers=SECURITY_HEADERS)

    return [
        *page_routes("/", "viewer.html", "/viewer", ["viewer.js", "viewer.css", "pages.css"]),
        Route("/viewer/api/state", state, methods=["GET"]),
        Route("/viewer/api/runs/{run_id}", run, methods=["GET"]),
    ]


def viewer_state(executor: TestExecutor) -> dict[str, Any]:
    """The executor at a glance: registered functions, and the latest events with their runs."""
    now = executor.clock.now()
    by_event: dict[str, list[Run]] = {}
    live = False
    for item in executor.runs():
        by_event.setdefault(str(item.event.get("id")), []).append(item)
        live = live or not item.done
    events = [
        {
            "id": event["id"],
            "name": event["name"],
            "ts": event.get("ts"),
            "data": event.get("data"),
            "internal": str(event["name"]).startswith(RESERVED_PREFIX),
            "runs": [run_summary(r, now=now) for r in by_event.get(str(event["id"]), [])],
        }
        for event in reversed(executor.events[-LATEST_EVENTS:])
    ]
    return {
        "executor": {
            "kind": "inngest-app offline executor",
            "devServerCommand": dev_server_command(executor),
            "eventKeyRequired": executor.event_key is not None,
            "signed": executor.signing_key is not None,
        },
        "functions": [_function(fn_id, config) for fn_id, config in executor.functions.items()],
        "events": events,
        "live": live,
    }


def dev_server_command(executor: TestExecutor) -> str:
    """The command that starts the real Dev Server for the synced app (its serve URL, taken
    from a registered function's runtime URL), or for `make dev`'s default URL."""
    for fn_id in executor.functions:
        url = executor.registry.url(fn_id)
        if url:
            return f"npx inngest-cli@latest dev -u {url.split('?', 1)[0]}"
    return DEV_SERVER_COMMAND


def run_summary(run: Run, *, now: float) -> dict[str, Any]:
    """A run's status line: status, attempts (of its most retried unit) and duration."""
    end = run.ended_at if run.ended_at is not None else now
    return {
        "runId": run.run_id,
        "functionId": run.function_id,
        "status": run.status,
        "attempts": 1 + max(run.attempts.values(), default=0),
        "retries": run.retries,
        "startedAt": run.started_at,
        "endedAt": run.ended_at,
        "durationMs": round(max(0.0, end - run.started_at) * 1000),
        "done": run.done,
    }


def run_detail(run: Run, *, now: float) -> dict[str, Any]:
    """A run with its trigger event, output or error, and its steps in the order reported."""
    return {
        **run_summary(run, now=now),
        "event": {"id": run.event.get("id"), "name": run.event.get("name")},
        "output": run.output,
        "error": run.error,
        "steps": [_step(run, record) for record in run.step_log if record.op in STEP_KINDS],
    }


def _step(run: Run, record: StepRecord) -> dict[str, Any]:
    step: dict[str, Any] = {
        "name": record.name or record.step_id or "(function body)",
        "kind": STEP_KINDS[record.op],
        "op": record.op,
        "attempt": record.attempt + 1,
        "ok": record.ok,
        "error": record.error,
    }
    if record.op not in ("StepRun", "Sleep", "WaitForEvent", "InvokeFunction"):
        return step
    if record.step_id not in run.steps:
        step["pending"] = True
        return step
    memo = run.steps[record.step_id]
    if record.op == "WaitForEvent":  # the event that came, or None when the wait timed out
        step["output" if memo is not None else "note"] = memo if memo is not None else "timed out"
    elif record.op != "Sleep" and isinstance(memo, dict):  # {"data": ...} or {"error": ...}
        if memo.get("error") is not None:
            step["error"], step["ok"] = memo["error"], False
        else:
            step["output"] = memo.get("data")
    return step


def _function(fn_id: str, config: dict[str, Any]) -> dict[str, Any]:
    triggers = [
        str(t.get("event") or f"cron {t.get('cron')}") for t in config.get("triggers") or []
    ]
    return {"id": fn_id, "name": config.get("name") or fn_id, "triggers": triggers}
