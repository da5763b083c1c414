"""What one user may change: capped workspaces and members, no blank names, priority for
admins only; owner/name compared case-insensitively everywhere."""

from __future__ import annotations

import pytest

from tests.github.fake import FakeGithub, pull_request
from tests.github.journeys import ADMIN, USER, capture_live
from tests.harness import LiveFactory


async def test_workspaces_per_user_are_capped_admins_are_not(start_live: LiveFactory) -> None:
    async with capture_live(start_live, workspaces_per_user_max=2) as live:
        for i in range(2):
            created = await live.api.post("/api/workspaces", json={"name": f"W{i}"}, headers=USER)
            assert created.status_code == 201
        third = await live.api.post("/api/workspaces", json={"name": "W2"}, headers=USER)
        assert third.status_code == 409 and third.json()["code"] == "workspace_limit"
        assert await live.pool.fetchval("select count(*) from workspaces") == 2
        by_admin = await live.api.post(
            "/api/workspaces", json={"name": "W3", "ownerId": "user-1"}, headers=ADMIN
        )
        assert by_admin.status_code == 201


async def test_repositories_per_workspace_are_capped(start_live: LiveFactory) -> None:
    async with capture_live(start_live, workspace_repositories_max=2) as live:
        created = await live.api.post("/api/workspaces", json={"name": "W"}, headers=USER)
        base = f"/api/workspaces/{created.json()['id']}/repositories"
        assert (await live.api.post(f"{base}/acme/one", headers=USER)).status_code == 201
        assert (await live.api.post(f"{base}/acme/two", headers=USER)).status_code == 201
        # the same repository in other letter case is the same member, not a third
        assert (await live.api.post(f"{base}/ACME/One", headers=USER)).status_code == 200
        third = await live.api.post(f"{base}/acme/three", headers=USER)
        assert third.status_code == 409 and third.json()["code"] == "repository_limit"
        assert await live.pool.fetchval("select count(*) from workspace_repositories") == 2


@pytest.mark.parametrize("name", ["   ", "\t\n"])
async def test_a_blank_workspace_name_is_refused(start_live: LiveFactory, name: str) -> None:
    async with capture_live(start_live) as live:
        response = await live.api.post("/api/workspaces", json={"name": name}, headers=USER)
        assert response.status_code == 400 and "name" in response.json()["error"]
        assert await live.pool.fetchval("select count(*) from workspaces") == 0


async def test_owner_and_name_are_one_repository_and_one_key_in_any_case(
    start_live: LiveFactory,
) -> None:
    fake = FakeGithub()
    fake.add_repository("Acme", "Widgets", database_id=9, pull_requests=[pull_request(1)])
    async with capture_live(start_live, fake) as live:
        for owner, name in [("Acme", "Widgets"), ("acme", "widgets"), ("ACME", "WIDGETS")]:
            response = await live.api.post(
                "/api/repositories", json={"owner": owner, "name": name}, headers=USER
            )
            assert response.status_code == 202
        await live.executor.run_until_idle()
        assert await live.pool.fetchval("select count(*) from repositories") == 1
        # every event names it the same way: one concurrency key, one cancellation target
        named = {
            (e["data"]["repository"]["owner"], e["data"]["repository"]["name"])
            for e in live.executor.events
            if isinstance(e.get("data"), dict) and "repository" in e["data"]
        }
        assert named == {("acme", "widgets")}
        for path in ("/api/repositories/acme/widgets", "/api/repositories/ACME/Widgets"):
            assert (await live.api.get(path, headers=USER)).status_code == 200
