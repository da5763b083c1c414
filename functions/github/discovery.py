"""Discovery and sizing: a newly tracked repository is created, sized and fully captured (pull
requests, reviews and comments); sizes are refreshed in slices of the repository list."""

from __future__ import annotations

from typing import Any

import inngest

from functions.github.common import Deps, event_time, guarded, iso, sleep_if_needed
from inngest_app.events import parse_event
from inngest_app.github.client import GithubUnavailable, NotFound
from inngest_app.github.documents import REPOSITORY_METADATA, sizes_document
from inngest_app.github.events import (
    CLASSIFY_ALL,
    CLASSIFY_ONE,
    DISCOVER,
    REPOSITORY_SYNC_ENHANCED,
    ClassifyAllRequested,
    RepositoryRef,
    RepositoryRequested,
    repository_data,
)
from inngest_app.github.parse import gql_repository, size_class
from inngest_app.github.plan import back_off_until
from inngest_app.repos.github import SizeUpdate

SIZES_BATCH = 50  # repositories per classification query
SLICE_BATCHES = 20  # batches per run (1,000 repositories), then a fresh run goes on


async def _classify(deps: Deps, ref: RepositoryRef, at: Any) -> dict[str, Any]:
    async def work() -> dict[str, Any]:
        gh = deps.github()
        result = await gh.graphql(REPOSITORY_METADATA, {"owner": ref.owner, "name": ref.name})
        node = result.data.get("repository")
        if not isinstance(node, dict):
            raise NotFound(f"repository {ref.full_name} resolved to null")
        stored = await deps.repo().upsert_repository(gql_repository(node))
        return stored.model_dump(mode="json")

    return await guarded(deps, ref, work, at=at)


async def classify_single(ctx: inngest.Context, *, deps: Deps) -> dict[str, Any]:
    """`classify/single-repository`: size one repository (and re-check a missing one)."""
    data = parse_event(RepositoryRequested, ctx.event.data, event=CLASSIFY_ONE)
    stored = await ctx.step.run("classify", _classify, deps, data.repository, event_time(ctx))
    return {
        "repository": data.repository.full_name,
        "pr_count": stored["pr_count"],
        "size_class": stored["size_class"],
        "status": stored["status"],
    }


async def _classify_batch(deps: Deps, after: int, at: Any) -> dict[str, Any]:
    items = await deps.repo().page(after=after, limit=SIZES_BATCH)
    if not items:
        return {"classified": 0, "listed": 0, "last": after, "missing": [], "back_off_until": None}
    variables: dict[str, Any] = {}
    for i, item in enumerate(items):
        variables[f"o{i}"], variables[f"n{i}"] = item.owner, item.name

    async def work() -> dict[str, Any]:
        result = await deps.github().graphql(sizes_document(len(items)), variables, partial=True)
        missing_paths = {
            str((e.get("path") or [""])[0]) for e in result.errors if e.get("type") == "NOT_FOUND"
        }
        if result.errors and not missing_paths:
            raise GithubUnavailable(f"GraphQL errors: {result.errors[:3]}")
        sizes, missing = [], []
        for i, item in enumerate(items):
            node = result.data.get(f"r{i}")
            if not isinstance(node, dict):
                if f"r{i}" in missing_paths:
                    await deps.repo().mark_missing(owner=item.owner, name=item.name, at=at)
                    missing.append(f"{item.owner}/{item.name}")
                continue
            count = int((node.get("allPullRequests") or {}).get("totalCount") or 0)
            sizes.append(SizeUpdate(id=item.id, pr_count=count, size_class=size_class(count)))
        await deps.repo().set_sizes(sizes)
        return {
            "classified": len(sizes),
            "listed": len(items),
            "last": items[-1].id,
            "missing": missing,
            "back_off_until": iso(back_off_until(result.rate_limit)),
        }

    return await guarded(deps, None, work, at=at)


async def classify_all(ctx: inngest.Context, *, deps: Deps) -> dict[str, Any]:
    """`classify/repository.size`: sizes in batches of 50, 20 batches a run; a longer list
    hands over to a fresh run (an event with a deterministic id) where this one stopped."""
    data = parse_event(ClassifyAllRequested, ctx.event.data, event=CLASSIFY_ALL)
    at = event_time(ctx)
    started = data.started or str(ctx.event.id or iso(at))
    after, classified, listed, missing = data.after or 0, 0, 0, []
    for i in range(1, SLICE_BATCHES + 1):
        outcome = await ctx.step.run(f"classify-batch-{i}", _classify_batch, deps, after, at)
        classified += outcome["classified"]
        listed += outcome["listed"]
        missing += outcome["missing"]
        after = outcome["last"]
        if outcome["listed"] < SIZES_BATCH:
            break
        if i == SLICE_BATCHES:
            await ctx.step.send_event(
                "continue-classification",
                inngest.Event(
                    name=CLASSIFY_ALL,
                    data={"after": after, "started": started},
                    id=f"classify-all-{started}-{after}",
                ),
            )
            break
        await sleep_if_needed(ctx, f"wait-rate-limit-{i}", outcome["back_off_until"])
    return {"repositories": listed, "classified": classified, "missing": missing}


async def _send_capture(ctx: inngest.Context, repository: dict[str, Any]) -> None:
    await ctx.step.send_event(
        "send-initial-sync",
        inngest.Event(
            name=REPOSITORY_SYNC_ENHANCED,
            data={
                "repository": repository_data(
                    repository["owner"], repository["name"], repository["github_id"]
                ),
                "reason": "automatic",
            },
        ),
    )


async def discover(ctx: inngest.Context, *, deps: Deps) -> dict[str, Any]:
    """`discover/new-repository`: create and size an unknown repository, then capture it
    whole: the enhanced sync reads pull requests with their reviews and comments, continuing
    over as many runs as it takes."""
    data = parse_event(RepositoryRequested, ctx.event.data, event=DISCOVER)
    ref = data.repository

    async def find() -> dict[str, Any] | None:
        found = await deps.repo().find(owner=ref.owner, name=ref.name)
        if found is None:
            return None
        activity = found.state("activity")
        return {
            "id": found.id,
            "owner": found.owner,
            "name": found.name,
            "github_id": found.github_id,
            # known (from a PR's details, a plain sync...) but its reviews and comments were
            # never captured: capture them now rather than at the next hourly schedule
            "capture": found.status == "active" and activity is None,
        }

    known = await ctx.step.run("find-repository", find)
    if known is not None:
        if known["capture"]:
            await _send_capture(ctx, known)
        return {"status": "known", "repository_id": known["id"], "capturing": known["capture"]}
    created = await ctx.step.run("create-repository", _classify, deps, ref, event_time(ctx))
    await _send_capture(ctx, created)
    return {
        "status": "created",
        "repository_id": created["id"],
        "size_class": created["size_class"],
    }
