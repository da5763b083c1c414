"""Private repositories: visible only to admins and to the owners of workspaces an admin added
them to. Anyone else gets exactly what an unknown repository gets, and no metric of theirs
counts it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.github.fake import FakeGithub
from tests.github.journeys import (
    ADMIN,
    OTHER_USER,
    USER,
    active_pr,
    capture_live,
    repository,
    track,
    workspace_metrics,
)
from tests.harness import Live, LiveFactory


def _private(fake: FakeGithub, owner: str, name: str, *, database_id: int) -> None:
    # activity three days ago, so that yesterday-ending metric windows include it
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=3)
    nodes = [
        active_pr(n, updated=when - dt.timedelta(minutes=n), repo_id=database_id, author=n % 3)
        for n in range(1, 7)
    ]
    repo = fake.add_repository(owner, name, database_id=database_id, pull_requests=nodes)
    repo["isPrivate"] = True


def _without_names(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in {"owner", "name", "eventId", "error"}}


async def _workspace(
    live: Live, headers: dict[str, str], slug: str, owner: str | None = None
) -> str:
    body: dict[str, Any] = {"name": f"Team {slug}", "slug": slug}
    if owner is not None:
        body["ownerId"] = owner
    response = await live.api.post("/api/workspaces", json=body, headers=headers)
    assert response.status_code == 201, response.text
    workspace_id: str = response.json()["id"]
    return workspace_id


async def test_a_private_repository_reads_as_unknown_to_a_user_and_counts_for_no_metric(
    start_live: LiveFactory,
) -> None:
    fake = FakeGithub()
    _private(fake, "secret-org", "vault", database_id=31)
    async with capture_live(start_live, fake) as live:
        tracked = await track(live, "secret-org", "vault", USER)
        unknown_track = await track(live, "nobody-here", "nothing", USER)
        assert tracked.status_code == unknown_track.status_code == 202
        assert _without_names(tracked.json()) == _without_names(unknown_track.json())

        # the capture happened (an admin sees it), but the user reads a 404 like any unknown
        assert (await repository(live, "secret-org", "vault", ADMIN)).json()["counts"][
            "pull_requests"
        ] == 6
        for headers in (USER, OTHER_USER):
            secret = await repository(live, "Secret-Org", "VAULT", headers)
            unknown = await repository(live, "nobody-else", "nothing", headers)
            assert secret.status_code == unknown.status_code == 404
            assert secret.json()["code"] == unknown.json()["code"]
            sync = await live.api.post("/api/repositories/secret-org/vault/sync", headers=headers)
            assert sync.status_code == 404

        # in the user's own workspace it counts for nothing, and shows nothing captured
        mine = await _workspace(live, USER, "mine")
        added = await live.api.post(
            f"/api/workspaces/{mine}/repositories/secret-org/vault", headers=USER
        )
        assert added.status_code == 201, added.text
        await live.executor.run_until_idle()
        summary = (await workspace_metrics(live, mine, 30))["summary"]
        assert (summary["totalPrs"], summary["reviews"], summary["comments"]) == (0, 0, 0)
        shown = (await live.api.get(f"/api/workspaces/{mine}", headers=USER)).json()
        [member] = shown["repositories"]
        assert (member["repositoryId"], member["captured"], member["status"]) == (
            None,
            False,
            None,
        )


async def test_an_admin_sees_a_private_repository_and_shares_it_through_a_workspace(
    start_live: LiveFactory,
) -> None:
    fake = FakeGithub()
    _private(fake, "secret-org", "vault", database_id=31)
    async with capture_live(start_live, fake) as live:
        tracked = await track(live, "secret-org", "vault", ADMIN)
        assert tracked.status_code == 202
        view = await repository(live, "secret-org", "vault", ADMIN)
        assert view.status_code == 200 and view.json()["is_private"] is True

        shared = await _workspace(live, ADMIN, "shared", owner="user-1")
        added = await live.api.post(
            f"/api/workspaces/{shared}/repositories/secret-org/vault", headers=ADMIN
        )
        assert added.status_code == 201, added.text
        await live.executor.run_until_idle()
        # the workspace's owner now reads the repository and its metrics
        assert (await repository(live, "secret-org", "vault", USER)).status_code == 200
        summary = (await workspace_metrics(live, shared, 30))["summary"]
        assert summary["prsOpened"] == 6 and summary["reviews"] == 6
        # another user still does not
        assert (await repository(live, "secret-org", "vault", OTHER_USER)).status_code == 404


async def test_a_repository_that_turns_private_leaves_a_users_metrics_by_the_next_night(
    start_live: LiveFactory,
) -> None:
    fake = FakeGithub()
    _private(fake, "acme", "widgets", database_id=31)
    fake.repositories[("acme", "widgets")]["isPrivate"] = False
    async with capture_live(start_live, fake) as live:
        mine = await _workspace(live, USER, "mine")
        await live.api.post(f"/api/workspaces/{mine}/repositories/acme/widgets", headers=USER)
        await live.executor.run_until_idle()
        assert (await workspace_metrics(live, mine, 30))["summary"]["prsOpened"] == 6
        fake.repositories[("acme", "widgets")]["isPrivate"] = True
        await live.executor.send(
            {
                "name": "classify/single-repository",
                "data": {"repository": {"owner": "acme", "name": "widgets"}},
            }
        )
        await live.executor.run_until_idle()
        await live.executor.fire_cron("scheduled-workspace-aggregation")
        await live.executor.run_until_idle()
        summary = (await workspace_metrics(live, mine, 30))["summary"]
        assert (summary["prsOpened"], summary["reviews"], summary["comments"]) == (0, 0, 0)
        assert (await repository(live, "acme", "widgets", USER)).status_code == 404
