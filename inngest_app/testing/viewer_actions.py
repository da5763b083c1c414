"""The run viewer's buttons: rerun a run (a new run with the same event), cancel one (the
executor's cancel path, as a cancel-on event), and invoke a function with a JSON payload.

Each is a JSON `POST` (another content type is refused, so a cross-site form cannot trigger one),
with a bounded body; with an event key configured it must come as `X-Inngest-Event-Key`.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from inngest_app.pages import SECURITY_HEADERS
from inngest_app.testing.surface import Executor

MAX_BODY = 256 * 1024  # the event API's own per-event bound


class InvokeBody(BaseModel):
    """`POST /viewer/api/invoke`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    function_id: str = Field(alias="functionId", min_length=1, max_length=200)
    data: dict[str, Any] = Field(default_factory=dict)


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": message, "code": code, "field": field}, status, headers=SECURITY_HEADERS
    )


async def _refusal(request: Request, executor: Executor) -> JSONResponse | None:
    """Why this request may not act, or None."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _error(415, "unsupported_media_type", "send Content-Type: application/json")
    key = executor.event_key
    offered = request.headers.get("x-inngest-event-key", "")
    if key is not None and not hmac.compare_digest(offered.encode(), key.encode()):
        return _error(401, "unauthorized", "send the event key as X-Inngest-Event-Key")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        return _error(413, "too_large", f"the body may hold at most {MAX_BODY} bytes")
    return None


def routes(executor: Executor) -> list[BaseRoute]:
    """`POST /viewer/api/runs/{id}/rerun|cancel` and `POST /viewer/api/invoke`."""

    async def rerun(request: Request) -> JSONResponse:
        if (refused := await _refusal(request, executor)) is not None:
            return refused
        try:
            run = executor.rerun(request.path_params["run_id"])
        except KeyError:
            return _error(404, "not_found", "no such run", "run_id")
        return JSONResponse({"runId": run.run_id}, 201, headers=SECURITY_HEADERS)

    async def cancel(request: Request) -> JSONResponse:
        if (refused := await _refusal(request, executor)) is not None:
            return refused
        try:
            run = executor.cancel_run(request.path_params["run_id"])
        except KeyError:
            return _error(404, "not_found", "no such run", "run_id")
        return JSONResponse({"runId": run.run_id, "status": run.status}, headers=SECURITY_HEADERS)

    async def invoke(request: Request) -> JSONResponse:
        if (refused := await _refusal(request, executor)) is not None:
            return refused
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return _error(413, "too_large", f"the body may hold at most {MAX_BODY} bytes")
        try:
            body = InvokeBody.model_validate(json.loads(raw))
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            field = str(error["loc"][0]) if error["loc"] else None
            return _error(400, "invalid_body", f"{field}: {error['msg']}", field)
        except ValueError as exc:  # not JSON
            return _error(400, "invalid_body", f"not JSON: {exc}")
        try:
            run = executor.invoke(body.function_id, body.data)
        except KeyError:
            return _error(404, "not_found", "no such function", "functionId")
        body_out = {"runId": run.run_id, "eventId": run.event["id"]}
        return JSONResponse(body_out, 201, headers=SECURITY_HEADERS)

    return [
        Route("/viewer/api/runs/{run_id}/rerun", rerun, methods=["POST"]),
        Route("/viewer/api/runs/{run_id}/cancel", cancel, methods=["POST"]),
        Route("/viewer/api/invoke", invoke, methods=["POST"]),
    ]
