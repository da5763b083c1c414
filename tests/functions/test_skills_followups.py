"""After a skill run: notify-completion, feedback-process and monitor-executions end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.harness import Live, LiveFactory
from tests.skills.support import (
    ALERT_URL,
    ANTHROPIC_URL,
    BOT_TOKEN,
    TELEGRAM_URL,
    USER,
    answer,
    insert_run,
    message_ok,
    run_row,
    skill_settings,
    start_run,
    token,
)


async def add_channel(live: Live, channel: str, target: str, user: str = USER) -> str:
    return str(
        await live.pool.fetchval(
            "select skill_channel_upsert($1, $2, $3) ->> 'id'", user, channel, target
        )
    )


async def completed_run(live: Live) -> tuple[str, str]:
    """A completed run (and its output id), its follow-ups driven too."""
    run_id = await start_run(live)
    await live.executor.run_until_idle()
    row = await run_row(live, run_id)
    assert row["status"] == "completed", row["error"]
    output_id = await live.pool.fetchval("select id from outputs where run_id = $1", row["id"])
    return run_id, str(output_id)


async def test_one_step_per_channel_row_and_one_failing_channel_does_not_stop_the_others(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path, telegram_bot_token=BOT_TOKEN)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        first = await add_channel(live, "telegram", "111")
        second = await add_channel(live, "telegram", "222")
        third = await add_channel(live, "telegram", "333")
        answers = {
            "111": [httpx.Response(502)] * 10,  # down for good: retried, then given up
            "222": [answer(429, "telegram.sendMessage.too_many_requests.json")],
            "333": [answer(400, "telegram.sendMessage.chat_not_found.json")],
        }
        calls: list[str] = []

        def telegram(request: httpx.Request) -> httpx.Response:
            chat = json.loads(request.content)["chat_id"]
            calls.append(chat)
            if answers[chat]:
                return answers[chat].pop(0)
            return answer(200, "telegram.sendMessage.ok.json")

        live.mock.post(TELEGRAM_URL).mock(side_effect=telegram)
        await completed_run(live)
        [notify] = live.executor.runs("notify-completion")
        assert notify.status == "completed", notify.error
        ids = [f"notify-telegram-{first}", f"notify-telegram-{second}", f"notify-telegram-{third}"]
        assert [n for n in notify.step_names() if n.startswith("notify-")] == [ids[1], ids[2]]
        outcomes = notify.output["outcomes"]
        assert outcomes[ids[0]]["ok"] is False and "gave up" in outcomes[ids[0]]["detail"]
        assert outcomes[ids[1]]["ok"] is True  # after the rate limit's wait
        assert outcomes[ids[2]] == {
            "ok": False,
            "detail": "Telegram refused: Bad Request: chat not found",
        }
        assert calls.count("111") == 4  # retries 3
        assert calls.count("222") == 2 and calls.count("333") == 1
        assert notify.output["sent"] == 1
        assert BOT_TOKEN not in json.dumps([r.error for r in notify.step_log])
        assert BOT_TOKEN not in json.dumps(notify.output)


async def test_network_errors_never_leak_the_bot_token(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path, telegram_bot_token=BOT_TOKEN)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        await add_channel(live, "telegram", "111")
        live.mock.post(TELEGRAM_URL).mock(
            side_effect=httpx.ConnectError(f"cannot reach {TELEGRAM_URL}")
        )
        await completed_run(live)
        [notify] = live.executor.runs("notify-completion")
        assert notify.status == "completed"
        errors = json.dumps([r.error for r in notify.step_log])
        assert "Telegram unreachable: ConnectError" in errors
        assert BOT_TOKEN not in errors and BOT_TOKEN not in json.dumps(notify.output)


async def test_no_bot_token_means_the_telegram_channel_is_skipped(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        channel = await add_channel(live, "telegram", "111")
        await completed_run(live)
        [notify] = live.executor.runs("notify-completion")
        assert notify.output["outcomes"][f"notify-telegram-{channel}"] == {
            "ok": False,
            "detail": "TELEGRAM_BOT_TOKEN is not set",
        }


async def feedback(live: Live, output_id: str, body: dict[str, Any]) -> httpx.Response:
    return await live.api.post(f"/api/outputs/{output_id}/feedback", json=body, headers=token())


async def test_feedback_below_threshold_raises_one_alert(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path, alert_webhook_url=ALERT_URL)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        alerts = live.mock.post(ALERT_URL).mock(return_value=httpx.Response(200))
        users = [f"user-{i}" for i in range(10)]
        outputs = {}
        for user in users:
            run_id = await start_run(live, user=user)
            await live.executor.run_until_idle()
            row = await run_row(live, run_id)
            outputs[user] = str(
                await live.pool.fetchval("select id from outputs where run_id = $1", row["id"])
            )

        async def score(user: str, overall: int) -> None:
            response = await live.api.post(
                f"/api/outputs/{outputs[user]}/feedback",
                json={"overall": overall, "issues": ["vague"]},
                headers=token(user),
            )
            assert response.status_code == 201, response.text
            await live.executor.run_until_idle()

        for user, overall in zip(users, (4, 2, 1, 1, 2), strict=False):
            await score(user, overall)  # users 1..5: averages 4, 3, 2.33 (degraded), 2, 2
        runs = live.executor.runs("feedback-process")
        assert len(runs) == 5 and all(r.status == "completed" for r in runs)
        metrics = await live.pool.fetchrow("select * from skill_metrics")
        assert metrics["feedback_count"] == 5 and metrics["health"] == "degraded"
        assert float(metrics["avg_last_10"]) == 2.0
        assert alerts.call_count == 1
        posted = json.loads(alerts.calls.last.request.content)
        assert "marketing-brief is degraded" in posted["text"]
        rows = await live.pool.fetch("select * from skill_alerts")
        assert len(rows) == 1 and rows[0]["notified_at"] is not None
        # healthy again (every user's score replaced by a 5), then degraded again: a new alert
        for user in users:
            await score(user, 5)
        assert (await live.pool.fetchval("select health from skill_metrics")) == "healthy"
        for user in users[:6]:
            await score(user, 1)  # 6 ones and 4 fives over the last ten users: 2.6
        assert (await live.pool.fetchval("select health from skill_metrics")) == "degraded"
        assert alerts.call_count == 2


async def test_feedback_metrics_without_feedback_and_unknown_feedback(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        data = {"feedbackId": "00000000-0000-4000-8000-000000000000", "skillName": "x"}
        await live.executor.send({"name": "feedback.process", "data": data})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("feedback-process")
        assert run.status == "completed" and run.output == {"skipped": "no such feedback"}
        assert await live.pool.fetchval("select count(*) from skill_metrics") == 0
        await live.executor.send({"name": "feedback.process", "data": {"skillName": "x"}})
        await live.executor.run_until_idle()
        bad = live.executor.runs("feedback-process")[-1]
        assert bad.status == "failed" and "feedbackId" in (bad.error or {})["message"]


async def test_the_stuck_run_cron_fails_old_runs_resends_lost_ones_and_alerts_once(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path, alert_webhook_url=ALERT_URL)) as live:
        alerts = live.mock.post(ALERT_URL).mock(return_value=httpx.Response(200))
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        # a run stuck running for 11 minutes, a lost send 6 minutes ago, a healthy run 9 minutes in
        stuck = await insert_run(live, "running", "11 minutes")
        lost = await insert_run(live, "queued", "16 minutes")  # past the 15-minute start
        healthy = await insert_run(live, "running", "9 minutes")
        monitor = await live.executor.fire_cron("monitor-executions")
        await live.executor.run_until_idle()
        monitor = live.executor.run(monitor.run_id)
        assert monitor.status == "completed", monitor.error
        assert monitor.output == {"timedOut": 1, "resent": 1, "failedQueued": 0, "alerted": 1}
        assert (await run_row(live, stuck))["status"] == "failed"
        assert "timed out" in (await run_row(live, stuck))["error"]
        assert (await run_row(live, healthy))["status"] == "running"
        # the lost run was sent again and ran to completion
        resent = [e for e in live.executor.events if e.get("id") == f"skill-execute-{lost}-1"]
        assert len(resent) == 1 and resent[0]["data"]["runId"] == lost
        assert (await run_row(live, lost))["status"] == "completed"
        assert alerts.call_count == 1
        assert stuck in json.loads(alerts.calls.last.request.content)["text"]
        # five minutes later: nothing new, no second alert
        again = await live.executor.fire_cron("monitor-executions")
        await live.executor.run_until_idle()
        assert live.executor.run(again.run_id).output == {
            "timedOut": 0,
            "resent": 0,
            "failedQueued": 0,
            "alerted": 0,
        }
        assert alerts.call_count == 1


async def test_a_run_still_queued_after_its_resend_is_failed(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        run_id = await live.pool.fetchval(
            "insert into runs (user_id, skill_name, user_message, created_at, resent_at, resends)"
            " values ($1, 'marketing-brief', 'm', now() - interval '40 minutes',"
            " now() - interval '16 minutes', 1) returning id::text",
            USER,
        )
        monitor = await live.executor.fire_cron("monitor-executions")
        await live.executor.run_until_idle()
        assert live.executor.run(monitor.run_id).output["failedQueued"] == 1
        row = await run_row(live, run_id)
        assert row["status"] == "failed" and "not started" in row["error"]
        assert await live.pool.fetchval("select count(*) from skill_alerts") == 1


async def test_webhook_channels_go_through_the_guard_and_never_to_private_addresses(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    # even with private networks allowed for queries, a user's webhook may not reach one
    settings = skill_settings(tmp_path, query_allow_private_networks=True)
    async with start_live(**settings) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        slack = "https://hooks.slack.test/services/T000/B000/XXXX"
        hook = live.mock.post(slack).mock(return_value=httpx.Response(200, text="ok"))
        flaky_url = "https://hooks.example.test/flaky"
        flaky = live.mock.post(flaky_url).mock(
            side_effect=[httpx.Response(503), httpx.Response(200)]
        )
        inside = live.mock.post(url__regex=r"^http://(10\.|169\.254\.|\[::1\])").mock(
            return_value=httpx.Response(200)
        )
        good = await add_channel(live, "webhook", slack)
        retried = await add_channel(live, "webhook", flaky_url)
        private = await add_channel(live, "webhook", "http://10.0.0.7/hook")
        metadata = await add_channel(live, "webhook", "http://169.254.169.254/latest/meta-data")
        loopback = await add_channel(live, "webhook", "http://[::1]:8080/hook")
        run_id, output_id = await completed_run(live)
        [notify] = live.executor.runs("notify-completion")
        assert notify.status == "completed", notify.error
        outcomes = notify.output["outcomes"]
        assert outcomes[f"notify-webhook-{good}"]["ok"] is True
        assert outcomes[f"notify-webhook-{retried}"]["ok"] is True and flaky.call_count == 2
        for refused in (private, metadata, loopback):
            outcome = outcomes[f"notify-webhook-{refused}"]
            assert outcome["ok"] is False and "private_address" in outcome["detail"]
        assert inside.call_count == 0
        posted = json.loads(hook.calls.last.request.content)
        assert posted["runId"] == run_id and posted["outputId"] == output_id
        assert "is ready" in posted["text"]
