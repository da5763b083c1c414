"""skill-execute's flow control as the test executor enforces it: 10 starts a minute per user,
10 runs at once per user, each user on their own; one run per runId."""

from __future__ import annotations

import asyncio
import collections
import json
from pathlib import Path

import httpx
import pytest

from tests.harness import Live, LiveFactory
from tests.skills.support import (
    ANTHROPIC_URL,
    message_ok,
    skill_settings,
    start_run,
)


def starts(live: Live, user: str) -> list[float]:
    return sorted(
        run.first_call_at
        for run in live.executor.runs("skill-execute")
        if run.event["data"]["userId"] == user and run.first_call_at is not None
    )


async def test_throttle_ten_a_minute_per_user(start_live: LiveFactory, tmp_path: Path) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        t0 = live.clock.now()
        for _ in range(12):
            await start_run(live, user="alice")
        await start_run(live, user="bob")
        await live.executor.run_until_idle()
        runs = live.executor.runs("skill-execute")
        assert len(runs) == 13 and all(r.status == "completed" for r in runs)
        alice = starts(live, "alice")
        # 10 a minute (burst 1): never more than 11 starts in any 60 s, so 12 need > 54 s
        assert all(sum(1 for s in alice if first <= s < first + 60) <= 11 for first in alice)
        assert alice[-1] - alice[0] >= 54
        throttled = [
            r
            for r in runs
            if r.event["data"]["userId"] == "alice"
            and any(reason.reason == "throttled" for reason in r.reasons)
        ]
        assert len(throttled) >= 10
        # bob has a throttle of his own: he starts at once
        [bob] = starts(live, "bob")
        assert bob - t0 < 1


async def test_ten_at_once_per_user(
    start_live: LiveFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # let all runs start at once, so only the concurrency limit holds them back
    monkeypatch.setattr("inngest_app.skills.flow.THROTTLE_BURST", 100)
    async with start_live(**skill_settings(tmp_path)) as live:
        gate, reached = asyncio.Event(), asyncio.Event()
        in_flight: collections.Counter[str] = collections.Counter()
        peak: collections.Counter[str] = collections.Counter()

        async def slow_model(request: httpx.Request) -> httpx.Response:
            prompt = json.loads(request.content)["messages"][0]["content"]
            user = "alice" if "from alice" in prompt else "bob"
            in_flight[user] += 1
            peak[user] = max(peak[user], in_flight[user])
            if in_flight["alice"] == 10 and in_flight["bob"] == 2:
                reached.set()
            try:
                await gate.wait()
            finally:
                in_flight[user] -= 1
            return message_ok()

        live.mock.post(ANTHROPIC_URL).mock(side_effect=slow_model)
        for _ in range(12):
            await start_run(live, user="alice", message="a launch from alice")
        for _ in range(2):
            await start_run(live, user="bob", message="a launch from bob")
        driving = asyncio.create_task(live.executor.run_until_idle())
        try:
            await asyncio.wait_for(reached.wait(), 30)
            await asyncio.sleep(0.5)  # time for an 11th to slip through, if it could
            assert in_flight["alice"] == 10 and in_flight["bob"] == 2
            waiting = [
                r
                for r in live.executor.runs("skill-execute")
                if any(reason.reason == "concurrency_limited" for reason in r.reasons)
            ]
            assert waiting and all(r.event["data"]["userId"] == "alice" for r in waiting)
        finally:
            gate.set()
            await driving
        runs = live.executor.runs("skill-execute")
        assert len(runs) == 14 and all(r.status == "completed" for r in runs)
        assert peak == {"alice": 10, "bob": 2}


async def test_a_duplicate_run_id_is_not_run_again(start_live: LiveFactory, tmp_path: Path) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        llm = live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        await start_run(live)
        [original] = [e for e in live.executor.events if e["name"] == "skill.execute"]
        await live.executor.run_until_idle()
        await live.executor.send({"name": "skill.execute", "data": original["data"]})
        await live.executor.run_until_idle()
        ran = [r for r in live.executor.runs("skill-execute") if r.first_call_at is not None]
        assert len(ran) == 1 and llm.call_count == 1
        assert await live.pool.fetchval("select count(*) from outputs") == 1
        completed = [e for e in live.executor.events if e["name"] == "skill.execute.completed"]
        assert len(completed) == 1
