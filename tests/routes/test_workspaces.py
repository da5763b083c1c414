"""The workspace API: validation, owners only, membership announced (or undone), metrics."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.harness import Live, LiveFactory
from tests.queries.support import JWT_SECRET, token

ADMIN_KEY = "admin-key-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _settings() -> dict[str, Any]:
    return {"supabase_jwt_secret": JWT_SECRET, "monitoring_api_key": ADMIN_KEY}


def _changes(live: Live) -> list[dict[str, Any]]:
    return [e for e in live.executor.events if e["name"] == "workspace/repository-change"]


async def _create(live: Live, **body: Any) -> dict[str, Any]:
    response = await live.api.post(
        "/api/workspaces", json={"name": "Team", **body}, headers=token()
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_and_read_own_workspace(start_live: LiveFactory) -> None:
    async with start_live(**_settings()) as live:
        created = await _create(live, name="Core Team!")
        assert created["slug"] == "core-team" and created["dataRetentionDays"] == 90
        assert created["ownerId"] == "user-1" and created["repositories"] == []
        read = await live.api.get(f"/api/workspaces/{created['id']}", headers=token())
        assert read.status_code == 200 and read.json() == created
        again = await live.api.post("/api/workspaces", json={"name": "Core team"}, headers=token())
        assert again.status_code == 409 and again.json()["code"] == "slug_taken"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x", "slug": "Not A Slug"}, "slug"),
        ({"name": "x", "dataRetentionDays": 0}, "dataRetentionDays"),
        ({"name": "x", "surprise": 1}, "surprise"),
    ],
)
async def test_invalid_bodies_are_400_naming_the_field_and_write_nothing(
    start_live: LiveFactory, body: dict[str, Any], field: str
) -> None:
    async with start_live(**_settings()) as live:
        response = await live.api.post("/api/workspaces", json=body, headers=token())
        assert response.status_code == 400, response.text
        assert field in response.json()["error"]
        assert await live.pool.fetchval("select count(*) from workspaces") == 0


async def test_only_owners_and_admins_see_or_change_a_workspace(start_live: LiveFactory) -> None:
    async with start_live(**_settings()) as live:
        created = await _create(live)
        base = f"/api/workspaces/{created['id']}"
        assert (await live.api.get(base)).status_code == 401
        for method, path in [
            ("GET", base),
            ("GET", f"{base}/metrics"),
            ("POST", f"{base}/repositories/acme/app"),
            ("DELETE", f"{base}/repositories/acme/app"),
        ]:
            response = await live.api.request(method, path, headers=token("intruder"))
            assert response.status_code == 404, (method, path, response.text)
        assert await live.pool.fetchval("select count(*) from workspace_repositories") == 0
        assert not _changes(live)
        assert (await live.api.get(base, headers=ADMIN)).status_code == 200
        # a user may not create a workspace for someone else; an admin must name the owner
        forged = await live.api.post(
            "/api/workspaces", json={"name": "x", "ownerId": "victim"}, headers=token()
        )
        assert forged.status_code == 403
        unnamed = await live.api.post("/api/workspaces", json={"name": "x"}, headers=ADMIN)
        assert unnamed.status_code == 400 and "ownerId" in unnamed.json()["error"]


@pytest.mark.parametrize("path", ["..%2F..%2Fadmin/x", "acme/..", "-bad/x", "a/" + "n" * 101])
async def test_repository_names_that_are_not_github_names_are_refused(
    start_live: LiveFactory, path: str
) -> None:
    async with start_live(**_settings()) as live:
        created = await _create(live)
        response = await live.api.post(
            f"/api/workspaces/{created['id']}/repositories/{path}", headers=token()
        )
        assert response.status_code in (400, 404), response.text
        assert response.headers["content-type"].startswith("application/json")
        assert await live.pool.fetchval("select count(*) from workspace_repositories") == 0


async def test_membership_is_announced_and_removal_too(start_live: LiveFactory) -> None:
    async with start_live(**_settings()) as live:
        created = await _create(live)
        member = f"/api/workspaces/{created['id']}/repositories/acme/app"
        # priority spends the shared GitHub budget: only admins set it
        refused = await live.api.post(member, json={"isPriority": True}, headers=token())
        assert refused.status_code == 403 and "isPriority" in refused.json()["error"]
        added = await live.api.post(member, json={"isPriority": True}, headers=ADMIN)
        assert added.status_code == 201 and added.json()["isPriority"] is True
        same = await live.api.post(member, headers=token())  # a user's re-add keeps it
        assert same.status_code == 200 and same.json()["added"] is False
        assert same.json()["isPriority"] is True
        removed = await live.api.delete(member, headers=token())
        assert removed.status_code == 200
        assert (await live.api.delete(member, headers=token())).status_code == 404
        actions = [e["data"]["action"] for e in _changes(live)]
        assert actions == ["added", "added", "removed"]
        bad = await live.api.post(member, json={"isPriority": "yes"}, headers=token())
        assert bad.status_code == 400 and "isPriority" in bad.json()["error"]


async def test_a_change_inngest_never_heard_of_is_undone(
    start_live: LiveFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with start_live(**_settings()) as live:
        created = await _create(live)

        async def down(*_: Any, **__: Any) -> None:
            raise ConnectionError("event API unreachable")

        monkeypatch.setattr(live.services.inngest, "send", down)
        member = f"/api/workspaces/{created['id']}/repositories/acme/app"
        response = await live.api.post(member, headers=token())
        assert response.status_code == 503 and response.json()["code"] == "dispatch_failed"
        assert await live.pool.fetchval("select count(*) from workspace_repositories") == 0
        monkeypatch.undo()
        assert (await live.api.post(member, headers=token())).status_code == 201
        monkeypatch.setattr(live.services.inngest, "send", down)
        assert (await live.api.delete(member, headers=token())).status_code == 503
        assert await live.pool.fetchval("select count(*) from workspace_repositories") == 1


async def test_metrics_series_summary_and_bounds(start_live: LiveFactory) -> None:
    async with start_live(**_settings()) as live:
        created = await _create(live)
        # the window ends yesterday, the last computed day; today's row (99) is not read
        today = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        for offset, total in [(-1, 99), (0, 4), (1, 2), (2, 6), (3, 3), (5, 1)]:
            await live.pool.execute(
                "insert into workspace_metrics_daily (workspace_id, date, total_prs,"
                " prs_opened, prs_merged, prs_closed, open_at_end, active_contributors,"
                " reviews, comments, pr_velocity, trend_total_prs)"
                " values ($1, $2, $3, $3, 1, 0, 0, 1, 2, 3, 1, 0)",
                created["id"],
                today - dt.timedelta(days=offset),
                total,
            )
        url = f"/api/workspaces/{created['id']}/metrics"
        response = await live.api.get(url, params={"days": 3}, headers=token())
        assert response.status_code == 200, response.text
        body = response.json()
        assert [row["total_prs"] for row in body["series"]] == [6, 2, 4]
        summary = body["summary"]
        assert summary["totalPrs"] == 12 and summary["previousTotalPrs"] == 4  # days 3-5
        assert summary["trend"] == 200 and summary["prVelocity"] == 1.0
        for bad in ({"days": 0}, {"days": 367}, {"days": "x"}, {"since": "1"}):
            refused = await live.api.get(url, params=bad, headers=token())
            assert refused.status_code == 400, bad
