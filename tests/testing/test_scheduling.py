"""Flow control as Inngest applies it, one option per test, through a served app over HTTP.

Each test registers a small function with the option set through the Python SDK (so the
executor reads exactly the registration payload the SDK sends) and drives runs concurrently
(16 in flight) on a `ManualClock`: step bodies record the executor's time, so "starts a minute
later" is a fact about the clock, not about how fast the machine is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import inngest
import pytest

from inngest_app.testing import ManualClock, Run, TestExecutor
from tests.testing.support import Functions, Mini, mini_app

Build = Callable[[inngest.Inngest, ManualClock], Functions]


@asynccontextmanager
async def concurrent_app(build: Build, *, sync: bool = True) -> AsyncIterator[Mini]:
    """`mini_app` with 16 calls in flight; `build(client, clock)` sees the executor's clock."""
    clock = ManualClock()
    executor = TestExecutor(clock=clock, max_in_flight=16)
    async with mini_app(lambda client: build(client, clock), executor=executor, sync=sync) as mini:
        yield mini


async def rest_runs(mini: Mini, event_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=mini.executor_url) as http:
        response = await http.get(f"/v1/events/{event_id}/runs")
    assert response.status_code == 200
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def reasons(run: Run) -> list[str]:
    return [r.reason for r in run.reasons]


def _throttled(client: inngest.Inngest, clock: ManualClock) -> Functions:
    @client.create_function(
        fn_id="throttled",
        trigger=inngest.TriggerEvent(event="t/throttled"),
        throttle=inngest.Throttle(
            limit=2, period=dt.timedelta(minutes=1), burst=0, key="event.data.user"
        ),
    )
    async def throttled(ctx: inngest.Context) -> float:
        return await ctx.step.run("start", clock.now)

    return [throttled]


async def test_throttle_queues_starts_beyond_the_rate_per_key_and_drops_none() -> None:
    async with concurrent_app(_throttled) as mini:
        t0 = mini.clock.now()
        ids = await mini.executor.send(
            [{"name": "t/throttled", "data": {"user": u}} for u in ("a", "a", "a", "b")]
        )
        await mini.executor.run_until_idle()
        a1, a2, a3, b1 = mini.executor.runs("throttled")
        assert all(r.status == "completed" for r in (a1, a2, a3, b1))
        # 2 per minute: one start per 30 s (the Dev Server's GCRA, no burst), so the third
        # run of user a starts a minute after the first; user b has a limit of its own.
        assert [r.output - t0 for r in (a1, a2, a3)] == [0, 30, 60]
        assert b1.output == t0
        assert reasons(a1) == reasons(b1) == [] and reasons(a3) == ["throttled"]
        [shown] = await rest_runs(mini, ids[2])
        assert shown["status"] == "Completed"
        assert [r["reason"] for r in shown["reasons"]] == ["throttled"]


def _per_key(log: list[str], active: dict[str, int], peak: dict[str, int]) -> Build:
    def build(client: inngest.Inngest, clock: ManualClock) -> Functions:
        @client.create_function(
            fn_id="per-key",
            trigger=inngest.TriggerEvent(event="t/per-key"),
            concurrency=[inngest.Concurrency(limit=1, key="event.data.account")],
        )
        async def per_key(ctx: inngest.Context) -> None:
            account, n = ctx.event.data["account"], ctx.event.data["n"]

            async def work(name: str) -> None:
                active[account] = active.get(account, 0) + 1
                active["all"] = active.get("all", 0) + 1
                for key in (account, "all"):
                    peak[key] = max(peak.get(key, 0), active[key])
                log.append(f"{account}{n}.{name}")
                await asyncio.sleep(0.05)  # long enough for the executor to overlap calls
                active[account] -= 1
                active["all"] -= 1

            await ctx.step.run("work", work, "work")
            await ctx.step.sleep("rest", dt.timedelta(hours=1))
            await ctx.step.run("after", work, "after")

        return [per_key]

    return build


async def test_concurrency_per_key_runs_one_step_of_a_key_at_a_time_while_others_proceed() -> None:
    log: list[str] = []
    active: dict[str, int] = {}
    peak: dict[str, int] = {}
    async with concurrent_app(_per_key(log, active, peak)) as mini:
        await mini.executor.send(
            [
                {"name": "t/per-key", "data": {"account": account, "n": n}}
                for account, n in (("a", 1), ("a", 2), ("b", 1))
            ]
        )
        await mini.executor.run_until_idle()
        runs = mini.executor.runs("per-key")
        assert all(r.status == "completed" for r in runs), [r.error for r in runs]
    assert peak["a"] == 1 and peak["b"] == 1  # never two steps of one key at once...
    assert peak["all"] == 2  # ...while the other key's steps ran alongside
    # a sleeping run holds no slot: a2 worked while a1 slept, before either woke
    assert log.index("a2.work") < log.index("a1.after")
    assert "concurrency_limited" in reasons(runs[1])


def _rate_limited(client: inngest.Inngest, clock: ManualClock) -> Functions:
    @client.create_function(
        fn_id="rate-limited",
        trigger=inngest.TriggerEvent(event="t/sync"),
        rate_limit=inngest.RateLimit(
            limit=1, period=dt.timedelta(hours=4), key="event.data.company"
        ),
    )
    async def rate_limited(ctx: inngest.Context) -> str:
        return str(ctx.event.data["company"])

    return [rate_limited]


async def test_rate_limit_skips_events_beyond_the_limit_per_key() -> None:
    async with concurrent_app(_rate_limited) as mini:
        first, dropped, other = await mini.executor.send(
            [{"name": "t/sync", "data": {"company": c}} for c in ("c1", "c1", "c2")]
        )
        await mini.executor.run_until_idle()
        mini.clock.advance(4 * 3600)
        [later] = await mini.executor.send({"name": "t/sync", "data": {"company": "c1"}})
        await mini.executor.run_until_idle()
        statuses = {
            event_id: [r["status"] for r in await rest_runs(mini, event_id)]
            for event_id in (first, dropped, other, later)
        }
        assert statuses == {
            first: ["Completed"],
            dropped: ["Skipped"],
            other: ["Completed"],
            later: ["Completed"],
        }
        [skipped] = await rest_runs(mini, dropped)
        assert skipped["reasons"][0]["reason"] == "rate_limited"
        assert mini.executor.runs("rate-limited")[1].calls == 0  # the app never saw it


def _debounced(client: inngest.Inngest, clock: ManualClock) -> Functions:
    @client.create_function(
        fn_id="debounced",
        trigger=inngest.TriggerEvent(event="t/edit"),
        debounce=inngest.Debounce(
            period=dt.timedelta(seconds=30),
            key="event.data.doc",
            timeout=dt.timedelta(seconds=45),
        ),
    )
    async def debounced(ctx: inngest.Context) -> dict[str, Any]:
        at = await ctx.step.run("start", clock.now)
        return {"rev": ctx.event.data["rev"], "at": at, "events": len(ctx.events)}

    return [debounced]


async def test_debounce_runs_once_with_the_last_event_after_a_quiet_period() -> None:
    async with concurrent_app(_debounced) as mini:
        t0 = mini.clock.now()
        for rev in (1, 2, 3):
            await mini.executor.send({"name": "t/edit", "data": {"doc": "d1", "rev": rev}})
            await mini.executor.run_until_idle(advance_clock=False)
            mini.clock.advance(5)
        await mini.executor.send({"name": "t/edit", "data": {"doc": "d2", "rev": 1}})
        assert mini.executor.runs("debounced") == []  # nothing starts while edits come in
        await mini.executor.run_until_idle()
        d1, d2 = mini.executor.runs("debounced")
        # the last edit of d1 came at t0+10: 30 s of quiet later, one run with it alone
        assert d1.output == {"rev": 3, "at": t0 + 40, "events": 1}
        assert d2.output == {"rev": 1, "at": t0 + 45, "events": 1}
        assert reasons(d1) == ["debounced"] and len(d1.reasons[0].detail.split(",")) == 2


async def test_debounce_timeout_starts_the_run_despite_new_events() -> None:
    async with concurrent_app(_debounced) as mini:
        t0 = mini.clock.now()
        for rev in (1, 2, 3):  # an edit every 20 s: never 30 s of quiet
            await mini.executor.send({"name": "t/edit", "data": {"doc": "d", "rev": rev}})
            await mini.executor.run_until_idle(advance_clock=False)
            mini.clock.advance(20)
        await mini.executor.send({"name": "t/edit", "data": {"doc": "d", "rev": 4}})
        await mini.executor.run_until_idle()
        first, second = mini.executor.runs("debounced")
        # the timeout (45 s after the first edit) passed before rev 4 came, at t0+60
        assert first.output == {"rev": 3, "at": t0 + 60, "events": 1}
        assert second.output == {"rev": 4, "at": t0 + 90, "events": 1}


def _timeouts(client: inngest.Inngest, clock: ManualClock) -> Functions:
    @client.create_function(
        fn_id="slow",
        trigger=inngest.TriggerEvent(event="t/slow"),
        timeouts=inngest.Timeouts(finish=dt.timedelta(minutes=10)),
    )
    async def slow(ctx: inngest.Context) -> str:
        await ctx.step.run("begin", lambda: None)
        await ctx.step.sleep("too-long", dt.timedelta(hours=1))
        return "done"

    @client.create_function(
        fn_id="late",
        trigger=inngest.TriggerEvent(event="t/late"),
        throttle=inngest.Throttle(limit=1, period=dt.timedelta(hours=1), burst=0),
        timeouts=inngest.Timeouts(start=dt.timedelta(minutes=10)),
    )
    async def late(ctx: inngest.Context) -> str:
        return "started"

    return [slow, late]


async def test_timeouts_cancel_runs_that_do_not_start_or_finish_in_time() -> None:
    async with concurrent_app(_timeouts) as mini:
        t0 = mini.clock.now()
        await mini.executor.send([{"name": "t/slow"}, {"name": "t/late"}, {"name": "t/late"}])
        await mini.executor.run_until_idle()
        [slow] = mini.executor.runs("slow")
        started, never = mini.executor.runs("late")
        assert slow.status == "cancelled" and slow.ended_at == t0 + 600
        assert reasons(slow) == ["timed_out"] and "finish" in slow.reasons[0].detail
        assert started.status == "completed"
        # throttled to one start an hour, the second run is cancelled 10 minutes in
        assert never.status == "cancelled" and never.calls == 0 and never.ended_at == t0 + 600
        assert reasons(never) == ["throttled", "timed_out"]
        cancelled = [e for e in mini.executor.events if e["name"] == "inngest/function.cancelled"]
        assert {e["data"]["run_id"] for e in cancelled} == {slow.run_id, never.run_id}


def _idempotent(client: inngest.Inngest, clock: ManualClock) -> Functions:
    @client.create_function(
        fn_id="charge",
        trigger=inngest.TriggerEvent(event="t/charge"),
        idempotency="event.data.order",
    )
    async def charge(ctx: inngest.Context) -> str:
        return str(ctx.event.data["order"])

    return [charge]


async def test_idempotency_runs_once_per_key_in_24_hours() -> None:
    async with concurrent_app(_idempotent) as mini:
        await mini.executor.send(
            [{"name": "t/charge", "data": {"order": o}} for o in ("o1", "o1", "o2")]
        )
        await mini.executor.run_until_idle()
        mini.clock.advance(24 * 3600)
        await mini.executor.send({"name": "t/charge", "data": {"order": "o1"}})
        await mini.executor.run_until_idle()
        runs = mini.executor.runs("charge")
        assert [(r.output, r.status) for r in runs] == [
            ("o1", "completed"),
            (None, "skipped"),
            ("o2", "completed"),
            ("o1", "completed"),
        ]
        assert reasons(runs[1]) == ["idempotency"]


def _singletons(client: inngest.Inngest, clock: ManualClock) -> Functions:
    def make(mode: str) -> inngest.Function[Any]:
        @client.create_function(
            fn_id=f"single-{mode}",
            trigger=inngest.TriggerEvent(event=f"t/single-{mode}"),
            singleton=inngest.Singleton(key="event.data.repo", mode=mode),  # type: ignore[arg-type]
        )
        async def single(ctx: inngest.Context) -> int:
            await ctx.step.sleep("hold", dt.timedelta(minutes=5))
            return int(ctx.event.data["n"])

        return single

    return [make("skip"), make("cancel")]


@pytest.mark.parametrize("mode", ["skip", "cancel"])
async def test_singleton_skips_or_cancels_for_an_unfinished_run_of_the_key(mode: str) -> None:
    async with concurrent_app(_singletons) as mini:
        name = f"t/single-{mode}"
        await mini.executor.send({"name": name, "data": {"repo": "r1", "n": 1}})
        await mini.executor.run_until_idle(advance_clock=False)
        await mini.executor.send(
            [
                {"name": name, "data": {"repo": "r1", "n": 2}},
                {"name": name, "data": {"repo": "r2", "n": 3}},
            ]
        )
        await mini.executor.run_until_idle()
        first, second, other = mini.executor.runs(f"single-{mode}")
        assert other.status == "completed"  # another key is not affected
        if mode == "skip":
            assert (first.status, second.status) == ("completed", "skipped")
            assert reasons(second) == ["singleton"]
        else:
            assert (first.status, second.status) == ("cancelled", "completed")
            assert reasons(first) == ["singleton"]


def _batched(client: inngest.Inngest, clock: ManualClock) -> Functions:
    @client.create_function(
        fn_id="batched",
        trigger=inngest.TriggerEvent(event="t/item"),
        batch_events=inngest.Batch(max_size=3, timeout=dt.timedelta(minutes=1)),
    )
    async def batched(ctx: inngest.Context) -> dict[str, Any]:
        at = await ctx.step.run("start", clock.now)
        return {"items": [e.data["n"] for e in ctx.events], "at": at}

    return [batched]


async def test_batch_events_hands_the_function_a_list_when_full_or_at_the_timeout() -> None:
    async with concurrent_app(_batched) as mini:
        t0 = mini.clock.now()
        ids = await mini.executor.send([{"name": "t/item", "data": {"n": n}} for n in range(4)])
        await mini.executor.run_until_idle()
        full, rest = mini.executor.runs("batched")
        assert full.output == {"items": [0, 1, 2], "at": t0}
        assert rest.output == {"items": [3], "at": t0 + 60}
        assert [r["run_id"] for r in await rest_runs(mini, ids[1])] == [full.run_id]


def _prioritised(log: list[int]) -> Build:
    def build(client: inngest.Inngest, clock: ManualClock) -> Functions:
        @client.create_function(
            fn_id="prioritised",
            trigger=inngest.TriggerEvent(event="t/job"),
            concurrency=[inngest.Concurrency(limit=1)],
            priority=inngest.Priority(run="event.data.vip ? 120 : 0"),
        )
        async def prioritised(ctx: inngest.Context) -> None:
            log.append(int(ctx.event.data["n"]))

        return [prioritised]

    return build


async def test_priority_orders_queued_starts() -> None:
    log: list[int] = []
    async with concurrent_app(_prioritised(log)) as mini:
        await mini.executor.send(
            [{"name": "t/job", "data": {"n": n, "vip": n >= 3}} for n in range(5)]
        )
        await mini.executor.run_until_idle()
    assert log == [3, 4, 0, 1, 2]


async def test_an_option_whose_expression_does_not_compile_is_refused_at_registration() -> None:
    def build(client: inngest.Inngest, clock: ManualClock) -> Functions:
        @client.create_function(
            fn_id="bad-key",
            trigger=inngest.TriggerEvent(event="t/bad"),
            throttle=inngest.Throttle(limit=1, period=dt.timedelta(minutes=1), key="event.data.("),
        )
        async def bad_key(ctx: inngest.Context) -> None:
            return None

        return [bad_key]

    async with concurrent_app(build, sync=False) as mini:
        response = await mini.executor.sync(mini.app_url)
        assert "mini-bad-key: throttle.key: cannot compile" in response.json()["error"]
        assert mini.executor.functions == {}


def _gated(gate: asyncio.Event) -> Build:
    def build(client: inngest.Inngest, clock: ManualClock) -> Functions:
        @client.create_function(fn_id="waiter", trigger=inngest.TriggerEvent(event="t/wait"))
        async def waiter(ctx: inngest.Context) -> str:
            async def wait() -> str:
                try:
                    await asyncio.wait_for(gate.wait(), 10)
                except TimeoutError:
                    return "held back"
                return "opened"

            return await ctx.step.run("wait", wait)

        @client.create_function(fn_id="opener", trigger=inngest.TriggerEvent(event="t/open"))
        async def opener(ctx: inngest.Context) -> None:
            await ctx.step.run("open", gate.set)

        return [waiter, opener]

    return build


async def test_a_slow_step_of_one_run_does_not_hold_other_runs_back() -> None:
    gate = asyncio.Event()
    async with concurrent_app(_gated(gate)) as mini:
        await mini.executor.send([{"name": "t/wait"}, {"name": "t/open"}])
        await mini.executor.run_until_idle()
        [waiter], [opener] = mini.executor.runs("waiter"), mini.executor.runs("opener")
        assert opener.status == "completed"
        assert waiter.output == "opened"  # the opener ran while the waiter's step was in flight


def _shared_pool(active: list[int], peak: list[int]) -> Build:
    def build(client: inngest.Inngest, clock: ManualClock) -> Functions:
        def make(fn_id: str) -> inngest.Function[Any]:
            @client.create_function(
                fn_id=fn_id,
                trigger=inngest.TriggerEvent(event="t/ai"),
                concurrency=[inngest.Concurrency(limit=1, key='"openai"', scope="account")],
            )
            async def call_model(ctx: inngest.Context) -> None:
                async def call() -> None:
                    active[0] += 1
                    peak[0] = max(peak[0], active[0])
                    await asyncio.sleep(0.05)
                    active[0] -= 1

                await ctx.step.run("call", call)

            return call_model

        return [make("summarise"), make("translate")]

    return build


async def test_an_account_scoped_key_shares_one_limit_between_functions() -> None:
    active, peak = [0], [0]
    async with concurrent_app(_shared_pool(active, peak)) as mini:
        await mini.executor.send([{"name": "t/ai"}, {"name": "t/ai"}])
        await mini.executor.run_until_idle()
        runs = mini.executor.runs()
        assert len(runs) == 4 and all(r.status == "completed" for r in runs)
    assert peak == [1]
