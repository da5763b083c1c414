"""The skills API: start a run, read a run, read an output, give feedback on an output.

Callers authenticate as in the other APIs (Supabase JWT or the admin key); a user sees only their
own runs and outputs (anyone else's is a 404, so ids leak nothing). A user past
`SKILL_RUNS_PER_HOUR` runs in the last hour gets 429 with `Retry-After`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import inngest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from inngest_app.auth import Caller
from inngest_app.repos.skills import Output, SkillRun, SkillsRepo
from inngest_app.routes.api import ApiRoute, Method, Operation, api_route, body_of, path_of
from inngest_app.routes.skill_models import (
    FeedbackCreated,
    FeedbackRequest,
    OutputPath,
    OutputView,
    RunAccepted,
    RunPath,
    RunRequest,
    RunView,
)
from inngest_app.serve import error_response
from inngest_app.services import Services
from inngest_app.skills.events import FEEDBACK_PROCESS, execute_event
from inngest_app.skills.runtime import SkillsRuntime, skills_runtime
from inngest_app.skills.storage import StorageError

logger = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BODY_BYTES = 64 * 1024

Handler = Callable[[Request, Caller, SkillsRepo], Awaitable[Response]]


def present_run(run: SkillRun) -> dict[str, Any]:
    """The public view of a run."""
    return {
        "runId": str(run.id),
        "userId": run.user_id,
        "skillName": run.skill_name,
        "clientId": str(run.client_id) if run.client_id else None,
        "status": run.status,
        "tokensIn": run.tokens_in,
        "tokensOut": run.tokens_out,
        "error": run.error,
        "outputId": str(run.output_id) if run.output_id else None,
        "createdAt": run.created_at.isoformat(),
        "startedAt": run.started_at.isoformat() if run.started_at else None,
        "completedAt": run.completed_at.isoformat() if run.completed_at else None,
    }


def present_output(output: Output, content: str | None) -> dict[str, Any]:
    """The public view of an output, with its content."""
    return {
        "id": str(output.id),
        "runId": str(output.run_id),
        "skillName": output.skill_name,
        "title": output.title,
        "format": output.format,
        "preview": output.preview,
        "sizeBytes": output.size_bytes,
        "storageKey": output.storage_key,
        "createdAt": output.created_at.isoformat(),
        "content": content,
    }


def routes(services: Services) -> list[BaseRoute]:
    """The skills API routes."""
    runtime: SkillsRuntime = skills_runtime(services)

    async def send(event: inngest.Event) -> bool:
        try:
            await services.inngest.send(event)
        except Exception as exc:  # the run stays queued: the stuck-run monitor sends it again
            logger.error("could not send %s: %s", event.name, exc)
            return False
        return True

    async def create_run(request: Request, caller: Caller, repo: SkillsRepo) -> Response:
        ask = body_of(request, RunRequest)
        if len(ask.message.encode()) > MAX_MESSAGE_BYTES:
            return error_response(
                413,
                "message_too_large",
                f"message: over {MAX_MESSAGE_BYTES} bytes",
                field="message",
            )
        user_id = caller.user_id
        if ask.user_id is not None:
            if not caller.is_admin and ask.user_id != caller.user_id:
                return error_response(403, "forbidden", "you may only start your own runs")
            user_id = ask.user_id
        if user_id is None:
            return error_response(
                400, "invalid_body", "userId: required for admin callers", field="userId"
            )
        if runtime.active_skill(ask.skill_name) is None:
            return error_response(404, "unknown_skill", f"skillName: no skill {ask.skill_name!r}")
        await runtime.ensure_synced()
        created = await repo.create_run(
            user_id=user_id,
            skill_name=ask.skill_name,
            client_id=ask.client_id,
            message=ask.message,
            options=ask.options,
            max_per_hour=services.settings.skill_runs_per_hour,
        )
        if created.code == "rate_limited":
            retry_after = created.retry_after_s or 60
            response = error_response(
                429,
                "rate_limited",
                f"more than {services.settings.skill_runs_per_hour} runs in "
                f"the last hour; retry in {retry_after} s",
            )
            response.headers["Retry-After"] = str(retry_after)
            return response
        if created.code == "unknown_client":
            return error_response(404, "unknown_client", "clientId: no such client")
        if created.run is None:
            return error_response(404, "unknown_skill", f"skillName: no skill {ask.skill_name!r}")
        run = created.run
        await send(execute_event(run))
        return JSONResponse({"runId": str(run.id), "status": run.status}, status_code=202)

    async def get_run(request: Request, caller: Caller, repo: SkillsRepo) -> Response:
        run = await repo.get_run(path_of(request, RunPath).run_id)
        if run is None or not (caller.is_admin or caller.user_id == run.user_id):
            return error_response(404, "not_found", "no such run")
        return JSONResponse(present_run(run))

    async def own_output(request: Request, caller: Caller, repo: SkillsRepo) -> Output | None:
        output = await repo.get_output(path_of(request, OutputPath).output_id)
        if output is None or not (caller.is_admin or caller.user_id == output.user_id):
            return None
        return output

    async def get_output(request: Request, caller: Caller, repo: SkillsRepo) -> Response:
        output = await own_output(request, caller, repo)
        if output is None:
            return error_response(404, "not_found", "no such output")
        body = await runtime.storage.get(output.storage_key)
        content = None if body is None else body.decode("utf-8", errors="replace")
        return JSONResponse(present_output(output, content))

    async def give_feedback(request: Request, caller: Caller, repo: SkillsRepo) -> Response:
        output = await own_output(request, caller, repo)
        if output is None:
            return error_response(404, "not_found", "no such output")
        feedback = body_of(request, FeedbackRequest)
        stored = await repo.create_feedback(
            output_id=output.id,
            user_id=caller.user_id or output.user_id,
            overall=feedback.overall,
            accuracy=feedback.accuracy,
            quality=feedback.quality,
            issues=[issue[:200] for issue in feedback.issues],
            comment=feedback.comment,
        )
        if stored is None:
            return error_response(404, "not_found", "no such output")
        await send(
            inngest.Event(
                name=FEEDBACK_PROCESS,
                data={"feedbackId": str(stored.id), "skillName": stored.skill_name},
                # a new score replaces the old under the same id: a new event each time
                id=f"feedback-{stored.id}-{(stored.updated_at or stored.created_at).timestamp()}",
            )
        )
        return JSONResponse({"feedbackId": str(stored.id)}, status_code=201)

    def declare(method: Method, path: str, handler: Handler, op: Operation) -> ApiRoute:
        async def with_repo(request: Request, caller: Caller) -> Response:
            return await handler(request, caller, SkillsRepo(services.transport))

        return api_route(services, method, path, with_repo, op, unavailable=(StorageError,))

    tag = "skills"
    return [
        declare(
            "POST",
            "/api/runs",
            create_run,
            Operation(
                "Run a skill",
                tag,
                ok=202,
                response=RunAccepted,
                body=RunRequest,
                max_body=MAX_BODY_BYTES,
                links={"read": ("GET", "/api/runs/{run_id}", {"run_id": "$response.body#/runId"})},
                errors={404: "unknown skill or client", 429: "past the hourly allowance"},
            ),
        ),
        declare(
            "GET",
            "/api/runs/{run_id}",
            get_run,
            Operation(
                "Read a run",
                tag,
                response=RunView,
                params=RunPath,
                links={
                    name: (method, path, {"output_id": "$response.body#/outputId"})
                    for name, method, path in (
                        ("output", "GET", "/api/outputs/{output_id}"),
                        ("feedback", "POST", "/api/outputs/{output_id}/feedback"),
                    )
                },
            ),
        ),
        declare(
            "GET",
            "/api/outputs/{output_id}",
            get_output,
            Operation("Read an output", tag, response=OutputView, params=OutputPath),
        ),
        declare(
            "POST",
            "/api/outputs/{output_id}/feedback",
            give_feedback,
            Operation(
                "Give feedback on an output",
                tag,
                ok=201,
                response=FeedbackCreated,
                params=OutputPath,
                body=FeedbackRequest,
                body_code="invalid_feedback",
                max_body=MAX_BODY_BYTES,
            ),
        ),
    ]
