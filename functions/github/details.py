"""One pull request over REST: the pull request, its reviews, review comments and issue
comments, every page, asked conditionally (ETags), stored together."""

from __future__ import annotations

from typing import Any

import inngest

from functions.github.common import Deps, event_time, guarded, request_recompute
from inngest_app.events import parse_event
from inngest_app.github.client import list_pages
from inngest_app.github.events import PR_DETAILS, PrDetailsRequested
from inngest_app.github.parse import (
    Batch,
    rest_comments,
    rest_pull_request,
    rest_repository,
    rest_reviews,
)
from inngest_app.repos.github import ETag

REST_MAX_PAGES = 50  # pages of 100 per REST list (5,000 items)


async def pr_details(ctx: inngest.Context, *, deps: Deps) -> dict[str, Any]:
    """`capture/pr.details`."""
    data = parse_event(PrDetailsRequested, ctx.event.data, event=PR_DETAILS)
    ref, number = data.repository, data.pr_number
    base = f"/repos/{ref.owner}/{ref.name}"
    scope = f"pr:{ref.full_name}#{number}".lower()

    async def work() -> dict[str, Any]:
        gh, repo = deps.github(), deps.repo()
        known = {u: (t.etag, t.next_url) for u, t in (await repo.etags(scope)).items()}
        before = gh.requests.total
        pull = await gh.rest(f"{base}/pulls/{number}")
        batch = Batch()
        row = rest_pull_request(pull.body, batch)
        stored = await repo.upsert_repository(
            rest_repository((pull.body.get("base") or {}).get("repo") or {})
        )
        etags: dict[str, tuple[str, str | None]] = {}
        not_modified = 0
        lists = [
            ("reviews", f"{base}/pulls/{number}/reviews"),
            ("review", f"{base}/pulls/{number}/comments"),
            ("issue", f"{base}/issues/{number}/comments"),
        ]
        for kind, path in lists:
            listing = await list_pages(
                gh, path, params={"per_page": 100}, etags=known, max_pages=REST_MAX_PAGES
            )
            etags.update(listing.etags)
            not_modified += listing.not_modified
            if kind == "reviews":
                rest_reviews(listing.items, row.github_id, batch)
            else:
                rest_comments(listing.items, row.github_id, batch, kind=kind)
        written = await repo.store_page(
            repository_id=stored.id,
            contributors=list(batch.contributors.values()),
            pull_requests=batch.pull_requests,
            reviews=batch.reviews,
            comments=batch.comments,
        )
        await repo.put_etags(scope, {u: ETag(etag=e, next_url=n) for u, (e, n) in etags.items()})
        return {
            "repository_id": stored.id,
            "pull_request_id": row.github_id,
            "reviews": len(batch.reviews),
            "comments": len(batch.comments),
            "written": {k: v for k, v in written.model_dump().items() if k != "workspaces"},
            "workspaces": written.workspaces,
            "requests": gh.requests.total - before,
            "not_modified": not_modified,
        }

    async def fetch_and_store() -> dict[str, Any]:
        return await guarded(deps, ref, work, at=event_time(ctx), marks_missing=False)

    # One step: the lists are asked conditionally, so a retry re-reads unchanged pages for
    # free, and the rows of all of them are stored together, one statement per table.
    outcome = await ctx.step.run("fetch-and-store", fetch_and_store)
    await request_recompute(ctx, outcome.pop("workspaces"))
    return outcome
