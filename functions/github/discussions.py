"""Discussions: every 6 hours the cron fans out one event per repository with discussions
(id `discussions-<owner>/<name>-<tick>`, so a second firing in the same tick starts nothing);
each repository's capture is its own run, and its outcome is recorded on it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest

from functions.github.common import SEND_BATCH, Deps, event_time, guarded
from inngest_app.events import parse_event
from inngest_app.github.client import GithubUnavailable, NotFound, Refused
from inngest_app.github.documents import DISCUSSIONS
from inngest_app.github.events import (
    DISCUSSIONS_FAN_OUT,
    DISCUSSIONS_SYNC,
    DiscussionsFanOut,
    RepositoryRequested,
    repository_data,
)
from inngest_app.github.parse import Batch, gql_discussions

DISCUSSIONS_PAGE = 50
SLICE_PAGES = 100  # pages of 500 repositories per fan-out run (2 steps each), then hand over


def tick_of(at: dt.datetime) -> str:
    """The cron tick a time belongs to: its 6-hour slot, e.g. `2026-12-04T18`."""
    return at.replace(hour=at.hour - at.hour % 6).strftime("%Y-%m-%dT%H")


async def fan_out(ctx: inngest.Context, *, deps: Deps) -> dict[str, Any]:
    """The cron (or its continuation): one `capture/repository.discussions` per repository."""
    if ctx.event.name == DISCUSSIONS_FAN_OUT:
        data = parse_event(DiscussionsFanOut, ctx.event.data, event=DISCUSSIONS_FAN_OUT)
        after, tick = data.after, data.tick
    else:
        after, tick = 0, tick_of(event_time(ctx))
    sent = 0
    for page in range(1, SLICE_PAGES + 1):

        async def list_page(after: int = after) -> list[dict[str, Any]]:
            found = await deps.repo().page(after=after, limit=SEND_BATCH, discussions_only=True)
            return [r.model_dump() for r in found]

        items = await ctx.step.run(f"list-repositories-{page}", list_page)
        if not items:
            break
        await ctx.step.send_event(
            f"fan-out-{page}",
            [
                inngest.Event(
                    name=DISCUSSIONS_SYNC,
                    data={"repository": repository_data(r["owner"], r["name"])},
                    id=f"discussions-{r['owner'].lower()}/{r['name'].lower()}-{tick}",
                )
                for r in items
            ],
        )
        sent += len(items)
        after = items[-1]["id"]
        if len(items) < SEND_BATCH:
            break
        if page == SLICE_PAGES:
            await ctx.step.send_event(
                "hand-over",
                inngest.Event(
                    name=DISCUSSIONS_FAN_OUT,
                    data={"after": after, "tick": tick},
                    id=f"discussions-fan-out-{tick}-{after}",
                ),
            )
    return {"tick": tick, "sent": sent}


async def capture(ctx: inngest.Context, *, deps: Deps) -> dict[str, Any]:
    """`capture/repository.discussions`: one repository's latest discussions. A refusal is
    recorded on the repository and ends this run only; a missing repository is marked for a
    re-check with back-off; rate limits and outages are retried."""
    data = parse_event(RepositoryRequested, ctx.event.data, event=DISCUSSIONS_SYNC)
    ref, at = data.repository, event_time(ctx)

    async def work() -> dict[str, Any]:
        found = await deps.repo().find(owner=ref.owner, name=ref.name)
        if found is None or found.status != "active":
            return {"status": "not tracked" if found is None else found.status}
        try:
            result = await deps.github().graphql(
                DISCUSSIONS, {"owner": ref.owner, "name": ref.name, "first": DISCUSSIONS_PAGE}
            )
        except Refused as exc:
            await deps.repo().record_error(repository_id=found.id, error=str(exc))
            return {"status": "refused", "error": str(exc)}
        except GithubUnavailable as exc:  # recorded, then retried (a plain error)
            await deps.repo().record_error(repository_id=found.id, error=str(exc))
            raise
        node = result.data.get("repository")
        if not isinstance(node, dict):
            raise NotFound(f"repository {ref.full_name} resolved to null")
        batch = Batch()
        gql_discussions((node.get("discussions") or {}).get("nodes") or [], batch)
        written = await deps.repo().store_discussions(
            repository_id=found.id,
            contributors=list(batch.contributors.values()),
            discussions=batch.discussions,
        )
        return {
            "status": "synced",
            "discussions": len(batch.discussions),
            "written": written.discussions,
        }

    async def tolerant() -> dict[str, Any]:
        try:
            return await guarded(deps, ref, work, at=at)
        except inngest.NonRetriableError as exc:
            if "not found" in str(exc):
                return {"status": "missing"}
            raise

    outcome = await ctx.step.run("capture", tolerant)
    return {"repository": ref.full_name, **outcome}
