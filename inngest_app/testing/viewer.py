"""The run viewer: `GET /` on the offline executor, the parts of the Dev Server's page a
developer uses most (events and the runs they started, filtered and paged; a run's steps and
timeline; sending an event; rerun, cancel and invoke).

The page (`static/viewer.*`, with the stylesheet it shares with the usage dashboard,
`inngest_app/pages/pages.css`) polls two read-only JSON endpoints; it sends events
through the executor's own event API (`POST /e/{key}`), so what it sends is handled exactly like
an event the app sends. Rerun, cancel and invoke are `viewer_actions.py`. It says plainly that
this is the project's offline executor.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from inngest_app.pages import SECURITY_HEADERS, asset_route, page_routes
from inngest_app.testing import viewer_actions
from inngest_app.testing.runs import RESERVED_PREFIX, Run, StepRecord
from inngest_app.testing.surface import Executor
from inngest_app.testing.timeline import timeline

STATIC = "inngest_app.testing.static"  # the page's own files
LATEST_EVENTS = 100  # a page of events
MAX_PAGE = 500
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


class StateQuery(BaseModel):
    """`GET /viewer/api/state`: filters (all optional, combined) and a page of events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    function: str | None = Field(None, min_length=1, max_length=200)  # composite or bare id
    status: (
        Literal["queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled"]
        | Literal["skipped"]
        | None
    ) = None
    event: str | None = Field(None, min_length=1, max_length=200)  # part of the event name
    id: str | None = Field(None, min_length=1, max_length=200)  # an event's or a run's id
    internal: bool = False  # system events that started no run too
    before: int | None = Field(None, ge=0)  # events older than this position (the next page)
    limit: int = Field(LATEST_EVENTS, ge=1, le=MAX_PAGE)


def bad_request(exc: ValidationError) -> JSONResponse:
    """The first validation error as 400 JSON naming its field."""
    error = exc.errors(include_url=False)[0]
    field = str(error["loc"][0]) if error["loc"] else None
    body = {"error": f"{field}: {error['msg']}", "code": "invalid_parameter", "field": field}
    return JSONResponse(body, 400, headers=SECURITY_HEADERS)


def routes(executor: Executor) -> list[BaseRoute]:
    """`GET /` (the page, its script and styles under `/viewer/`) and its JSON endpoints."""

    async def state(request: Request) -> JSONResponse:
        try:
            params = {k: v for k, v in request.query_params.items() if v != ""}
            query = StateQuery.model_validate(params)
        except ValidationError as exc:
            return bad_request(exc)
        return JSONResponse(viewer_state(executor, query), headers=SECURITY_HEADERS)

    async def run(request: Request) -> JSONResponse:
        try:
            found = executor.run(request.path_params["run_id"])
        except KeyError:
            return JSONResponse(
                {"error": "no such run", "code": "not_found"}, 404, headers=SECURITY_HEADERS
            )
        return JSONResponse(run_detail(found, now=executor.clock.now()), headers=SECURITY_HEADERS)

    return [
        *page_routes(
            "/",
            "viewer.html",
            "/viewer",
            ["viewer.js", "viewer-run.js", "viewer.css"],
            package=STATIC,
        ),
        asset_route("/viewer/pages.css", "pages.css"),
        Route("/viewer/api/state", state, methods=["GET"]),
        Route("/viewer/api/runs/{run_id}", run, methods=["GET"]),
        *viewer_actions.routes(executor),
    ]


def _run_matches(run: Run, query: StateQuery) -> bool:
    fn = query.function
    if fn is not None and run.function_id != fn and not run.function_id.endswith(f"-{fn}"):
        return False
    return query.status is None or run.status == query.status


def viewer_state(executor: Executor, query: StateQuery | None = None) -> dict[str, Any]:
    """The executor at a glance: registered functions, run counts by status, and a page of
    events (newest first) with their runs, filtered; `nextBefore` pages on."""
    query = query or StateQuery()
    now = executor.clock.now()
    by_event: dict[str, list[Run]] = {}
    live = False
    counts: dict[str, int] = {}
    for item in executor.runs():
        by_event.setdefault(str(item.event.get("id")), []).append(item)
        live = live or not item.done
        counts[item.status] = counts.get(item.status, 0) + 1
    runs_filter = query.function is not None or query.status is not None
    events: list[dict[str, Any]] = []
    next_before = None
    position = (
        len(executor.events) if query.before is None else min(query.before, len(executor.events))
    )
    while position > 0:  # bounded by the events the executor holds
        position -= 1
        event = executor.events[position]
        event_id, name = str(event["id"]), str(event["name"])
        runs = by_event.get(event_id, [])
        internal = name.startswith(RESERVED_PREFIX)
        if internal and not runs and not query.internal:
            continue
        if query.event is not None and query.event.lower() not in name.lower():
            continue
        if (
            query.id is not None
            and query.id != event_id
            and all(r.run_id != query.id for r in runs)
        ):
            continue
        shown = [r for r in runs if _run_matches(r, query)]
        if runs_filter and not shown:
            continue
        if len(events) == query.limit:
            next_before = position + 1
            break
        events.append(
            {
                "id": event["id"],
                "name": name,
                "ts": event.get("ts"),
                "data": event.get("data"),
                "internal": internal,
                "position": position,
                "runs": [run_summary(r, now=now) for r in shown],
            }
        )
    return {
        "executor": {
            "kind": "inngest-app offline executor",
            "devServerCommand": dev_server_command(executor),
            "eventKeyRequired": executor.event_key is not None,
            "signed": executor.signing_key is not None,
        },
        "functions": [_function(fn_id, config) for fn_id, config in executor.functions.items()],
        "events": events,
        "nextBefore": next_before,
        "counts": counts,
        "live": live,
    }


def dev_server_command(executor: Executor) -> str:
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
        "timeline": timeline(run, now=now),
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
