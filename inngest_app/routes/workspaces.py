"""The workspace API: create and read workspaces, add and remove repositories, read metrics.

Owners only: a workspace of anyone else is a 404 (ids leak nothing); admins see every one. A
membership change is written first and then announced with `workspace/repository-change`; if
the event cannot be sent the change is undone and the answer is 503, so a retry repeats both.
Users are capped (settings `workspaces_per_user_max`, `workspace_repositories_max`); only admins
mark a repository priority (hourly syncs spend the shared GitHub budget), and only an admin's
addition shares a private repository with a workspace. Metrics windows end at the last computed
day, yesterday (UTC): today is not computed until it is over.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import inngest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from inngest_app.auth import Caller
from inngest_app.github.plan import valid_name, valid_owner
from inngest_app.repos.workspaces import MembershipChange, Workspace, WorkspacesRepo
from inngest_app.routes.api import Operation, api_route, body_of, query_of
from inngest_app.routes.workspace_models import (
    UNCAPPED,
    MemberOptions,
    MemberPath,
    MetricsQuery,
    NewWorkspace,
    WorkspacePath,
    present,
    slugify,
)
from inngest_app.serve import error_response
from inngest_app.services import Services
from inngest_app.workspaces.events import REPOSITORY_CHANGE
from inngest_app.workspaces.metrics import summarize

logger = logging.getLogger(__name__)


def routes(services: Services) -> list[BaseRoute]:
    """The workspace API routes."""

    def repo() -> WorkspacesRepo:
        return WorkspacesRepo(services.transport)

    async def own(request: Request, caller: Caller) -> Workspace | Response:
        try:
            workspace_id = uuid.UUID(request.path_params["workspace_id"])
        except ValueError:
            return error_response(404, "not_found", "no such workspace")
        workspace = await repo().get(workspace_id)
        if workspace is None or not (caller.is_admin or caller.user_id == workspace.owner_id):
            return error_response(404, "not_found", "no such workspace")
        return workspace

    def member_name(request: Request) -> tuple[str, str] | Response:
        owner, name = request.path_params["owner"], request.path_params["name"]
        if not valid_owner(owner) or not valid_name(name):
            return error_response(400, "invalid_repository", "not a GitHub owner/name")
        return owner, name

    async def create(request: Request, caller: Caller) -> Response:
        new = body_of(request, NewWorkspace)
        if caller.is_admin and new.owner_id is None:
            return error_response(
                400, "invalid_body", "ownerId: required for admin callers", field="ownerId"
            )
        if not caller.is_admin and new.owner_id not in (None, caller.user_id):
            return error_response(403, "forbidden", "you may only create your own workspaces")
        owner_id = new.owner_id or caller.user_id
        assert owner_id is not None  # noqa: S101 (a user caller always has an id)
        cap = services.settings.workspaces_per_user_max
        workspace = await repo().create(
            owner_id=owner_id,
            name=new.name,
            slug=new.slug or slugify(new.name),
            retention_days=new.data_retention_days,
            max_per_owner=UNCAPPED if caller.is_admin else cap,
        )
        if workspace == "limit_reached":
            return error_response(409, "workspace_limit", f"you may own at most {cap} workspaces")
        if workspace == "slug_taken":
            return error_response(409, "slug_taken", "you already have a workspace with this slug")
        return JSONResponse(present(workspace), status_code=201)

    async def show(request: Request, caller: Caller) -> Response:
        workspace = await own(request, caller)
        return workspace if isinstance(workspace, Response) else JSONResponse(present(workspace))

    async def announce(workspace: Workspace, change: MembershipChange, action: str) -> None:
        data = {
            "workspaceId": str(workspace.id),
            "repositoryId": change.repository_id,
            "action": action,
            "repository": {"owner": change.owner, "name": change.name},
        }
        await services.inngest.send(inngest.Event(name=REPOSITORY_CHANGE, data=data))

    async def add(request: Request, caller: Caller) -> Response:
        workspace = await own(request, caller)
        if isinstance(workspace, Response):
            return workspace
        named = member_name(request)
        if isinstance(named, Response):
            return named
        options = body_of(request, MemberOptions)
        owner, name = named
        before = workspace.member(owner, name)
        if options.is_priority and not caller.is_admin:
            return error_response(
                403,
                "forbidden",
                "isPriority: only admins mark a repository priority",
                field="isPriority",
            )
        # a user's re-addition keeps what an admin set
        is_priority = (
            options.is_priority if caller.is_admin else bool(before and before.is_priority)
        )
        cap = services.settings.workspace_repositories_max
        change = await repo().add_repository(
            workspace.id,
            owner=owner,
            name=name,
            is_priority=is_priority,
            by_admin=caller.is_admin,
            max_repositories=UNCAPPED if caller.is_admin else cap,
        )
        if change.limit_reached:
            return error_response(
                409, "repository_limit", f"a workspace holds at most {cap} repositories"
            )
        try:
            await announce(workspace, change, "added")
        except Exception as exc:  # undo, so the caller's retry repeats write and event
            logger.error("could not send %s: %s", REPOSITORY_CHANGE, exc)
            if before is None:
                await repo().remove_repository(workspace.id, owner=owner, name=name)
            else:
                await repo().add_repository(
                    workspace.id,
                    owner=owner,
                    name=name,
                    is_priority=before.is_priority,
                    by_admin=before.added_by_admin,
                )
            return error_response(503, "dispatch_failed", "could not reach Inngest; try again")
        status = 201 if change.added else 200
        return JSONResponse(
            {
                "workspaceId": str(workspace.id),
                "owner": change.owner,
                "name": change.name,
                "isPriority": change.is_priority,
                "added": change.added,
                "captured": change.captured,
            },
            status_code=status,
        )

    async def remove(request: Request, caller: Caller) -> Response:
        workspace = await own(request, caller)
        if isinstance(workspace, Response):
            return workspace
        named = member_name(request)
        if isinstance(named, Response):
            return named
        owner, name = named
        before = workspace.member(owner, name)
        if before is None:
            return error_response(404, "not_found", "that repository is not in the workspace")
        change = await repo().remove_repository(workspace.id, owner=owner, name=name)
        try:
            await announce(workspace, change, "removed")
        except Exception as exc:
            logger.error("could not send %s: %s", REPOSITORY_CHANGE, exc)
            await repo().add_repository(
                workspace.id,
                owner=before.owner,
                name=before.name,
                is_priority=before.is_priority,
                by_admin=before.added_by_admin,
            )
            return error_response(503, "dispatch_failed", "could not reach Inngest; try again")
        return JSONResponse({"workspaceId": str(workspace.id), "removed": True})

    async def metrics(request: Request, caller: Caller) -> Response:
        workspace = await own(request, caller)
        if isinstance(workspace, Response):
            return workspace
        days = query_of(request, MetricsQuery).days
        # the window ends at the last computed day: yesterday (today is computed after it ends)
        last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        rows = await repo().series(workspace.id, until=last, days=2 * days)
        cutoff = last - dt.timedelta(days=days)
        current = [row for row in rows if row.date > cutoff]
        previous = [row for row in rows if row.date <= cutoff]
        return JSONResponse(
            {
                "workspaceId": str(workspace.id),
                "from": (cutoff + dt.timedelta(days=1)).isoformat(),
                "until": last.isoformat(),
                "summary": summarize(current, previous, days=days),
                "series": [row.model_dump(mode="json") for row in current],
            }
        )

    prefix = "/api/workspaces"
    member = f"{prefix}/{{workspace_id}}/repositories/{{owner}}/{{name}}"
    tag, by_id, in_ws = "workspaces", WorkspacePath, MemberPath
    return [
        api_route(
            services,
            "POST",
            prefix,
            create,
            Operation(
                "Create a workspace",
                tag,
                ok=201,
                body=NewWorkspace,
                errors={409: "slug"},
                links={
                    name: (method, path, {"workspace_id": "$response.body#/id"})
                    for name, method, path in (
                        ("read", "GET", f"{prefix}/{{workspace_id}}"),
                        ("metrics", "GET", f"{prefix}/{{workspace_id}}/metrics"),
                        ("add", "POST", member),
                        ("remove", "DELETE", member),
                    )
                },
            ),
        ),
        api_route(
            services,
            "GET",
            f"{prefix}/{{workspace_id}}",
            show,
            Operation("Read a workspace with its repositories", tag, params=by_id),
        ),
        api_route(
            services,
            "POST",
            member,
            add,
            Operation(
                "Add a repository (or change its priority)",
                tag,
                ok=201,
                params=in_ws,
                body=MemberOptions,
                body_optional=True,
                errors={200: "already a member", 503: "Inngest unreachable: nothing changed"},
            ),
        ),
        api_route(
            services,
            "DELETE",
            member,
            remove,
            Operation("Remove a repository", tag, params=in_ws, errors={503: "nothing changed"}),
        ),
        api_route(
            services,
            "GET",
            f"{prefix}/{{workspace_id}}/metrics",
            metrics,
            Operation("Daily metrics and trend", tag, params=by_id, query=MetricsQuery),
        ),
    ]
