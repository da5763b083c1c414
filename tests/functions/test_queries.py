"""`execute-query` end to end: the test executor drives the app, respx plays the source API."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from unittest import mock

import asyncpg
import httpx
import pytest
import respx
from respx.models import RouteList

from inngest_app.queries.config import QueryConfig
from inngest_app.queries.sources import GOOGLE_CSE_URL
from inngest_app.repos.queries import QueriesRepo
from tests.harness import Live, LiveFactory
from tests.queries.support import (
    API,
    GOOGLE_KEY,
    PER_PAGE,
    USER,
    config,
    kill_at_checkpoint,
    pages_api,
    query_settings,
    query_status,
    result_keys,
    start_query,
    token,
)


async def test_five_pages_complete_with_sleeps_between_and_progress_mid_run(
    start_live: LiveFactory,
) -> None:
    async with start_live(**query_settings()) as live:
        answer, calls = pages_api(5)
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config())
        await live.executor.run_until_idle(advance_clock=False)  # page 1, then the first sleep
        mid = await query_status(live, query_id)
        assert mid["status"] == "running" and mid["pagesCompleted"] == 1
        assert mid["rowsInserted"] == PER_PAGE
        await live.executor.run_until_idle()
        [run] = live.executor.runs("execute-query")
        assert run.status == "completed", run.error
        page_steps = [n for n in run.step_names() if n.startswith("fetch-page-")]
        sleeps = run.step_names("Sleep")
        final = await query_status(live, query_id)
        assert final["status"] == "completed"
        keys = await result_keys(live, query_id)
        assert len(keys) == len(set(keys)) == final["rowsInserted"] == 5 * PER_PAGE
        # page 6 is the empty page that ends the query: 6 fetches, a sleep between each pair
        assert page_steps == [f"fetch-page-{n}" for n in range(1, 7)]
        assert sleeps == [f"delay-after-page-{n}" for n in range(1, 6)]
        assert calls == list(range(1, 7))


async def test_exactly_five_page_steps_and_four_sleeps_when_the_source_says_it_is_done(
    start_live: LiveFactory,
) -> None:
    async with start_live(**query_settings()) as live:
        rows = {n: [{"id": f"r{n}-{i}"} for i in range(3)] for n in range(1, 6)}

        def answer(request: httpx.Request) -> httpx.Response:
            cursor = request.url.params.get("cursor", "1")
            n = int(cursor)
            return httpx.Response(
                200, json={"items": rows[n], "next": str(n + 1) if n < 5 else None}
            )

        live.mock.get(API).mock(side_effect=answer)
        body = config(
            source={
                "kind": "http",
                "url": API,
                "results_path": "items",
                "row_key": "id",
                "pagination": {"style": "cursor", "next_path": "next"},
            }
        )
        query_id = await start_query(live, body)
        await live.executor.run_until_idle()
        [run] = live.executor.runs("execute-query")
        assert run.status == "completed", run.error
        assert [n for n in run.step_names() if n.startswith("fetch-page-")] == [
            f"fetch-page-{n}" for n in range(1, 6)
        ]
        assert len(run.step_names("Sleep")) == 4
        assert sorted(await result_keys(live, query_id)) == sorted(
            r["id"] for page in rows.values() for r in page
        )


async def _run_to_end(live: Live, body: dict[str, Any]) -> tuple[str, list[str]]:
    query_id = await start_query(live, body)
    await live.executor.run_until_idle()
    return query_id, await result_keys(live, query_id)


async def test_long_rate_limit_pauses_and_resume_continues_at_the_same_page(
    start_live: LiveFactory,
) -> None:
    async with start_live(**query_settings()) as live:
        answer, calls = pages_api(5, {3: [httpx.Response(429, headers={"Retry-After": "3600"})]})
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config())
        await live.executor.run_until_idle()
        paused = await query_status(live, query_id)
        assert paused["status"] == "paused" and paused["pagesCompleted"] == 2
        assert paused["errorCode"] == "rate_limited" and paused["resumable"]
        resume_after = dt.datetime.fromisoformat(paused["resumeAfter"])
        assert resume_after > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=55)
        resumed = await live.api.post(f"/api/queries/{query_id}/resume", headers=token())
        assert resumed.status_code == 202
        await live.executor.run_until_idle()
        done = await query_status(live, query_id)
        assert done["status"] == "completed"
        second = live.executor.runs("execute-query")[-1]
        assert second.step_names()[1] == "fetch-page-3"  # after the claim, from the checkpoint
        keys = await result_keys(live, query_id)
        # the same as a run without the pause: every row once, none missing
        baseline_answer, _ = pages_api(5)
        live.mock.get(API).mock(side_effect=baseline_answer)
        _, baseline = await _run_to_end(live, config())
        assert sorted(keys) == sorted(baseline) and len(keys) == len(set(keys)) == 5 * PER_PAGE
        assert calls.count(3) == 2


async def test_auto_resume_sleeps_until_the_rate_limit_lifts(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        answer, _ = pages_api(3, {2: [httpx.Response(429, headers={"Retry-After": "7200"})]})
        live.mock.get(API).mock(side_effect=answer)
        query_id, keys = await _run_to_end(live, config(auto_resume=True))
        [run] = live.executor.runs("execute-query")
        assert run.status == "completed", run.error
        assert "wait-rate-limit-2-1" in run.step_names("Sleep")
        assert "fetch-page-2-retry-1" in run.step_names()
        assert len(keys) == 3 * PER_PAGE
        assert (await query_status(live, query_id))["status"] == "completed"


async def test_short_retry_after_uses_the_platforms_retry(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        answer, calls = pages_api(2, {2: [httpx.Response(429, headers={"Retry-After": "5"})]})
        live.mock.get(API).mock(side_effect=answer)
        start = live.clock.now()
        query_id, keys = await _run_to_end(live, config(page_delay_s=0))
        [run] = live.executor.runs("execute-query")
        assert run.status == "completed" and run.retries == 1
        assert live.clock.now() - start >= 5
        assert len(keys) == 2 * PER_PAGE and calls.count(2) == 2


async def test_a_repeated_short_429_pauses_the_query(start_live: LiveFactory) -> None:
    """Retry-After 5 s, again and again: two platform retries, then the query pauses (it does
    not burn the run's retries and fail)."""
    async with start_live(**query_settings()) as live:
        short = httpx.Response(429, headers={"Retry-After": "5"})
        answer, calls = pages_api(3, {2: [short] * 3})
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config(page_delay_s=0))
        await live.executor.run_until_idle()
        [run] = live.executor.runs("execute-query")
        assert run.status == "completed", run.error
        assert run.output == {"status": "paused", "page": 2, "resume_after": mock.ANY}
        retried = [
            r.attempt for r in run.step_log if r.error and r.error["name"] == "RetryAfterError"
        ]
        assert retried == [0, 1] and run.retries == 2  # the platform's retries, twice
        [page_2] = [r for r in run.step_log if r.name == "fetch-page-2"]
        assert page_2.attempt == 2 and calls.count(2) == 3  # the third 429 pauses
        paused = await query_status(live, query_id)
        assert paused["status"] == "paused" and paused["errorCode"] == "rate_limited"
        assert paused["pagesCompleted"] == 1 and paused["resumable"]
        # the pause is the short wait the API asked for, not the default 15 minutes
        resume_after = dt.datetime.fromisoformat(paused["resumeAfter"])
        assert resume_after < dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        resumed = await live.api.post(f"/api/queries/{query_id}/resume", headers=token())
        assert resumed.status_code == 202
        await live.executor.run_until_idle()
        assert (await query_status(live, query_id))["status"] == "completed"
        assert len(await result_keys(live, query_id)) == 3 * PER_PAGE


async def test_a_page_write_killed_mid_transaction_is_retried_and_stored_once(
    start_live: LiveFactory,
) -> None:
    """The database connection dies inside page 2's `fetch_and_store`, rows inserted but not
    committed: the step fails retriably, and the retry stores the page once."""
    async with start_live(**query_settings()) as live:
        answer, calls = pages_api(3)
        live.mock.get(API).mock(side_effect=answer)
        admin = await asyncpg.connect(live.services.settings.database_url.get_secret_value())
        try:
            killer = await kill_at_checkpoint(admin, page=2)
            query_id, keys = await _run_to_end(live, config(page_delay_s=0))
            assert killer.done() and killer.exception() is None
        finally:
            await admin.close()
        [run] = live.executor.runs("execute-query")
        assert run.status == "completed", run.error
        page_2 = [r for r in run.step_log if r.name == "fetch-page-2"]
        assert [(r.attempt, r.op) for r in page_2] == [(0, "StepError"), (1, "StepRun")]
        assert "database unavailable" in page_2[0].error["message"]
        assert calls.count(2) == 2
        done = await query_status(live, query_id)
        assert (done["status"], done["rowsInserted"]) == ("completed", 3 * PER_PAGE)
        assert len(keys) == len(set(keys)) == 3 * PER_PAGE


async def test_a_page_step_retried_after_its_write_committed_counts_nothing_twice(
    start_live: LiveFactory,
) -> None:
    """Page 2 is stored, then the reply to Inngest is lost: the platform runs the step again,
    which finds the page "already stored" and goes on from the committed checkpoint."""
    async with start_live(**query_settings()) as live:
        answer, calls = pages_api(3)
        live.mock.get(API).mock(side_effect=answer)

        async def lose_the_reply_once(request: httpx.Request) -> httpx.Response:
            before = calls.count(2)
            direct = httpx.ASGITransport(app=live.app)
            async with httpx.AsyncClient(transport=direct, base_url=live.app_url) as client:
                reply = await client.post(
                    str(request.url), content=request.content, headers=request.headers
                )
            if before == 0 and calls.count(2) == 1:
                raise httpx.ReadError("connection reset after page 2 was stored")
            return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)

        saved = RouteList(live.mock.routes)
        lossy = RouteList()
        lossy.add(
            respx.Route(method="POST", url__startswith=f"{live.app_url}/api/inngest").mock(
                side_effect=lose_the_reply_once
            )
        )
        for route in saved:
            lossy.add(route)
        live.mock.routes[:] = lossy
        try:
            query_id, keys = await _run_to_end(live, config(page_delay_s=0))
        finally:
            live.mock.routes[:] = saved
        [run] = live.executor.runs("execute-query")
        assert run.status == "completed", run.error
        assert run.retries == 1 and calls.count(2) == 2
        [page_2] = [r for r in run.step_log if r.name == "fetch-page-2"]
        assert page_2.attempt == 1
        replayed = run.steps[page_2.step_id]["data"]
        assert (replayed["status"], replayed["inserted"]) == ("stored", 0)
        assert replayed["rows"] == 2 * PER_PAGE  # the committed checkpoint, not counted again
        done = await query_status(live, query_id)
        assert (done["status"], done["rowsInserted"]) == ("completed", 3 * PER_PAGE)
        assert len(keys) == len(set(keys)) == 3 * PER_PAGE


async def test_network_errors_twice_then_success(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        failures: list[httpx.Response | Exception] = [
            httpx.ConnectError("connection refused"),
            httpx.Response(503, json={"error": "busy"}),
        ]
        answer, calls = pages_api(3, {2: failures})
        live.mock.get(API).mock(side_effect=answer)
        query_id, keys = await _run_to_end(live, config())
        [run] = live.executor.runs("execute-query")
        assert run.status == "completed", run.error
        assert run.retries == 2
        attempts = [r.attempt for r in run.step_log if r.name == "fetch-page-2"]
        assert attempts == [0, 1, 2]
        assert len(keys) == 3 * PER_PAGE and calls.count(2) == 3


async def test_source_down_for_good_fails_retriably(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        answer, _ = pages_api(3, {1: [httpx.Response(500, json={"error": "down"})] * 4})
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config())
        await live.executor.run_until_idle()
        failed = await query_status(live, query_id)
        assert failed["status"] == "failed" and failed["errorCode"] == "source_unavailable"
        assert failed["resumable"]
        resumed = await live.api.post(f"/api/queries/{query_id}/resume", headers=token())
        assert resumed.status_code == 202
        await live.executor.run_until_idle()
        assert (await query_status(live, query_id))["status"] == "completed"


async def _fails_on_page_2(
    live: Live, answer: httpx.Response, message: str
) -> tuple[str, dict[str, Any], list[int]]:
    """Run a 3-page query whose page 2 is `answer`; the run and the query fail at once."""
    handler, calls = pages_api(3, {2: [answer]})
    live.mock.get(API).mock(side_effect=handler)
    query_id = await start_query(live, config())
    await live.executor.run_until_idle()
    [run] = live.executor.runs("execute-query")
    assert run.status == "failed" and run.retries == 0
    failed = await query_status(live, query_id)
    assert failed["status"] == "failed" and message in failed["lastError"]
    return query_id, failed, calls


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (401, "invalid credentials", "invalid_credentials"),
        (402, "quota exceeded", "quota_exceeded"),
        (404, "HTTP 404", "client_error"),
    ],
)
async def test_permanent_errors_fail_without_retry(
    start_live: LiveFactory, status: int, message: str, code: str
) -> None:
    async with start_live(**query_settings()) as live:
        answer = httpx.Response(status, json={"message": "nope"})
        _, failed, calls = await _fails_on_page_2(live, answer, message)
        assert failed["errorCode"] == code and not failed["resumable"]
        assert calls == [1, 2]
        assert failed["rowsInserted"] == PER_PAGE  # page 1 kept, nothing partial


async def test_cancel_mid_run_stops_fetching(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        answer, calls = pages_api(5)
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config())
        await live.executor.run_until_idle(advance_clock=False)
        assert calls == [1]
        cancelled = await live.api.post(f"/api/queries/{query_id}/cancel", headers=token())
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        await live.executor.run_until_idle()
        [run] = live.executor.runs("execute-query")
        assert run.status == "cancelled"
        assert calls == [1]
        assert (await query_status(live, query_id))["status"] == "cancelled"
        again = await live.api.post(f"/api/queries/{query_id}/cancel", headers=token())
        assert again.status_code == 409


async def test_registration_asks_for_one_run_per_query_and_cancellation(
    start_live: LiveFactory,
) -> None:
    async with start_live(**query_settings()) as live:
        config_ = live.executor.functions["inngest-app-execute-query"]
        key = "(has(event.data.query_id) ? event.data.query_id : event.data.queryId)"
        assert config_["concurrency"] == [{"limit": 1, "key": key}]
        assert config_["cancel"] == [
            {"event": "query/execute.cancelled", "if": f"async.data.query_id == {key}"}
        ]
        assert config_["steps"]["step"]["retries"]["attempts"] == 3


async def test_a_double_start_runs_one_loop(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        answer, calls = pages_api(2)
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config(page_delay_s=0))
        # a second delivery of the start event (another id, as a double resume would send)
        await live.executor.send(
            {"name": "query/execute.requested", "data": {"query_id": query_id}}
        )
        await live.executor.run_until_idle()
        first, second = live.executor.runs("execute-query")
        assert {first.output["status"], second.output["status"]} >= {"completed"}
        skipped = [r for r in (first, second) if "skipped" in (r.output or {})]
        assert len(skipped) == 1
        assert calls == [1, 2, 3]


async def test_malformed_event_fails_naming_the_field(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        await live.executor.send(
            {"name": "query/execute.requested", "data": {"query_id": "not-a-uuid"}}
        )
        await live.executor.run_until_idle()
        [run] = live.executor.runs("execute-query")
        assert run.status == "failed" and run.retries == 0 and run.error is not None
        assert "query_id" in run.error["message"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (httpx.Response(200, json={"results": []}), "results path 'items' is not in the response"),
        (httpx.Response(200, json={"items": [{"id": "a"}, {"name": "b"}]}), "row 1 has no 'id'"),
        (
            httpx.Response(
                200, text="<html>maintenance</html>", headers={"content-type": "text/html"}
            ),
            "not JSON",
        ),
    ],
)
async def test_an_unusable_page_fails_the_query_naming_the_problem(
    start_live: LiveFactory, answer: httpx.Response, message: str
) -> None:
    async with start_live(**query_settings()) as live:
        query_id, failed, calls = await _fails_on_page_2(live, answer, message)
        assert failed["errorCode"] == "invalid_response" and failed["pagesCompleted"] == 1
        # nothing of the bad page is stored, and what is stored is counted
        keys = await result_keys(live, query_id)
        assert len(keys) == failed["rowsInserted"] == PER_PAGE and calls == [1, 2]


async def test_max_pages_stops_the_query_before_the_source_runs_out(
    start_live: LiveFactory,
) -> None:
    async with start_live(**query_settings()) as live:
        handler, calls = pages_api(10)
        live.mock.get(API).mock(side_effect=handler)
        query_id = await start_query(live, config(max_pages=3))
        await live.executor.run_until_idle()
        done = await query_status(live, query_id)
        assert done["status"] == "completed" and done["pagesCompleted"] == 3
        assert calls == [1, 2, 3] and done["rowsInserted"] == 3 * PER_PAGE


async def test_max_rows_stops_after_the_page_that_reaches_it(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        handler, calls = pages_api(10)
        live.mock.get(API).mock(side_effect=handler)
        query_id = await start_query(live, config(max_rows=PER_PAGE + 1))
        await live.executor.run_until_idle()
        done = await query_status(live, query_id)
        assert done["status"] == "completed" and calls == [1, 2]
        assert done["rowsInserted"] == len(await result_keys(live, query_id)) == PER_PAGE + 1


async def test_a_github_style_403_rate_limit_pauses_instead_of_failing(
    start_live: LiveFactory,
) -> None:
    async with start_live(**query_settings()) as live:
        reset = str(int(dt.datetime.now(dt.UTC).timestamp()) + 3600)
        limited = httpx.Response(
            403,
            json={"message": "API rate limit exceeded"},
            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
        )
        handler, _ = pages_api(3, {2: [limited]})
        live.mock.get(API).mock(side_effect=handler)
        query_id = await start_query(live, config())
        await live.executor.run_until_idle()
        paused = await query_status(live, query_id)
        assert paused["status"] == "paused" and paused["errorCode"] == "rate_limited"


async def test_a_double_resume_starts_one_run(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        handler, calls = pages_api(3, {2: [httpx.Response(429, headers={"Retry-After": "3600"})]})
        live.mock.get(API).mock(side_effect=handler)
        query_id = await start_query(live, config(page_delay_s=0))
        await live.executor.run_until_idle()
        first, second = await asyncio.gather(
            live.api.post(f"/api/queries/{query_id}/resume", headers=token()),
            live.api.post(f"/api/queries/{query_id}/resume", headers=token()),
        )
        assert sorted([first.status_code, second.status_code]) == [202, 409]
        await live.executor.run_until_idle()
        assert len(live.executor.runs("execute-query")) == 2  # the original and one resume
        keys = await result_keys(live, query_id)
        assert len(keys) == len(set(keys)) == 3 * PER_PAGE
        assert calls == [1, 2, 2, 3, 4]


async def test_google_preset_pages_by_ten_with_the_key_and_dedupes_on_the_link(
    start_live: LiveFactory,
) -> None:
    async with start_live(**query_settings()) as live:
        requests: list[dict[str, str]] = []

        def google(request: httpx.Request) -> httpx.Response:
            params = dict(request.url.params)
            requests.append(params)
            start = int(params["start"])
            items = [
                {"title": f"r{n}", "link": f"https://example.com/{n}"}
                for n in range(start, start + int(params["num"]))
            ]
            if start == 11:  # page 2 repeats a page-1 result under another spelling
                items[0]["link"] = "HTTPS://EXAMPLE.com/1/#top"
            return httpx.Response(200, json={"items": items, "queries": {"nextPage": [{}]}})

        live.mock.get(GOOGLE_CSE_URL).mock(side_effect=google)
        body = {
            "source": {
                "kind": "google_cse",
                "q": "durable functions",
                "cx": "cx-1",
                "max_results": 25,
            },
            "credential": "google",
            "page_delay_s": 0,
        }
        query_id = await start_query(live, body)
        await live.executor.run_until_idle()
        done = await query_status(live, query_id)
        assert done["status"] == "completed" and done["pagesCompleted"] == 3
        assert [(r["start"], r["num"]) for r in requests] == [
            ("1", "10"),
            ("11", "10"),
            ("21", "5"),
        ]
        assert {r["key"] for r in requests} == {GOOGLE_KEY}
        keys = await result_keys(live, query_id)
        assert len(keys) == len(set(keys)) == done["rowsInserted"] == 24


async def test_a_user_resume_during_an_auto_resume_wait_leaves_one_loop(
    start_live: LiveFactory,
) -> None:
    async with start_live(**query_settings()) as live:
        answer, calls = pages_api(3, {2: [httpx.Response(429, headers={"Retry-After": "7200"})]})
        live.mock.get(API).mock(side_effect=answer)
        query_id = await start_query(live, config(auto_resume=True, page_delay_s=0))
        await live.executor.run_until_idle(advance_clock=False)  # paused, sleeping
        assert (await query_status(live, query_id))["status"] == "paused"
        resumed = await live.api.post(f"/api/queries/{query_id}/resume", headers=token())
        assert resumed.status_code == 202
        await live.executor.run_until_idle()
        sleeper, takeover = live.executor.runs("execute-query")
        assert takeover.status == "completed" and sleeper.status == "completed"
        assert sleeper.output["skipped"] == "query taken over"
        assert calls == [1, 2, 2, 3, 4]  # the woken run fetched nothing more
        keys = await result_keys(live, query_id)
        assert len(keys) == len(set(keys)) == 3 * PER_PAGE


async def test_a_run_that_fails_outside_its_page_steps_leaves_the_query_resumable(
    start_live: LiveFactory,
) -> None:
    async with start_live(**query_settings()) as live:
        query_id = await live.pool.fetchval(
            "insert into queries (user_id, config, max_pages, max_rows)"
            " values ($1, $2::jsonb, 5, 100) returning id",
            USER,
            '{"source": {"kind": "carrier-pigeon"}}',
        )
        await live.executor.send(
            {"name": "query/execute.requested", "data": {"query_id": str(query_id)}}
        )
        await live.executor.run_until_idle()
        [run] = live.executor.runs("execute-query")
        assert run.status == "failed" and run.retries == 0
        assert "source" in run.error["message"]
        [handler] = live.executor.runs("execute-query-failure")
        assert handler.status == "completed", handler.error
        failed = await query_status(live, str(query_id))
        assert failed["status"] == "failed" and failed["errorCode"] == "run_failed"
        assert failed["resumable"] and "stored query config is invalid" in failed["lastError"]


async def test_the_seed_apps_query_id_key_starts_a_query(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        answer, calls = pages_api(2)
        live.mock.get(API).mock(side_effect=answer)
        body = QueryConfig.model_validate(config(page_delay_s=0))
        query = await QueriesRepo(live.services.transport).create(
            user_id=USER, config=body.model_dump(mode="json"), max_pages=10, max_rows=1000
        )
        await live.executor.send(
            {"name": "query/execute.requested", "data": {"queryId": str(query.id)}}
        )
        await live.executor.run_until_idle()
        [run] = live.executor.runs("execute-query")
        assert run.status == "completed", run.error
        assert (await query_status(live, str(query.id)))["status"] == "completed"
        assert calls == [1, 2, 3]


async def test_a_seed_shaped_run_is_cancelled_and_limited_like_any_other(
    start_live: LiveFactory,
) -> None:
    async with start_live(**query_settings()) as live:
        answer, calls = pages_api(5)
        live.mock.get(API).mock(side_effect=answer)
        body = QueryConfig.model_validate(config())
        query = await QueriesRepo(live.services.transport).create(
            user_id=USER, config=body.model_dump(mode="json"), max_pages=10, max_rows=1000
        )
        for _ in range(2):  # a doubled start: the concurrency key holds with queryId too
            await live.executor.send(
                {"name": "query/execute.requested", "data": {"queryId": str(query.id)}}
            )
        await live.executor.run_until_idle(advance_clock=False)
        assert calls == [1]
        cancelled = await live.api.post(f"/api/queries/{query.id}/cancel", headers=token())
        assert cancelled.status_code == 200
        await live.executor.run_until_idle()
        statuses = sorted(run.status for run in live.executor.runs("execute-query"))
        assert statuses == ["cancelled", "completed"], statuses  # the second saw it not pending
        assert calls == [1]
