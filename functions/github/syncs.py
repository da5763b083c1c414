"""Repository syncs over GraphQL (plain: pull requests; enhanced: with reviews and comments),
and the hourly schedule that asks for them.

A sync is a pass over the pull requests, newest updated first, down to its kind's watermark
(the watermark's own second included: `updatedAt` has one-second resolution). A run reads at
most its page budget; when it stops before the pass is complete it records the cursor in SQL
and hands over to a continuation event with a deterministic id. Only a completed pass moves
the watermark (see `migrations/20261204000100_capture_state.sql`).
"""

from __future__ import annotations

from typing import Any

import inngest

from functions.github.common import (
    SEND_BATCH,
    Deps,
    event_time,
    guarded,
    iso,
    now,
    parse_time,
    request_recompute,
    sleep_if_needed,
)
from inngest_app.events import parse_event
from inngest_app.github.client import NotFound
from inngest_app.github.documents import SYNC_ENHANCED, SYNC_PULL_REQUESTS
from inngest_app.github.events import (
    CLASSIFY_ONE,
    REPOSITORY_SYNC,
    REPOSITORY_SYNC_ENHANCED,
    EnhancedSyncRequested,
    RepositoryRef,
    RepositorySyncRequested,
    repository_data,
)
from inngest_app.github.parse import Batch, gql_pull_request, gql_repository
from inngest_app.github.plan import PAGE_SIZE, back_off_until, max_pages, plan_syncs, skip_reason
from inngest_app.repos.github import Repository, SyncKind

ENHANCED_PAGE_SIZE = 50  # pull requests per enhanced page (each with nested activity)
ENHANCED_NESTED = {"reviews": 20, "reviewComments": 20, "comments": 30}
RECHECK_BATCH = 500  # missing repositories re-checked per hourly run
# syncs sent per hourly run, most due first (48,000 a day): a bounded step output and few steps
PLAN_LIMIT = 2_000


def _updated(node: dict[str, Any]) -> Any:
    return parse_time(str(node["updatedAt"]).replace("Z", "+00:00"))


async def sync(ctx: inngest.Context, *, deps: Deps, enhanced: bool) -> dict[str, Any]:
    """`capture/repository.sync` (enhanced False) or `capture/repository.sync-enhanced`."""
    pages: int | None = None
    data: RepositorySyncRequested | EnhancedSyncRequested
    if enhanced:
        data = parse_event(EnhancedSyncRequested, ctx.event.data, event=REPOSITORY_SYNC_ENHANCED)
        pages = data.pages
    else:
        data = parse_event(RepositorySyncRequested, ctx.event.data, event=REPOSITORY_SYNC)
    kind: SyncKind = "activity" if enhanced else "pull_requests"
    ref, reason = data.repository, data.reason

    async def check() -> dict[str, Any]:
        found = await deps.repo().find(owner=ref.owner, name=ref.name)
        skip = skip_reason(found.state(kind) if found else None, reason, now=now())
        return {"skip": skip, "repository": found.model_dump(mode="json") if found else None}

    checked = await ctx.step.run("check-repository", check)
    if checked["skip"]:
        return {"status": "skipped", "reason": checked["skip"]}
    known = Repository.model_validate(checked["repository"]) if checked["repository"] else None
    state = known.state(kind) if known else None
    watermark = state.watermark if state else None
    cursor = state.pass_cursor if state else None

    async def fetch_page(after: str | None) -> dict[str, Any]:
        return await guarded(
            deps, ref, lambda: _read_page(deps, ref, kind, after, watermark), at=event_time(ctx)
        )

    totals: dict[str, int] = {}
    workspaces: list[str] = []
    page, limit = 1, pages
    outcome: dict[str, Any] = {}
    while True:
        outcome = await ctx.step.run(f"sync-page-{page}", fetch_page, cursor)
        for table, count in outcome["written"].items():
            if table != "workspaces":
                totals[table] = totals.get(table, 0) + count
        workspaces += outcome["written"].get("workspaces", [])
        if limit is None:  # pages of 50 (enhanced) read as far as pages of 100 (plain)
            limit = max_pages(outcome["size_class"], outcome["pr_count"]) * (2 if enhanced else 1)
        if outcome["complete"] or page >= limit:
            break
        await sleep_if_needed(ctx, f"wait-rate-limit-{page}", outcome["back_off_until"])
        page, cursor = page + 1, outcome["end_cursor"]

    async def finish() -> dict[str, Any]:
        done = await deps.repo().finish_run(
            repository_id=outcome["repository_id"], kind=kind, reason=reason
        )
        return done.model_dump(mode="json")

    finished = Repository.model_validate(await ctx.step.run("finish-sync", finish))
    after = finished.state(kind)
    if after is not None and after.in_progress:
        # Deterministic: a retried send, or two runs at the same point, continue once.
        continuation: dict[str, Any] = {
            "repository": repository_data(ref.owner, ref.name, finished.github_id),
            "reason": "continuation",
        }
        if pages is not None:
            continuation["pages"] = pages
        await ctx.step.send_event(
            "continue-sync",
            inngest.Event(
                name=REPOSITORY_SYNC_ENHANCED if enhanced else REPOSITORY_SYNC,
                data=continuation,
                id=f"capture-continue-{kind}-{finished.id}-{iso(after.pass_high)}"
                f"-{after.pass_pages}",
            ),
        )
    recomputes = await request_recompute(ctx, workspaces)
    return {
        "status": "synced",
        "repository": ref.full_name,
        "pages": page,
        "written": totals,
        "complete": bool(outcome["complete"]),
        "sync_watermark": iso(after.watermark if after else None),
        "recomputes": recomputes,
    }


async def _read_page(
    deps: Deps,
    ref: RepositoryRef,
    kind: SyncKind,
    after: str | None,
    watermark: Any,
) -> dict[str, Any]:
    """Fetch one page, store what is newer than the watermark, record the pass's progress."""
    if kind == "activity":
        document = SYNC_ENHANCED
        variables: dict[str, Any] = {"first": ENHANCED_PAGE_SIZE, **ENHANCED_NESTED}
    else:
        document, variables = SYNC_PULL_REQUESTS, {"first": PAGE_SIZE}
    variables.update(owner=ref.owner, name=ref.name, after=after)
    result = await deps.github().graphql(document, variables)
    node = result.data.get("repository")
    if not isinstance(node, dict):
        raise NotFound(f"repository {ref.full_name} resolved to null")
    stored = await deps.repo().upsert_repository(gql_repository(node))
    connection = node.get("pullRequests") or {}
    nodes = connection.get("nodes") or []
    batch, reached, newest = Batch(), False, None
    for pr_node in nodes:
        updated = _updated(pr_node)
        # Strictly older than the watermark: read already. Its own second is read again.
        if watermark is not None and updated < watermark:
            reached = True
            break
        gql_pull_request(pr_node, batch)  # the pull request and its nested activity, together
        newest = max(newest or updated, updated)
    written = await deps.repo().store_page(
        repository_id=stored.id,
        contributors=list(batch.contributors.values()),
        pull_requests=batch.pull_requests,
        reviews=batch.reviews,
        comments=batch.comments,
    )
    info = connection.get("pageInfo") or {}
    has_next = bool(info.get("hasNextPage"))
    complete = reached or not has_next
    state = await deps.repo().advance_sync(
        repository_id=stored.id,
        kind=kind,
        high=newest,
        cursor=None if complete else info.get("endCursor"),
        complete=complete,
    )
    return {
        "repository_id": stored.id,
        "size_class": stored.size_class,
        "pr_count": stored.pr_count,
        "fetched": len(nodes),
        "written": written.model_dump(),
        "complete": complete,
        "end_cursor": info.get("endCursor"),
        "watermark": iso(state.watermark),
        "back_off_until": iso(back_off_until(result.rate_limit)),
    }


async def priorities(ctx: inngest.Context, *, deps: Deps) -> dict[str, Any]:
    """Hourly: ask for the syncs due (priority repositories first), and re-check missing
    repositories whose back-off has passed."""
    at = event_time(ctx)

    async def plan() -> list[dict[str, Any]]:
        planned = plan_syncs(await deps.repo().list(), now=at)[:PLAN_LIMIT]
        return [
            {
                "repository": repository_data(p.owner, p.name, p.github_id),
                "reason": p.reason,
                "priority": p.priority,
                "full_name": f"{p.owner}/{p.name}",
            }
            for p in planned
        ]

    planned = await ctx.step.run("plan-syncs", plan)
    for i in range(0, len(planned), SEND_BATCH):
        events = [
            # the enhanced sync: metrics need reviews and comments, not only pull requests
            inngest.Event(
                name=REPOSITORY_SYNC_ENHANCED,
                data={"repository": p["repository"], "reason": p["reason"]},
            )
            for p in planned[i : i + SEND_BATCH]
        ]
        await ctx.step.send_event(f"send-syncs-{i // SEND_BATCH + 1}", events)

    async def due() -> list[dict[str, Any]]:
        found = await deps.repo().recheck_due(at=at, limit=RECHECK_BATCH)
        return [
            {"repository": repository_data(r.owner, r.name), "id": r.id, "n": r.missing_checks}
            for r in found
        ]

    rechecks = await ctx.step.run("missing-due", due)
    if rechecks:
        await ctx.step.send_event(
            "send-rechecks",
            [
                inngest.Event(
                    name=CLASSIFY_ONE,
                    data={"repository": r["repository"]},
                    id=f"recheck-{r['id']}-{r['n']}",
                )
                for r in rechecks
            ],
        )
    return {
        "sent": len(planned),
        "priority": sum(1 for p in planned if p["priority"]),
        "order": [p["full_name"] for p in planned],
        "rechecks": len(rechecks),
    }
