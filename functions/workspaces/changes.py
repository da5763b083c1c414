"""`handle-workspace-repository-change`: a repository added to or removed from a workspace; an
added repository never captured is discovered, and the workspace's metrics recomputed."""

from __future__ import annotations

from typing import Any

import inngest

from inngest_app.events import parse_event
from inngest_app.github.events import DISCOVER
from inngest_app.repos.workspaces import RepositoryState, WorkspacesRepo
from inngest_app.workspaces.events import RECOMPUTE, REPOSITORY_CHANGE, RepositoryChanged


async def repository_change_handler(
    ctx: inngest.Context, *, repo: WorkspacesRepo
) -> dict[str, Any]:
    """Discover an added repository not captured yet; always ask for a recomputation."""
    data = parse_event(RepositoryChanged, ctx.event.data, event=REPOSITORY_CHANGE)
    if data.repository is None and data.repository_id is None:
        raise inngest.NonRetriableError(
            f"invalid {REPOSITORY_CHANGE} payload: repositoryId or repository is required"
        )
    discovered = False
    if data.action == "added":
        ref = data.repository

        async def look_up() -> dict[str, Any]:
            state = await repo.repository_state(
                repository_id=None if ref else data.repository_id,
                owner=ref.owner if ref else None,
                name=ref.name if ref else None,
            )
            return state.model_dump(mode="json")

        state = RepositoryState.model_validate(await ctx.step.run("repository-state", look_up))
        if not state.captured:
            if state.owner is None or state.name is None:
                raise inngest.NonRetriableError(
                    f"repository {data.repository_id} is unknown and the event names no "
                    "repository to discover"
                )
            await ctx.step.send_event(
                "discover-repository",
                inngest.Event(
                    name=DISCOVER,
                    data={"repository": {"owner": state.owner, "name": state.name}},
                ),
            )
            discovered = True
    await ctx.step.send_event(
        "request-recompute",
        inngest.Event(name=RECOMPUTE, data={"workspaceId": str(data.workspace_id)}),
    )
    return {"workspaceId": str(data.workspace_id), "discovered": discovered}
