"""The skills API: validation, size and rate limits, auth and ownership, feedback scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.harness import Live, LiveFactory
from tests.skills.support import (
    ANTHROPIC_URL,
    USER,
    message_ok,
    skill_settings,
    start_run,
    token,
)

ADMIN_KEY = "admin-key-0123456789"


async def nothing_written(live: Live) -> None:
    for table in ("runs", "outputs", "feedback"):
        assert await live.pool.fetchval(f"select count(*) from {table}") == 0
    assert not [e for e in live.executor.events if e["name"] == "skill.execute"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": "hi"}, "skillName"),
        ({"skillName": "marketing-brief"}, "message"),
        ({"skillName": "marketing-brief", "message": ""}, "message"),
        ({"skillName": "marketing-brief", "message": "hi", "clientId": "nope"}, "clientId"),
        ({"skillName": "marketing-brief", "message": "hi", "options": {"a": [1]}}, "options"),
        ({"skillName": "marketing-brief", "message": "hi", "surprise": 1}, "surprise"),
    ],
)
async def test_invalid_run_requests_are_400_naming_the_field(
    start_live: LiveFactory, tmp_path: Path, body: dict[str, Any], field: str
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        response = await live.api.post("/api/runs", json=body, headers=token())
        assert response.status_code == 400, response.text
        assert field in response.json()["error"]
        await nothing_written(live)


async def test_a_message_over_32_kb_is_413(start_live: LiveFactory, tmp_path: Path) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        body = {"skillName": "marketing-brief", "message": "é" * (16 * 1024 + 1)}  # 32 kB + 2
        response = await live.api.post("/api/runs", json=body, headers=token())
        assert response.status_code == 413
        assert response.json()["code"] == "message_too_large"
        await nothing_written(live)
        at_limit = {"skillName": "marketing-brief", "message": "a" * 32 * 1024}
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        assert (await live.api.post("/api/runs", json=at_limit, headers=token())).status_code == 202


async def test_unknown_inactive_skill_and_someone_elses_client_are_404(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "skills"
    folder.mkdir()
    (folder / "retired.md").write_text(
        "---\nname: retired\nmodel: m\nactive: false\n---\nSay {{ message }}\n"
    )
    (folder / "live.md").write_text("---\nname: live\nmodel: m\n---\nSay {{ message }}\n")
    async with start_live(**skill_settings(tmp_path, skills_dir=folder)) as live:
        for name in ("nope", "retired"):
            response = await live.api.post(
                "/api/runs", json={"skillName": name, "message": "hi"}, headers=token()
            )
            assert response.status_code == 404 and response.json()["code"] == "unknown_skill"
        assert await live.pool.fetchval("select active from skills where name = 'retired'") is False
        theirs = await live.pool.fetchval(
            "select (skill_client_upsert('someone-else', 'acme', 'Acme') ->> 'id')"
        )
        response = await live.api.post(
            "/api/runs",
            json={"skillName": "live", "message": "hi", "clientId": theirs},
            headers=token(),
        )
        assert response.status_code == 404 and response.json()["code"] == "unknown_client"
        await nothing_written(live)


async def test_past_the_hourly_allowance_is_429_with_retry_after(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path, skill_runs_per_hour=2)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        await start_run(live)
        await start_run(live)
        refused = await live.api.post(
            "/api/runs", json={"skillName": "marketing-brief", "message": "x"}, headers=token()
        )
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
        assert 3500 <= int(refused.headers["retry-after"]) <= 3600
        assert await live.pool.fetchval("select count(*) from runs") == 2
        # another user has an allowance of their own
        await start_run(live, user="user-2")


async def test_auth_and_ownership(start_live: LiveFactory, tmp_path: Path) -> None:
    async with start_live(**skill_settings(tmp_path, monitoring_api_key=ADMIN_KEY)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        body = {"skillName": "marketing-brief", "message": "hi"}
        assert (await live.api.post("/api/runs", json=body)).status_code == 401
        forged = await live.api.post("/api/runs", json={**body, "userId": "v"}, headers=token())
        assert forged.status_code == 403
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        assert (await live.api.post("/api/runs", json=body, headers=admin)).status_code == 400
        run_id = await start_run(live)
        await live.executor.run_until_idle()
        output_id = await live.pool.fetchval("select id::text from outputs")
        for path in (f"/api/runs/{run_id}", f"/api/outputs/{output_id}"):
            assert (await live.api.get(path, headers=token("intruder"))).status_code == 404
            assert (await live.api.get(path, headers=admin)).status_code == 200
            assert (await live.api.get(path, headers=token())).status_code == 200
        stolen = await live.api.post(
            f"/api/outputs/{output_id}/feedback", json={"overall": 1}, headers=token("intruder")
        )
        assert stolen.status_code == 404
        assert (await live.api.get("/api/runs/not-a-uuid", headers=token())).status_code == 404
        on_behalf = await live.api.post(
            "/api/runs", json={**body, "userId": "user-9"}, headers=admin
        )
        assert on_behalf.status_code == 202


@pytest.mark.parametrize(
    "body",
    [
        {"overall": 0},
        {"overall": 6},
        {"overall": 3, "accuracy": 9},
        {"overall": 3, "quality": 0},
        {"overall": "3"},
        {"overall": 2.5},
        {},
    ],
)
async def test_feedback_scores_outside_1_to_5_are_400(
    start_live: LiveFactory, tmp_path: Path, body: dict[str, Any]
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        await start_run(live)
        await live.executor.run_until_idle()
        output_id = await live.pool.fetchval("select id::text from outputs")
        response = await live.api.post(
            f"/api/outputs/{output_id}/feedback", json=body, headers=token()
        )
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid_feedback"
        assert await live.pool.fetchval("select count(*) from feedback") == 0
        assert not [e for e in live.executor.events if e["name"] == "feedback.process"]


async def test_feedback_is_stored_and_sent(start_live: LiveFactory, tmp_path: Path) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        await start_run(live)
        await live.executor.run_until_idle()
        output_id = await live.pool.fetchval("select id::text from outputs")
        body = {"overall": 4, "accuracy": 5, "quality": 3, "issues": ["long"], "comment": "ok"}
        response = await live.api.post(
            f"/api/outputs/{output_id}/feedback", json=body, headers=token()
        )
        assert response.status_code == 201
        feedback_id = response.json()["feedbackId"]
        row = await live.pool.fetchrow("select * from feedback")
        assert str(row["id"]) == feedback_id and row["user_id"] == USER
        assert (row["overall"], row["accuracy"], row["quality"]) == (4, 5, 3)
        [sent] = [e for e in live.executor.events if e["name"] == "feedback.process"]
        assert sent["data"] == {"feedbackId": feedback_id, "skillName": "marketing-brief"}
