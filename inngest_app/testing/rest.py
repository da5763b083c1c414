"""The slice of Inngest's REST API the executor serves: a run's status, an event's runs.

    GET /v1/runs/{run_id}            {"data": {run}}    404 if unknown
    GET /v1/events/{event_id}/runs   {"data": [{run}, ...]}

As on the platform, a cloud-mode executor (one with a signing key) wants the key as a bearer
token (`Authorization: Bearer signkey-…`; the hashed form the SDK sends is accepted too) and
answers 401 otherwise; without a key, as the Dev Server, it asks for nothing. A run's `status`
is one of Running, Completed, Failed, Cancelled (and Skipped: flow control started nothing).
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inngest_app.testing.runs import Run
from inngest_app.testing.signing import accepted_authorizations
from inngest_app.testing.surface import Executor

_STATUS = {
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "skipped": "Skipped",
}


def rest_run(run: Run) -> dict[str, Any]:
    """A run as the REST API shows it."""
    return {
        "run_id": run.run_id,
        "function_id": run.function_id,
        "event_id": run.event.get("id"),
        "status": _STATUS.get(run.status, "Running"),
        "output": run.output if run.status == "completed" else run.error,
        "run_started_at": run.started_at,
        "ended_at": run.ended_at,
        # why flow control delayed, skipped or cancelled it: throttled, rate_limited,
        # debounced, batched, timed_out, singleton, idempotency, concurrency_limited
        "reasons": [reason.as_json() for reason in run.reasons],
    }


def authorized(signing_key: str | None, header: str | None) -> bool:
    """Whether `Authorization: header` proves `signing_key` (anything goes without a key)."""
    if signing_key is None:
        return True
    if header is None:
        return False
    accepted = {f"Bearer {signing_key}", *accepted_authorizations(signing_key)}
    return any(hmac.compare_digest(header.encode(), a.encode()) for a in accepted)


def routes(executor: Executor) -> list[Route]:
    """The REST routes of `executor`."""

    def refused(request: Request) -> JSONResponse | None:
        if authorized(executor.signing_key, request.headers.get("authorization")):
            return None
        return JSONResponse({"error": "unauthorized", "status": 401}, status_code=401)

    async def event_runs(request: Request) -> JSONResponse:
        if (answer := refused(request)) is not None:
            return answer
        event_id = request.path_params["event_id"]
        runs = [r for r in executor.runs() if any(e.get("id") == event_id for e in r.events)]
        return JSONResponse({"data": [rest_run(r) for r in runs]})

    async def one_run(request: Request) -> JSONResponse:
        if (answer := refused(request)) is not None:
            return answer
        try:
            run = executor.run(request.path_params["run_id"])
        except KeyError:
            return JSONResponse({"error": "run not found", "status": 404}, status_code=404)
        return JSONResponse({"data": rest_run(run)})

    return [
        Route("/v1/events/{event_id}/runs", event_runs, methods=["GET"]),
        Route("/v1/runs/{run_id}", one_run, methods=["GET"]),
    ]
