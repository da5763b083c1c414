"""Every accepted skill run completes or says why, and every alert is delivered once: bursts
within the allowance, resends, cancelled runs, retried sweeps and failed alert deliveries,
through the API, the test executor and every function on the way."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from inngest_app.repos.skills import SkillsRepo, Sweep
from tests.harness import Live, LiveFactory
from tests.skills.support import (
    ALERT_URL,
    ANTHROPIC_URL,
    insert_run,
    message_ok,
    run_row,
    skill_settings,
    start_run,
    token,
)


def skill_runs(live: Live) -> list[Any]:
    return live.executor.runs("skill-execute")


async def statuses(live: Live) -> dict[str, int]:
    rows = await live.pool.fetch("select status, count(*) as n from runs group by status")
    return {r["status"]: r["n"] for r in rows}


@pytest.mark.parametrize(("allowance", "burst"), [(60, 60), (100, 56)])
async def test_a_burst_within_the_allowance_completes_every_run(
    start_live: LiveFactory, tmp_path: Path, allowance: int, burst: int
) -> None:
    # 10 starts a minute: a burst of 60 takes ~6 minutes to start, past the old 5-minute
    # `timeouts.start`; the start timeout now covers the whole backlog the allowance permits
    settings = skill_settings(tmp_path, skill_runs_per_hour=allowance)
    async with start_live(**settings) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        ids = [await start_run(live) for _ in range(burst)]
        await live.executor.run_until_idle()
        assert await statuses(live) == {"completed": burst}
        cancelled = [r for r in skill_runs(live) if r.status != "completed"]
        assert cancelled == []
        assert await live.pool.fetchval("select count(*) from outputs") == burst
        response = await live.api.get(f"/api/runs/{ids[-1]}", headers=token())
        assert response.json()["status"] == "completed"


async def test_a_cancelled_execution_marks_its_run_at_once_with_the_reason(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        run_id = await start_run(live)
        live.clock.advance(24 * 3600)  # far past any start timeout: Inngest cancels it
        await live.executor.run_until_idle()
        [execution] = skill_runs(live)
        assert execution.status == "cancelled"
        assert [r.reason for r in execution.reasons] == ["timed_out"]
        response = await live.api.get(f"/api/runs/{run_id}", headers=token())
        run = response.json()
        assert run["status"] == "failed", run
        assert run["error"].startswith("cancelled by Inngest before it started")
        failed = [e for e in live.executor.events if e["name"] == "skill.execute.failed"]
        assert [e["data"]["runId"] for e in failed] == [run_id]


async def test_a_finish_timeout_fails_the_run_that_held_it(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        called, gate = asyncio.Event(), asyncio.Event()

        async def slow_model(request: httpx.Request) -> httpx.Response:
            called.set()
            await gate.wait()
            return message_ok()

        live.mock.post(ANTHROPIC_URL).mock(side_effect=slow_model)
        run_id = await start_run(live)
        driving = asyncio.create_task(live.executor.run_until_idle())
        try:
            await asyncio.wait_for(called.wait(), 30)
            assert (await run_row(live, run_id))["status"] == "running"
            live.clock.advance(24 * 3600)  # past `timeouts.finish` while the model thinks
        finally:
            gate.set()
            await driving
        [execution] = skill_runs(live)
        assert execution.status == "cancelled"
        row = await run_row(live, run_id)
        assert row["status"] == "failed" and row["error"].startswith("cancelled by Inngest while")


async def test_a_resend_starts_a_run_and_a_duplicate_send_does_not(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        llm = live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        await start_run(live)
        await start_run(live)
        run_id = await start_run(live)  # throttled behind the two before it
        [original] = [
            e
            for e in live.executor.events
            if e["name"] == "skill.execute" and e["data"]["runId"] == run_id
        ]
        assert original["data"]["resend"] == 0
        await live.executor.run_until_idle(advance_clock=False)
        # the send reached Inngest, but while it waits the run looks lost to the monitor
        await live.pool.execute(
            "update runs set created_at = now() - interval '3 hours' where id = $1", run_id
        )
        await live.executor.fire_cron("monitor-executions")
        await live.executor.run_until_idle(advance_clock=False)
        assert (await run_row(live, run_id))["status"] == "queued"
        await live.executor.run_until_idle()
        resent = [e for e in live.executor.events if e.get("id") == f"skill-execute-{run_id}-1"]
        assert len(resent) == 1 and resent[0]["data"]["resend"] == 1
        # the resend was not dropped as a duplicate of the first send
        idempotent = [
            r for r in skill_runs(live) if any(x.reason == "idempotency" for x in r.reasons)
        ]
        assert idempotent == []
        assert (await run_row(live, run_id))["status"] == "completed"
        assert llm.call_count == 3
        # the same send again (another event id, same run and resend number) starts nothing
        await live.executor.send({"name": "skill.execute", "data": resent[0]["data"]})
        await live.executor.send({"name": "skill.execute", "data": original["data"]})
        await live.executor.run_until_idle()
        dropped = [r for r in skill_runs(live) if r.status == "skipped"]
        assert len(dropped) == 2
        assert all(r.reasons[0].reason == "idempotency" for r in dropped)
        assert await live.pool.fetchval("select count(*) from outputs") == 3


async def test_a_sweep_retried_after_a_lost_reply_still_resends_its_runs(
    start_live: LiveFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_sweep = SkillsRepo.sweep
    lost = {"replies": 1}

    async def sweep_losing_its_reply(self: SkillsRepo, **kwargs: Any) -> Sweep:
        swept = await real_sweep(self, **kwargs)  # committed
        if lost["replies"]:
            lost["replies"] -= 1
            raise ConnectionResetError("connection lost before the reply")
        return swept

    monkeypatch.setattr(SkillsRepo, "sweep", sweep_losing_its_reply)
    async with start_live(**skill_settings(tmp_path, alert_webhook_url=ALERT_URL)) as live:
        alerts = live.mock.post(ALERT_URL).mock(return_value=httpx.Response(200))
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        lost_runs = [await insert_run(live, "queued", "3 hours") for _ in range(3)]
        stuck = await insert_run(live, "running", "3 hours")
        monitor = await live.executor.fire_cron("monitor-executions")
        await live.executor.run_until_idle()
        monitor = live.executor.run(monitor.run_id)
        assert monitor.status == "completed", monitor.error
        assert monitor.output["resent"] == 3 and monitor.output["timedOut"] == 1
        for run_id in lost_runs:
            assert (await run_row(live, run_id))["status"] == "completed"
        assert (await run_row(live, stuck))["status"] == "failed"
        assert alerts.call_count == 1
        assert lost["replies"] == 0


async def test_a_stuck_run_alert_whose_first_post_fails_is_posted_by_the_next_run_once(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path, alert_webhook_url=ALERT_URL)) as live:
        down = {"on": True}
        posted: list[dict[str, Any]] = []

        def webhook(request: httpx.Request) -> httpx.Response:
            if down["on"]:
                return httpx.Response(503)
            posted.append(json.loads(request.content))
            return httpx.Response(200)

        live.mock.post(ALERT_URL).mock(side_effect=webhook)
        stuck = await insert_run(live, "running", "3 hours")
        first = await live.executor.fire_cron("monitor-executions")
        await live.executor.run_until_idle()
        assert live.executor.run(first.run_id).status == "failed"
        assert (await run_row(live, stuck))["status"] == "failed"
        alert = await live.pool.fetchrow("select * from skill_alerts")
        assert alert["notified_at"] is None and alert["claimed_by"] is None  # released
        down["on"] = False
        for _ in range(3):  # the next run posts it; the ones after have nothing to post
            await live.executor.fire_cron("monitor-executions")
            await live.executor.run_until_idle()
        assert len(posted) == 1 and stuck in posted[0]["text"]
        assert await live.pool.fetchval("select notified_at from skill_alerts") is not None


async def give_feedback(live: Live, user: str, score: int, output_id: str | None = None) -> str:
    """A run of `user`'s (unless `output_id` is given) and their score on its output."""
    if output_id is None:
        run_id = await start_run(live, user=user)
        await live.executor.run_until_idle()
        output_id = str(
            await live.pool.fetchval("select id from outputs where run_id = $1::uuid", run_id)
        )
    response = await live.api.post(
        f"/api/outputs/{output_id}/feedback", json={"overall": score}, headers=token(user)
    )
    assert response.status_code == 201, response.text
    await live.executor.run_until_idle()
    return output_id


async def test_a_degraded_alert_whose_post_fails_is_posted_later_once(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path, alert_webhook_url=ALERT_URL)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        down = {"on": True}
        posted: list[str] = []

        def webhook(request: httpx.Request) -> httpx.Response:
            if down["on"]:
                return httpx.Response(500)
            posted.append(json.loads(request.content)["text"])
            return httpx.Response(200)

        live.mock.post(ALERT_URL).mock(side_effect=webhook)
        for user in ("ann", "ben", "cat"):
            await give_feedback(live, user, 1)
        assert await live.pool.fetchval("select health from skill_metrics") == "degraded"
        assert posted == []
        down["on"] = False
        for _ in range(2):
            await live.executor.fire_cron("monitor-executions")
            await live.executor.run_until_idle()
        assert len(posted) == 1 and "marketing-brief is degraded" in posted[0]
        assert await live.pool.fetchval("select count(*) from skill_alerts") == 1
        # a claim lasts 15 minutes: a run that dies mid-post leaves it to the run after that
        lease = await live.pool.fetchval(
            "select extract(epoch from claim_expires - now()) from skill_alerts"
        )
        assert 14 * 60 < lease <= 15 * 60


async def test_one_user_cannot_flip_a_skills_health(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path, alert_webhook_url=ALERT_URL)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        alerts = live.mock.post(ALERT_URL).mock(return_value=httpx.Response(200))
        # alone, a user's scores make no health at all
        mine = await give_feedback(live, "troll", 1)
        metrics = await live.pool.fetchrow("select * from skill_metrics")
        assert metrics["health"] == "unknown"
        for user in ("ann", "ben", "cat"):
            await give_feedback(live, user, 5)
        first = None
        for _ in range(12):  # one score per user and output: each new one replaces the old
            response = await live.api.post(
                f"/api/outputs/{mine}/feedback", json={"overall": 1}, headers=token("troll")
            )
            assert response.status_code == 201
            first = first or response.json()["feedbackId"]
            assert response.json()["feedbackId"] == first
            await live.executor.run_until_idle()
        for _ in range(3):  # more outputs of their own: still one voice
            await give_feedback(live, "troll", 1)
        metrics = await live.pool.fetchrow("select * from skill_metrics")
        assert metrics["health"] == "healthy"
        assert float(metrics["avg_last_10"]) == 4.0  # (5 + 5 + 5 + 1) / 4 users
        assert metrics["feedback_count"] == 3 + 4  # one row per user and output
        rows = await live.pool.fetch("select * from feedback where user_id = 'troll'")
        assert len(rows) == 4
        assert alerts.call_count == 0


async def test_health_is_over_the_last_ten_distinct_users(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        outputs = {}
        for i in range(11):  # user u0 scored first: only the last ten users count
            outputs[i] = await give_feedback(live, f"u{i}", 1 if i == 0 else 3)
        metrics = await live.pool.fetchrow("select * from skill_metrics")
        assert float(metrics["avg_last_10"]) == 3.0 and metrics["health"] == "healthy"
        # u1 changes their mind: their one score is now 1 and counts as the latest
        await give_feedback(live, "u1", 1, outputs[1])
        metrics = await live.pool.fetchrow("select * from skill_metrics")
        assert float(metrics["avg_last_10"]) == 2.8 and metrics["health"] == "degraded"


async def test_unknown_feedback_ids_and_random_runs_write_nothing(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        response = await live.api.post(
            f"/api/outputs/{uuid.uuid4()}/feedback", json={"overall": 1}, headers=token()
        )
        assert response.status_code == 404
        assert await live.pool.fetchval("select count(*) from feedback") == 0
