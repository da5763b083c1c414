"""Flow control through the real app (`create_app`, Postgres, monitoring) with concurrent driving:
a `finish` timeout cancels a run, and monitoring records it as cancelled."""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest
import pytest

from functions import FAMILIES
from inngest_app.services import Services
from tests.harness import Live, LiveFactory


def _timed(services: Services) -> list[inngest.Function[Any]]:
    @services.inngest.create_function(
        fn_id="timed",
        trigger=inngest.TriggerEvent(event="test/timed"),
        timeouts=inngest.Timeouts(finish=dt.timedelta(minutes=10)),
    )
    async def timed(ctx: inngest.Context) -> str:
        await ctx.step.run("begin", lambda: None)
        await ctx.step.sleep("too-long", dt.timedelta(hours=1))
        return "finished"

    return [timed]


@pytest.fixture
def with_timed_function(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("functions.FAMILIES", (*FAMILIES, _timed))


async def _drain(live: Live) -> None:
    recorder = live.app.state.recorder
    while recorder.depth:
        assert await recorder.flush()


async def test_a_finish_timeout_cancels_the_run_and_monitoring_records_it_cancelled(
    start_live: LiveFactory, with_timed_function: None
) -> None:
    async with start_live() as live:
        assert live.executor.max_in_flight == 16
        await live.executor.send({"name": "test/timed", "data": {}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("timed")
        assert run.status == "cancelled" and run.ended_at == run.started_at + 600
        assert [r.reason for r in run.reasons] == ["timed_out"]
        [handler] = live.executor.runs("record-terminal-state")
        assert handler.status == "completed", handler.error
        await _drain(live)
        rows = await live.pool.fetch(
            "select status from inngest_function_executions where run_id = $1", run.run_id
        )
        assert [r["status"] for r in rows] == ["cancelled"]
