"""Long queries in bounded slices: each run hands over to a fresh run before nearing Inngest's
step limit, through a continuation event with a deterministic id that carries only a token (the
checkpoint is in Postgres). The executor enforces the platform limits throughout."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from inngest_app.queries.slices import (
    MIN_SLICE_STEPS,
    PAGE_WORST_STEPS,
    SliceBudget,
    handover_event_id,
)
from inngest_app.repos.queries import QueriesRepo
from inngest_app.testing import Run
from inngest_app.testing.limits import Limits
from tests.harness import Live, LiveFactory
from tests.queries.support import (
    API,
    PER_PAGE,
    config,
    pages_api,
    query_settings,
    query_status,
    result_keys,
    start_query,
    token,
)

EXECUTE = "execute-query"
# 3 pages a slice: the claim, then fetch + delay sleep per page, while 19 steps stay in reserve
SMALL_SLICE = 25


def _settings(**overrides: Any) -> dict[str, Any]:
    return {**query_settings(), "query_max_pages": 1000, **overrides}


def _expected_keys(pages: int) -> list[str]:
    return [f"p{p}-{i}" for p in range(1, pages + 1) for i in range(PER_PAGE)]


def _pages_of(run: Run) -> list[int]:
    return [
        int(name.removeprefix("fetch-page-"))
        for name in run.step_names()
        if name.startswith("fetch-page-") and "-retry-" not in name
    ]


def _is_continuation(run: Run) -> bool:
    return bool(run.event.get("data", {}).get("handover"))


def test_a_slice_always_has_room_for_one_page_and_its_hand_over() -> None:
    budget = SliceBudget(MIN_SLICE_STEPS)
    assert budget.room_for_a_page()
    budget.took(PAGE_WORST_STEPS)
    assert not budget.room_for_a_page()
    # the default slice: 200 steps, far under the 1,000-step limit in the worst case too
    default = SliceBudget(200)
    pages = 0
    while default.room_for_a_page():
        default.took(2)  # fetch + delay sleep
        pages += 1
    assert pages == 91 and default.used + PAGE_WORST_STEPS + 1 > 200
    assert handover_event_id(uuid.UUID(int=7), 90) == f"query-{uuid.UUID(int=7)}-handover-90"


async def test_a_1000_page_query_completes_across_hand_overs_with_every_row_once(
    start_live: LiveFactory,
) -> None:
    """Fails on main: one run of 2,000 steps, which Inngest fails at its 1,001st."""
    async with start_live(**_settings()) as live:
        answer, calls = pages_api(1000)
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config(max_pages=1000, page_delay_s=1))
        await live.executor.run_until_idle(max_calls=50_000)
        runs = live.executor.runs(EXECUTE)
        assert [r.status for r in runs] == ["completed"] * len(runs), runs[-1].error
        assert max(len(r.steps) for r in runs) <= 200  # the slice, far under 1,000
        assert len(runs) == 11  # 91 pages a slice at the default 200 steps
        pages = [p for r in runs for p in _pages_of(r)]
        assert pages == list(range(1, 1001))  # each page fetched once, in order
        assert calls == list(range(1, 1001))  # max_pages reached: no page 1,001
        assert await result_keys(live, query_id) == _expected_keys(1000)
        final = await query_status(live, query_id)
        assert final["status"] == "completed" and final["pagesCompleted"] == 1000
        assert final["rowsInserted"] == 1000 * PER_PAGE
        assert runs[-1].output == {"status": "completed", "pages": 1000, "rows": 20_000}
        handed = [r.output for r in runs[:-1]]
        assert all(o["status"] == "handed_over" for o in handed)
        # every continuation event has the deterministic id of its hand-over
        events = [r.event for r in runs[1:]]
        assert [e["id"] for e in events] == [
            handover_event_id(uuid.UUID(query_id), o["pages"]) for o in handed
        ]
        assert all(set(e["data"]) == {"query_id", "userId", "handover"} for e in events)


async def test_slices_follow_the_setting_and_the_api_shows_one_running_query(
    start_live: LiveFactory,
) -> None:
    async with start_live(
        limits=Limits(max_steps=SMALL_SLICE), **_settings(query_slice_steps=SMALL_SLICE)
    ) as live:
        answer, calls = pages_api(10)
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config(max_pages=10, page_delay_s=1))
        seen: list[tuple[str, int]] = []
        for _ in range(200):
            await live.executor.run_until_idle(advance_clock=False)
            status = await query_status(live, query_id)
            seen.append((status["status"], status["pagesCompleted"]))
            if status["status"] == "completed":
                break
            live.clock.advance(1)
        assert {s for s, _ in seen} <= {"running", "completed"}  # never pending between runs
        done = [n for _, n in seen]
        assert done == sorted(done) and done[-1] == 10
        runs = live.executor.runs(EXECUTE)
        assert [_pages_of(r) for r in runs] == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]
        assert all(len(r.steps) <= SMALL_SLICE for r in runs)
        # the per-query concurrency key: every run of the chain draws from the same pool
        assert len({r.buckets for r in runs}) == 1 and runs[0].buckets
        assert await result_keys(live, query_id) == _expected_keys(10)
        assert calls == list(range(1, 11))


async def _stop_at_hand_over(live: Live) -> Run:
    """Drive until the first continuation run exists, before it makes any call."""
    return await live.executor.wait_for(_is_continuation, status="queued")


async def test_cancel_in_the_middle_of_a_hand_over_stops_the_chain(
    start_live: LiveFactory,
) -> None:
    async with start_live(**_settings(query_slice_steps=SMALL_SLICE)) as live:
        answer, calls = pages_api(10)
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config(max_pages=10, page_delay_s=1))
        continuation = await _stop_at_hand_over(live)
        assert continuation.calls == 0 and calls == [1, 2, 3]
        mid = await query_status(live, query_id)
        assert mid["status"] == "running" and mid["pagesCompleted"] == 3
        cancelled = await live.api.post(f"/api/queries/{query_id}/cancel", headers=token())
        assert cancelled.status_code == 200, cancelled.text
        await live.executor.run_until_idle()
        assert calls == [1, 2, 3]  # nothing fetched after the cancel
        assert continuation.status == "cancelled"
        final = await query_status(live, query_id)
        assert final["status"] == "cancelled" and final["pagesCompleted"] == 3
        assert await result_keys(live, query_id) == _expected_keys(3)
        assert len(live.executor.runs(EXECUTE)) == 2


async def test_a_cancelled_query_is_not_taken_by_a_late_continuation(
    start_live: LiveFactory,
) -> None:
    """The cancel lands in the database only (its event lost): the continuation run claims
    nothing and fetches nothing."""
    async with start_live(**_settings(query_slice_steps=SMALL_SLICE)) as live:
        answer, calls = pages_api(10)
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config(max_pages=10, page_delay_s=1))
        continuation = await _stop_at_hand_over(live)
        assert await QueriesRepo(live.services.transport).cancel(uuid.UUID(query_id))
        await live.executor.run_until_idle()
        assert continuation.status == "completed"
        assert continuation.output["skipped"] == "query is not pending"
        assert calls == [1, 2, 3]
        assert (await query_status(live, query_id))["status"] == "cancelled"


async def test_resume_during_a_hand_over_is_refused_and_starts_nothing(
    start_live: LiveFactory,
) -> None:
    async with start_live(**_settings(query_slice_steps=SMALL_SLICE)) as live:
        answer, calls = pages_api(7)
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config(max_pages=7, page_delay_s=1))
        await _stop_at_hand_over(live)
        resumed = await live.api.post(f"/api/queries/{query_id}/resume", headers=token())
        assert resumed.status_code == 409 and resumed.json()["code"] == "not_resumable"
        await live.executor.run_until_idle()
        assert len(live.executor.runs(EXECUTE)) == 3
        assert (await query_status(live, query_id))["status"] == "completed"
        assert await result_keys(live, query_id) == _expected_keys(7)


async def test_a_pause_right_after_a_hand_over_resumes_at_the_same_page(
    start_live: LiveFactory,
) -> None:
    async with start_live(**_settings(query_slice_steps=SMALL_SLICE)) as live:
        long_429 = httpx.Response(429, headers={"Retry-After": "3600"})
        answer, calls = pages_api(8, {4: [long_429]})  # the continuation's first page
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config(max_pages=8, page_delay_s=1))
        await live.executor.run_until_idle()
        paused = await query_status(live, query_id)
        assert paused["status"] == "paused" and paused["pagesCompleted"] == 3
        assert paused["errorCode"] == "rate_limited" and paused["resumable"]
        resumed = await live.api.post(f"/api/queries/{query_id}/resume", headers=token())
        assert resumed.status_code == 202, resumed.text
        await live.executor.run_until_idle()
        runs = live.executor.runs(EXECUTE)
        assert [_pages_of(r) for r in runs] == [[1, 2, 3], [4], [4, 5, 6], [7, 8]]
        assert [_is_continuation(r) for r in runs] == [False, True, False, True]
        assert calls == [1, 2, 3, 4, 4, 5, 6, 7, 8]
        final = await query_status(live, query_id)
        assert final["status"] == "completed" and final["rowsInserted"] == 8 * PER_PAGE
        assert await result_keys(live, query_id) == _expected_keys(8)


async def test_a_repeated_hand_over_starts_one_run_not_two(start_live: LiveFactory) -> None:
    async with start_live(**_settings(query_slice_steps=SMALL_SLICE)) as live:
        answer, calls = pages_api(5)
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config(max_pages=5, page_delay_s=1))
        continuation = await _stop_at_hand_over(live)
        # the hand-over again, as a retried step would do it: same token, same event id
        repo = QueriesRepo(live.services.transport)
        first_run = live.executor.runs(EXECUTE)[0]
        again = await repo.hand_over(uuid.UUID(query_id), first_run.run_id, pages=3)
        assert again.handed_over and again.token == continuation.event["data"]["handover"]
        await live.executor.send(
            {"name": continuation.event["name"], "id": continuation.event["id"], "data": {}}
        )
        await live.executor.run_until_idle()
        assert len(live.executor.runs(EXECUTE)) == 2
        assert await result_keys(live, query_id) == _expected_keys(5)
        # a stale token (another checkpoint) takes nothing
        stale = await repo.claim_handed(uuid.UUID(query_id), "intruder", token=again.token)
        assert not stale.claimed and stale.query.status == "completed"
        assert calls == [1, 2, 3, 4, 5]


async def test_a_page_at_its_worst_case_of_auto_resumes_stays_within_the_slice(
    start_live: LiveFactory,
) -> None:
    """Page 2 is rate limited five times (the most auto-resume waits out): the run's slice
    reserve covers it, and the step limit lowered to the slice is never reached."""
    async with start_live(
        limits=Limits(max_steps=SMALL_SLICE), **_settings(query_slice_steps=SMALL_SLICE)
    ) as live:
        limited = [httpx.Response(429, headers={"Retry-After": "7200"}) for _ in range(5)]
        answer, calls = pages_api(6, {2: limited})
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config(max_pages=6, page_delay_s=1, auto_resume=True))
        await live.executor.run_until_idle()
        runs = live.executor.runs(EXECUTE)
        assert [r.status for r in runs] == ["completed"] * len(runs), runs[-1].error
        first = runs[0]
        assert "fetch-page-2-retry-5" in first.step_names()
        assert len(first.steps) <= SMALL_SLICE and first.output["status"] == "handed_over"
        assert _pages_of(first) == [1, 2]  # no room for a third page after the waits
        assert [_pages_of(r) for r in runs[1:]] == [[3, 4, 5], [6]]
        assert calls == [1, 2, 2, 2, 2, 2, 2, 3, 4, 5, 6]
        assert await result_keys(live, query_id) == _expected_keys(6)
        assert (await query_status(live, query_id))["status"] == "completed"
