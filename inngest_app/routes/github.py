"""The repositories API: track a repository, read its capture status, ask for a sync.

Callers authenticate as in the monitoring API (Supabase JWT or the admin key); tracked public
repositories are shared, so any authenticated caller may track and read them. A repository
GitHub reports private is visible only to admins and to the owners of a workspace an admin added
it to: anyone else gets exactly what an unknown repository gets. Owner and name are checked
against GitHub's rules before anything else (they end up in GitHub URLs), and compared
case-insensitively.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import inngest
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from inngest_app.auth import Caller
from inngest_app.github.events import (
    DISCOVER,
    REPOSITORY_SYNC_ENHANCED,
    RepositoryRef,
    repository_data,
)
from inngest_app.github.plan import NAME_RULE, OWNER_RULE, capture_view, valid_name, valid_owner
from inngest_app.repos.github import GithubRepo, Repository
from inngest_app.routes.api import ApiRoute, Method, Operation, api_route, body_of
from inngest_app.serve import error_response
from inngest_app.services import Services

logger = logging.getLogger(__name__)

Handler = Callable[[Request, GithubRepo, Caller], Awaitable[Response]]


class RepositoryPath(BaseModel):
    """`{owner}/{name}` of a repository, by GitHub's rules (they go into GitHub URLs)."""

    owner: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,39}$"), OWNER_RULE]
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$"), NAME_RULE]


class TrackRequest(RepositoryPath):
    """Body of `POST /api/repositories`."""

    model_config = ConfigDict(extra="ignore")


def present(repository: Repository) -> dict[str, Any]:
    """The public view of a repository row (counts added when the row has them)."""
    view = repository.model_dump(mode="json", exclude={"sync_state"})
    view["full_name"] = repository.full_name
    return view


def routes(services: Services) -> list[BaseRoute]:
    """The repositories API routes."""

    def guarded(method: Method, path: str, handler: Handler, op: Operation) -> ApiRoute:
        async def with_repo(request: Request, caller: Caller) -> Response:
            return await handler(request, GithubRepo(services.transport), caller)

        return api_route(services, method, path, with_repo, op)

    def path_ref(request: Request) -> RepositoryRef | Response:
        owner, name = request.path_params["owner"], request.path_params["name"]
        if not valid_owner(owner) or not valid_name(name):
            return error_response(400, "invalid_repository", "not a GitHub owner/name")
        return RepositoryRef(owner=owner, name=name)

    async def visible(repo: GithubRepo, found: Repository | None, caller: Caller) -> bool:
        if found is None:
            return False
        if not found.is_private or caller.is_admin:
            return True
        if caller.user_id is None:
            return False
        return await repo.visible_to(owner=found.owner, name=found.name, user_id=caller.user_id)

    async def send(name: str, data: dict[str, Any]) -> str | None:
        try:
            [event_id] = await services.inngest.send(inngest.Event(name=name, data=data))
        except Exception as exc:  # the event API is down: nothing was written
            logger.error("could not send %s: %s", name, exc)
            return None
        return event_id

    async def track(request: Request, repo: GithubRepo, caller: Caller) -> Response:
        body = body_of(request, TrackRequest)
        ref = RepositoryRef(owner=body.owner, name=body.name)
        known = await repo.find(owner=ref.owner, name=ref.name)
        if not await visible(repo, known, caller):
            known = None  # a private repository reads as unknown (discovery finds it known)
        event_id = await send(DISCOVER, {"repository": repository_data(ref.owner, ref.name)})
        if event_id is None:
            return error_response(503, "dispatch_failed", "could not reach Inngest; try again")
        return JSONResponse(
            {
                "repository": present(known) if known else None,
                "owner": ref.owner,
                "name": ref.name,
                "status": "known" if known else "discovering",
                "eventId": event_id,
            },
            status_code=202,
        )

    async def status(request: Request, repo: GithubRepo, caller: Caller) -> Response:
        ref = path_ref(request)
        if isinstance(ref, Response):
            return ref
        found = await repo.status(owner=ref.owner, name=ref.name)
        if found is None or not await visible(repo, found, caller):
            return error_response(404, "not_found", f"{ref.full_name} is not tracked")
        view = present(found)
        view["sync"] = {
            "status": found.status,
            "last_synced_at": view["last_synced_at"],
            "watermark": view["sync_watermark"],
            "last_reason": found.last_sync_reason,
            "last_error": found.last_error,
            "recheck_at": view["recheck_at"],
        }
        view["capture"] = capture_view(found)
        view.pop("sync_state", None)
        return JSONResponse(view)

    async def sync(request: Request, repo: GithubRepo, caller: Caller) -> Response:
        ref = path_ref(request)
        if isinstance(ref, Response):
            return ref
        found = await repo.find(owner=ref.owner, name=ref.name)
        if found is None or not await visible(repo, found, caller):
            return error_response(404, "not_found", f"{ref.full_name} is not tracked")
        if found.status == "missing":
            return error_response(
                409, "repository_missing", f"{ref.full_name} is missing on GitHub"
            )
        data = {
            "repository": repository_data(found.owner, found.name, found.github_id),
            "reason": "manual",
        }
        # the enhanced sync: pull requests with their reviews and comments (what metrics read)
        event_id = await send(REPOSITORY_SYNC_ENHANCED, data)
        if event_id is None:
            return error_response(503, "dispatch_failed", "could not reach Inngest; try again")
        return JSONResponse(
            {"repository": present(found), "eventId": event_id, "requestedAt": time.time()},
            status_code=202,
        )

    prefix, tag, bad = "/api/repositories", "repositories", "invalid_repository"
    by_name = {"params": RepositoryPath, "params_status": 400, "params_code": bad}
    return [
        guarded(
            "POST",
            prefix,
            track,
            Operation(
                "Track a repository",
                tag,
                ok=202,
                body=TrackRequest,
                body_code=bad,
                errors={503: "Inngest unreachable: try again"},
            ),
        ),
        guarded(
            "GET",
            f"{prefix}/{{owner}}/{{name}}",
            status,
            Operation("A repository's capture status", tag, **by_name),  # type: ignore[arg-type]
        ),
        guarded(
            "POST",
            f"{prefix}/{{owner}}/{{name}}/sync",
            sync,
            Operation(
                "Ask for a manual sync",
                tag,
                ok=202,
                errors={409: "missing on GitHub"},
                **by_name,  # type: ignore[arg-type]
            ),
        ),
    ]
