"""The foundation end to end: sync, event, signed step calls, memoized steps, retries, failure."""

from __future__ import annotations

from typing import Any

import inngest
import pytest

from functions import FAMILIES
from inngest_app.services import Services
from tests.harness import LiveFactory


async def test_ping_runs_to_completion_with_memoized_steps(start_live: LiveFactory) -> None:
    async with start_live() as live:
        assert "inngest-app-ping" in live.executor.functions
        await live.executor.send({"name": "app/ping", "data": {"message": "hello", "pause_s": 30}})
        await live.executor.run_until_idle(advance_clock=False)
        [run] = live.executor.runs("ping")
        assert run.status == "sleeping"  # first step done, durable sleep pending
        assert await live.pool.fetchval("select count(*) from pings") == 1
        await live.executor.run_until_idle()
        assert run.status == "completed", run.error
        assert run.output["message"] == "hello"
        assert run.output["ping"]["step"] == "ping" and run.output["pong"]["step"] == "pong"
        assert run.step_names() == ["record-ping", "record-pong"]
        assert run.step_names("Sleep") == ["pause"]
        # each step body ran once; later calls replayed memoized results
        assert await live.pool.fetchval("select count(*) from pings") == 2
        assert run.calls == 4  # step 1, sleep, step 2, final return
        [finished] = [e for e in live.executor.events if e["name"] == "inngest/function.finished"]
        assert finished["data"]["run_id"] == run.run_id


async def test_ping_in_cloud_mode_runs_over_signed_http(start_live: LiveFactory) -> None:
    async with start_live(cloud=True) as live:
        await live.executor.send({"name": "app/ping", "data": {"pause_s": 1}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("ping")
        assert run.status == "completed", run.error


async def test_bad_payload_fails_without_retry_naming_the_field(start_live: LiveFactory) -> None:
    async with start_live() as live:
        await live.executor.send({"name": "app/ping", "data": {"pause_s": "soon"}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("ping")
        assert run.status == "failed"
        assert "pause_s" in run.error["message"]
        assert run.retries == 0
        assert await live.pool.fetchval("select count(*) from pings") == 0


def _flaky_family(services: Services) -> list[inngest.Function[Any]]:
    @services.inngest.create_function(
        fn_id="always-fails",
        trigger=inngest.TriggerEvent(event="test/fail"),
        retries=2,
        on_failure=_record_failure,
    )
    async def always_fails(ctx: inngest.Context) -> None:
        async def explode() -> None:
            raise RuntimeError("upstream is down")

        await ctx.step.run("explode", explode)

    return [always_fails]


FAILURES: list[dict[str, Any]] = []


async def _record_failure(ctx: inngest.Context) -> None:
    FAILURES.append(dict(ctx.event.data))


async def test_failing_step_is_retried_then_the_run_fails(
    start_live: LiveFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("functions.FAMILIES", (*FAMILIES, _flaky_family))
    FAILURES.clear()
    async with start_live() as live:
        await live.executor.send({"name": "test/fail", "data": {"n": 1}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("always-fails")
        assert run.status == "failed"
        assert "upstream is down" in run.error["message"]
        attempts = [r.attempt for r in run.step_log if r.op in ("StepError", "StepFailed")]
        assert attempts == [0, 1, 2]  # retries=2 → 3 attempts
        [failed] = [e for e in live.executor.events if e["name"] == "inngest/function.failed"]
        assert failed["data"]["function_id"] == "inngest-app-always-fails"
        assert failed["data"]["run_id"] == run.run_id
        [handler] = live.executor.runs("always-fails-failure")
        assert handler.status == "completed"
        assert FAILURES and FAILURES[0]["run_id"] == run.run_id


def _counter_family(services: Services) -> list[inngest.Function[Any]]:
    calls = {"n": 0}

    @services.inngest.create_function(
        fn_id="flaky-twice", trigger=inngest.TriggerEvent(event="test/flaky"), retries=3
    )
    async def flaky(ctx: inngest.Context) -> int:
        async def attempt() -> int:
            calls["n"] += 1
            if calls["n"] < 3:
                raise RuntimeError(f"attempt {calls['n']} failed")
            return calls["n"]

        return await ctx.step.run("attempt", attempt)

    return [flaky]


async def test_step_that_fails_twice_then_succeeds(
    start_live: LiveFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("functions.FAMILIES", (*FAMILIES, _counter_family))
    async with start_live() as live:
        await live.executor.send({"name": "test/flaky", "data": {}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("flaky-twice")
        assert run.status == "completed" and run.output == 3
        assert run.retries == 2


async def test_run_context_reaches_log_records(
    start_live: LiveFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with start_live(monitoring_enabled=False) as live:
        caplog.set_level("INFO")
        await live.executor.send({"name": "app/ping", "data": {"pause_s": 0}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("ping")
        records = [r for r in caplog.records if getattr(r, "run_id", None) == run.run_id]
        assert records, "no log record carried the run id"
        assert all(r.function_id == "inngest-app-ping" for r in records)


def _streaming_family(services: Services) -> list[inngest.Function[Any]]:
    @services.inngest.create_function(fn_id="slowish", trigger=inngest.TriggerEvent(event="t/s"))
    async def slowish(ctx: inngest.Context) -> str:
        await ctx.step.run("one", _one)
        return "streamed"

    return [slowish]


async def _one() -> int:
    return 1


async def test_streaming_responses_are_followed(
    start_live: LiveFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("functions.FAMILIES", (*FAMILIES, _streaming_family))
    monkeypatch.setenv("INNGEST_STREAMING", "force")
    async with start_live() as live:
        await live.executor.send({"name": "t/s", "data": {}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("slowish")
        assert run.status == "completed" and run.output == "streamed"
