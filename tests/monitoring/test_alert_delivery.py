"""The hourly usage alerts: an alert whose post fails is posted by a later run, exactly once, and
a check retried after a lost reply returns what the first attempt claimed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from inngest_app.repos.executions import ExecutionsRepo
from tests.harness import Live, LiveFactory

HOOK = "https://hooks.example.test/alerts"


async def busy_hour(live: Live, pings: int = 2) -> None:
    for _ in range(pings):
        await live.executor.send({"name": "app/ping", "data": {"pause_s": 0}})
    await live.executor.run_until_idle()
    recorder = live.app.state.recorder
    while recorder.depth:
        assert await recorder.flush()


async def fire(live: Live) -> Any:
    cron = await live.executor.fire_cron("monitoring-alerts")
    await live.executor.run_until_idle()
    return live.executor.run(cron.run_id)


async def test_an_alert_whose_first_post_fails_is_posted_by_the_next_run_once(
    start_live: LiveFactory,
) -> None:
    async with start_live(alert_webhook_url=HOOK, alert_max_steps_per_hour=2) as live:
        down = {"on": True}
        posted: list[dict[str, Any]] = []

        def webhook(request: httpx.Request) -> httpx.Response:
            if down["on"]:
                return httpx.Response(502)
            posted.append(json.loads(request.content))
            return httpx.Response(200)

        live.mock.post(HOOK).mock(side_effect=webhook)
        await busy_hour(live)
        first = await fire(live)
        assert first.status == "failed"
        [alert] = await live.pool.fetch("select * from monitoring_alerts")
        assert not alert["notified"]
        down["on"] = False
        runs = [await fire(live) for _ in range(3)]
        assert all(r.status == "completed" for r in runs)
        assert [r.output["alerts"] for r in runs] == [1, 0, 0]
        assert len(posted) == 1 and [a["id"] for a in posted[0]["alerts"]] == [alert["id"]]
        assert "steps in the last hour" in posted[0]["text"]
        assert await live.pool.fetchval("select notified from monitoring_alerts")


async def test_a_check_retried_after_a_lost_reply_posts_what_it_claimed(
    start_live: LiveFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ExecutionsRepo.claim_alerts
    lost = {"replies": 1}

    async def losing_its_reply(self: ExecutionsRepo, **kwargs: Any) -> dict[str, Any]:
        claimed = await real(self, **kwargs)
        if lost["replies"]:
            lost["replies"] -= 1
            raise ConnectionResetError("connection lost before the reply")
        return claimed

    monkeypatch.setattr(ExecutionsRepo, "claim_alerts", losing_its_reply)
    async with start_live(alert_webhook_url=HOOK, alert_max_steps_per_hour=2) as live:
        hook = live.mock.post(HOOK).mock(return_value=httpx.Response(200))
        await busy_hour(live)
        run = await fire(live)
        assert run.status == "completed", run.error
        assert run.output["alerts"] == 1 and hook.call_count == 1 and lost["replies"] == 0
        again = await fire(live)
        assert again.output["alerts"] == 0 and hook.call_count == 1
