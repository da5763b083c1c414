"""Helpers for capture journeys: a user's requests through the API, the test executor, every
function on the way and the fake GitHub, to what the user reads back."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from tests.github.fake import GRAPHQL_URL, FakeGithub, actor, iso, pull_request
from tests.harness import Live, LiveFactory
from tests.queries.support import JWT_SECRET, token

TOKEN = "ghp_test_token_0123456789"
ADMIN_KEY = "admin-key-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
USER = token()
OTHER_USER = token("user-2")


@contextlib.asynccontextmanager
async def capture_live(
    start_live: LiveFactory, fake: FakeGithub | None = None, **overrides: Any
) -> AsyncIterator[Live]:
    """The app with a GitHub token, JWT users and an admin key; GraphQL answered by `fake`."""
    settings = {
        "github_token": TOKEN,
        "supabase_jwt_secret": JWT_SECRET,
        "monitoring_api_key": ADMIN_KEY,
        **overrides,
    }
    async with start_live(**settings) as live:
        if fake is not None:
            live.mock.post(GRAPHQL_URL).mock(side_effect=fake.handle)
        yield live


def active_pr(
    number: int,
    *,
    updated: dt.datetime,
    created: dt.datetime | None = None,
    state: str = "OPEN",
    reviews: int = 1,
    comments: int = 1,
    author: int = 0,
    repo_id: int = 1,
) -> dict[str, Any]:
    """A pull request with `reviews` reviews and `comments` issue comments, all dated `updated`
    (or `created` when given), each with a distinct author among a few."""
    base = repo_id * 1_000_000
    pr = pull_request(
        number,
        database_id=base + number,
        updated=updated,
        created=created,
        state=state,
        author=actor(f"dev{author}", 100 + author),
    )
    when = iso(created or updated)
    pr["reviews"]["nodes"] = [
        {
            "fullDatabaseId": str((base + number) * 10 + i),
            "state": "APPROVED",
            "submittedAt": when,
            "url": f"https://github.com/acme/widgets/pull/{number}#review-{i}",
            "author": actor(f"reviewer{i}", 500 + i),
            "comments": {"nodes": []},
        }
        for i in range(reviews)
    ]
    pr["comments"]["nodes"] = [
        {
            "fullDatabaseId": str((base + number) * 10 + i),
            "createdAt": when,
            "updatedAt": when,
            "url": f"https://github.com/acme/widgets/pull/{number}#comment-{i}",
            "author": actor(f"commenter{i}", 700 + i),
        }
        for i in range(comments)
    ]
    return pr


async def track(live: Live, owner: str, name: str, headers: dict[str, str]) -> Any:
    """`POST /api/repositories` as a user would, and every run it leads to."""
    response = await live.api.post(
        "/api/repositories", json={"owner": owner, "name": name}, headers=headers
    )
    await live.executor.run_until_idle()
    return response


async def repository(live: Live, owner: str, name: str, headers: dict[str, str]) -> Any:
    """`GET /api/repositories/{owner}/{name}`."""
    return await live.api.get(f"/api/repositories/{owner}/{name}", headers=headers)


async def counts(live: Live, owner: str, name: str) -> dict[str, int]:
    """What an admin reads of a repository's capture."""
    response = await repository(live, owner, name, ADMIN)
    assert response.status_code == 200, response.text
    found: dict[str, int] = response.json()["counts"]
    return found


async def send(live: Live, name: str, data: dict[str, Any]) -> None:
    """An event, and every run it leads to."""
    await live.executor.send({"name": name, "data": data})
    await live.executor.run_until_idle()


async def age_syncs(live: Live, hours: float) -> None:
    """Move every recorded sync `hours` into the past (the skip windows read the database)."""
    await live.pool.execute(
        "update repositories set last_synced_at = last_synced_at - make_interval(secs => $1)",
        hours * 3600,
    )
    with contextlib.suppress(Exception):  # the per-kind state, where it exists
        await live.pool.execute(
            "update github_sync_state set last_run_at = last_run_at - make_interval(secs => $1)",
            hours * 3600,
        )


def failed_runs(live: Live) -> list[tuple[str, Any]]:
    """Runs that failed, with their errors."""
    return [(r.function_id, r.error) for r in live.executor.runs() if r.status == "failed"]


async def workspace_metrics(
    live: Live, workspace_id: str, days: int, headers: dict[str, str] = USER
) -> dict[str, Any]:
    """`GET /api/workspaces/{id}/metrics?days=` (200 asserted)."""
    response = await live.api.get(
        f"/api/workspaces/{workspace_id}/metrics", params={"days": days}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
