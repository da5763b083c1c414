"""Every run recorded, end to end: one row per run with the right status, steps, trigger,
duration and error; terminal states from system events; the alerts cron."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg
import httpx
import inngest
import pytest

from functions import FAMILIES
from inngest_app.services import Services
from tests.harness import Live, LiveFactory


async def drain(live: Live) -> None:
    """Write everything the recorder holds (its timer would, within a second)."""
    recorder = live.app.state.recorder
    while recorder.depth:
        assert await recorder.flush()


async def row(live: Live, run_id: str) -> asyncpg.Record:
    rows = await live.pool.fetch(
        "select * from inngest_function_executions where run_id = $1", run_id
    )
    assert len(rows) == 1, rows
    return rows[0]


def _families(services: Services) -> list[inngest.Function[Any]]:
    attempts = {"n": 0}

    @services.inngest.create_function(
        fn_id="flaky", trigger=inngest.TriggerEvent(event="test/flaky"), retries=3
    )
    async def flaky(ctx: inngest.Context) -> int:
        async def attempt() -> int:
            attempts["n"] += 1
            if attempts["n"] < 3:
                raise RuntimeError(f"attempt {attempts['n']} failed")
            return attempts["n"]

        return await ctx.step.run("attempt", attempt)

    @services.inngest.create_function(
        fn_id="doomed", trigger=inngest.TriggerEvent(event="test/doomed"), retries=2
    )
    async def doomed(ctx: inngest.Context) -> None:
        async def explode() -> None:
            raise RuntimeError("the upstream API is down")

        await ctx.step.run("explode", explode)

    @services.inngest.create_function(
        fn_id="napper",
        trigger=inngest.TriggerEvent(event="test/nap"),
        cancel=[inngest.Cancel(event="test/wake", if_exp="async.data.id == event.data.id")],
    )
    async def napper(ctx: inngest.Context) -> str:
        await ctx.step.run("before", _noop)
        await ctx.step.sleep("nap", dt.timedelta(hours=2))
        return "rested"

    @services.inngest.create_function(
        fn_id="looper", trigger=inngest.TriggerEvent(event="test/loop")
    )
    async def looper(ctx: inngest.Context) -> int:
        for _ in range(3):
            await ctx.step.run("same-id", _noop)
        await ctx.step.send_event("notify", inngest.Event(name="test/looped", data={}))
        return 3

    return [flaky, doomed, napper, looper]


async def _noop() -> None:
    return None


@pytest.fixture
def with_test_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("functions.FAMILIES", (*FAMILIES, _families))


async def test_two_step_function_is_one_completed_row(start_live: LiveFactory) -> None:
    async with start_live() as live:
        await live.executor.send({"name": "app/ping", "data": {"userId": "u-7", "pause_s": 5}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("ping")
        await drain(live)
        record = await row(live, run.run_id)
        assert record["status"] == "completed" and record["function_id"] == "inngest-app-ping"
        assert record["step_count"] == 2 and record["other_step_count"] == 1  # two runs, a sleep
        assert record["trigger_type"] == "event" and record["user_id"] == "u-7"
        assert record["duration_ms"] > 0 and record["attempts"] == 1
        assert record["event_id"] == run.event["id"] and record["error_message"] is None


async def test_failing_then_succeeding_is_one_row_with_its_attempts(
    start_live: LiveFactory, with_test_functions: None
) -> None:
    async with start_live() as live:
        await live.executor.send({"name": "test/flaky", "data": {"triggerType": "manual"}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("flaky")
        await drain(live)
        record = await row(live, run.run_id)
        assert record["status"] == "completed" and record["attempts"] == 3
        assert record["step_count"] == 1 and record["trigger_type"] == "manual"
        assert record["duration_ms"] > 0


async def test_a_run_that_fails_for_good_is_one_failed_row(
    start_live: LiveFactory, with_test_functions: None
) -> None:
    async with start_live() as live:
        await live.executor.send({"name": "test/doomed", "data": {}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("doomed")
        assert run.status == "failed"
        [handler] = live.executor.runs("record-terminal-state")
        assert handler.status == "completed"
        await drain(live)
        record = await row(live, run.run_id)
        assert record["status"] == "failed" and record["attempts"] == 3
        assert "the upstream API is down" in record["error_message"]
        assert record["error_stack"] and record["duration_ms"] > 0
        assert record["step_count"] == 1  # the step that failed for good ran, and is billed


async def test_a_cancelled_run_is_one_cancelled_row(
    start_live: LiveFactory, with_test_functions: None
) -> None:
    async with start_live() as live:
        await live.executor.send({"name": "test/nap", "data": {"id": "n1"}})
        await live.executor.run_until_idle(advance_clock=False)
        await live.executor.send({"name": "test/wake", "data": {"id": "n1"}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("napper")
        assert run.status == "cancelled"
        await drain(live)
        record = await row(live, run.run_id)
        assert record["status"] == "cancelled" and record["error_message"] == "function cancelled"
        assert record["step_count"] == 1 and record["other_step_count"] == 1
        assert record["duration_ms"] > 0


async def test_a_cron_run_is_scheduled_and_loops_count_every_step(
    start_live: LiveFactory, with_test_functions: None
) -> None:
    async with start_live() as live:
        cron = await live.executor.fire_cron("monitoring-alerts")
        await live.executor.send({"name": "test/loop", "data": {}})
        await live.executor.run_until_idle()
        await drain(live)
        record = await row(live, cron.run_id)
        assert record["status"] == "completed" and record["trigger_type"] == "scheduled"
        assert json.loads(record["metadata"]) == {"cron": "*/15 * * * *"}
        assert record["step_count"] == 2 and record["duration_ms"] > 0
        [loop] = live.executor.runs("looper")
        looped = await row(live, loop.run_id)
        assert looped["step_count"] == 3  # one id, three steps
        assert looped["other_step_count"] == 1  # the sent event


async def test_alerts_cron_records_and_posts_when_a_threshold_is_crossed(
    start_live: LiveFactory,
) -> None:
    hook = "https://hooks.example.test/alerts"
    async with start_live(alert_webhook_url=hook, alert_max_steps_per_hour=2) as live:
        posted = live.mock.post(hook).mock(return_value=httpx.Response(200))
        for _ in range(2):
            await live.executor.send({"name": "app/ping", "data": {"pause_s": 0}})
        await live.executor.run_until_idle()
        await drain(live)
        cron = await live.executor.fire_cron("monitoring-alerts")
        await live.executor.run_until_idle()
        assert cron.status == "completed", cron.error
        assert cron.output["alerts"] == 1
        [alert] = await live.pool.fetch("select * from monitoring_alerts")
        assert alert["kind"] == "steps" and alert["observed"] > 2 and alert["notified"]
        assert (
            posted.call_count == 1 and b"steps in the last hour" in posted.calls[0].request.content
        )
        again = await live.executor.fire_cron("monitoring-alerts")
        await live.executor.run_until_idle()
        assert again.output["alerts"] == 0 and posted.call_count == 1  # once per window


async def test_malformed_event_data_never_breaks_recording(start_live: LiveFactory) -> None:
    async with start_live() as live:
        await live.executor.send({"name": "app/ping", "data": {"userId": ["odd"], "pause_s": 0}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("ping")
        await drain(live)
        record = await row(live, run.run_id)
        assert record["status"] == "completed" and record["user_id"] is None


async def test_metrics_are_exported_for_prometheus(start_live: LiveFactory) -> None:
    async with start_live() as live:
        await live.executor.send({"name": "app/ping", "data": {"pause_s": 0}})
        await live.executor.run_until_idle()
        response = await live.api.get("/metrics")
        assert response.status_code == 200
        text = response.text
        assert (
            'inngest_app_function_runs_total{function_id="inngest-app-ping",status="completed"} 1.0'
            in text
        )
        assert (
            'inngest_app_function_steps_total{function_id="inngest-app-ping",kind="StepRun"} 2.0'
            in text
        )
        assert "inngest_app_function_duration_seconds_bucket" in text
        assert "inngest_app_monitoring_buffer_depth" in text
        assert "inngest_app_monitoring_dropped_total 0.0" in text
