"""The run viewer's answers to "why did this run do that": the timeline against the executor's
own history, flow control's reasons, filters and paging, rerun, cancel, invoke, the phone."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import inngest
import pytest
from playwright.async_api import Browser, Page, expect

from inngest_app.testing import ManualClock, TestExecutor
from inngest_app.testing.runs import Run
from tests.browser import DESKTOP, PHONE, artifact, new_page
from tests.testing.support import EVENT_KEY, Functions, count, driven, mini_app

pytestmark = pytest.mark.asyncio(loop_scope="module")  # one browser for the module
JSON = {"Content-Type": "application/json"}


def _functions(client: inngest.Inngest, clock: ManualClock) -> Functions:
    calls: dict[str, int] = {}

    @client.create_function(fn_id="story", trigger=inngest.TriggerEvent(event="t/story"))
    async def story(ctx: inngest.Context) -> str:
        def slow() -> str:
            clock.advance(3)  # the step takes 3 s on the executor's clock
            return "read"

        await ctx.step.run("read", slow)
        await ctx.step.sleep("nap", dt.timedelta(minutes=5))

        def flaky() -> str:
            if count(calls, f"flaky-{ctx.run_id}") == 1:
                raise RuntimeError("not yet")
            return "ok"

        await ctx.step.run("flaky", flaky)
        return f"told {ctx.event.data.get('who', 'nobody')}"

    @client.create_function(
        fn_id="gated",
        trigger=inngest.TriggerEvent(event="t/gated"),
        throttle=inngest.Throttle(limit=1, period=dt.timedelta(minutes=1), burst=0),
    )
    async def gated(ctx: inngest.Context) -> float:
        return await ctx.step.run("start", clock.now)

    @client.create_function(fn_id="waiter", trigger=inngest.TriggerEvent(event="t/wait"))
    async def waiter(ctx: inngest.Context) -> str:
        await ctx.step.wait_for_event("approval", event="t/ok", timeout=dt.timedelta(days=1))
        return "approved"

    return [story, gated, waiter]


@contextlib.asynccontextmanager
async def app() -> AsyncIterator[Any]:
    clock = ManualClock()
    executor = TestExecutor(clock=clock)
    async with mini_app(lambda c: _functions(c, clock), executor=executor) as mini:
        yield mini


def expected_bars(run: Run) -> list[tuple[str, str, int, int, int]]:
    """(name, op, start ms, duration ms, attempt) of each reported step, from the history."""
    out = []
    for record in run.step_log:
        if record.op in ("Sleep", "WaitForEvent", "InvokeFunction"):
            start, end = record.answered_at, run.settled_at[record.step_id]
        else:
            start, end = record.sent_at, record.answered_at
        out.append(
            (
                record.name or "(function body)",
                record.op,
                round((start - run.started_at) * 1000),
                round((end - start) * 1000),
                record.attempt + 1,
            )
        )
    return out


async def test_the_timeline_follows_the_executors_history() -> None:
    async with app() as mini:
        [event_id] = await mini.executor.send({"name": "t/story", "data": {"who": "ada"}})
        run = await mini.executor.wait_for(lambda r: r.event["id"] == event_id)
        assert run.status == "completed", run.error
        async with httpx.AsyncClient(base_url=mini.executor_url) as http:
            detail = (await http.get(f"/viewer/api/runs/{run.run_id}")).json()
    timeline = detail["timeline"]
    bars = [
        (b["name"], b["op"], b["startMs"], b["durationMs"], b["attempt"]) for b in timeline["bars"]
    ]
    assert bars == expected_bars(run)
    # and what that history means: a 3 s step, then a 5 min sleep, then a retried step
    assert [b[:2] for b in bars] == [
        ("read", "StepRun"),
        ("nap", "Sleep"),
        ("flaky", "StepError"),
        ("flaky", "StepRun"),
    ]
    assert bars[0][2:] == (0, 3000, 1)
    # the SDK reports the sleep's end from its own wall clock (a few ms of call time)
    assert bars[1][2] == 3000 and 300_000 <= bars[1][3] < 301_000
    assert bars[2][4] == 1 and bars[3][4] == 2  # the retry is attempt 2
    assert timeline["queuedMs"] == 0 and timeline["reasons"] == []
    assert timeline["durationMs"] == round((run.ended_at - run.started_at) * 1000) >= 303_000


async def test_a_throttled_run_shows_why_it_waited() -> None:
    async with app() as mini:
        await mini.executor.send([{"name": "t/gated", "data": {}} for _ in range(2)])
        await mini.executor.run_until_idle()
        first, second = mini.executor.runs("gated")
        async with httpx.AsyncClient(base_url=mini.executor_url) as http:
            shown = (await http.get(f"/viewer/api/runs/{second.run_id}")).json()["timeline"]
            plain = (await http.get(f"/viewer/api/runs/{first.run_id}")).json()["timeline"]
    assert plain["reasons"] == [] and plain["queuedMs"] == 0
    [reason] = shown["reasons"]
    assert reason["reason"] == "throttled" and reason["atMs"] == 0
    assert reason["detail"] == "1 per 60s, burst 0"
    assert shown["queuedMs"] == 60_000  # one start a minute
    assert shown["bars"][0]["startMs"] == 60_000


async def test_filters_and_pages_past_100_events() -> None:
    async with app() as mini:
        noise = await mini.executor.send(
            [{"name": f"t/noise-{i % 3}", "data": {}} for i in range(130)]
        )
        [story] = await mini.executor.send({"name": "t/story", "data": {}})
        run = await mini.executor.wait_for(lambda r: r.event["id"] == story)
        async with httpx.AsyncClient(base_url=mini.executor_url) as http:

            async def state(**params: Any) -> dict[str, Any]:
                response = await http.get("/viewer/api/state", params=params)
                assert response.status_code == 200, response.text
                body: dict[str, Any] = response.json()
                return body

            first = await state()
            assert len(first["events"]) == 100 and first["events"][0]["id"] == story
            second = await state(before=first["nextBefore"])
            ids = [e["id"] for e in first["events"] + second["events"]]
            assert second["nextBefore"] is None
            assert ids == [story, *reversed(noise)]  # every event once, newest first
            named = await state(event="NOISE-1", limit=7)
            assert [e["name"] for e in named["events"]] == ["t/noise-1"] * 7
            assert named["nextBefore"] is not None
            by_fn = await state(function="story")
            assert [e["id"] for e in by_fn["events"]] == [story]
            assert (await state(status="failed"))["events"] == []
            done = await state(status="completed", function="mini-story")
            assert [r["runId"] for r in done["events"][0]["runs"]] == [run.run_id]
            assert [e["id"] for e in (await state(id=run.run_id))["events"]] == [story]
            assert [e["id"] for e in (await state(id=noise[5]))["events"]] == [noise[5]]
            assert first["counts"] == {"completed": 1}
            for params, field in [
                ({"status": "done"}, "status"),
                ({"limit": "501"}, "limit"),
                ({"before": "-1"}, "before"),
                ({"sort": "x"}, "sort"),
            ]:
                bad = await http.get("/viewer/api/state", params=params)
                assert bad.status_code == 400 and bad.json()["field"] == field


async def test_rerun_cancel_and_invoke_over_http() -> None:
    async with app() as mini:
        [waiting] = await mini.executor.send({"name": "t/wait", "data": {}})
        await mini.executor.run_until_idle(advance_clock=False)
        [run] = mini.executor.runs("waiter")
        assert run.status == "waiting"
        async with httpx.AsyncClient(base_url=mini.executor_url) as http:
            # a form post (no JSON) cannot act: no cross-site trigger
            form = await http.post(f"/viewer/api/runs/{run.run_id}/cancel", data={"a": "1"})
            assert form.status_code == 415 and run.status == "waiting"
            cancel = await http.post(f"/viewer/api/runs/{run.run_id}/cancel", headers=JSON)
            assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
            assert run.status == "cancelled"
            again = await http.post(f"/viewer/api/runs/{run.run_id}/rerun", headers=JSON)
            assert again.status_code == 201
            rerun = mini.executor.run(again.json()["runId"])
            assert rerun.run_id != run.run_id and rerun.event["id"] == waiting
            missing = await http.post("/viewer/api/runs/nope/rerun", headers=JSON)
            assert missing.status_code == 404
            invoked = await http.post(
                "/viewer/api/invoke",
                json={"functionId": "story", "data": {"who": "grace"}},
            )
            assert invoked.status_code == 201, invoked.text
            for body, code in [
                ({"functionId": "nope"}, 404),
                ({"functionId": "story", "data": [1]}, 400),
                ({"data": {}}, 400),
                ({"functionId": "story", "extra": 1}, 400),
            ]:
                refused = await http.post("/viewer/api/invoke", json=body)
                assert refused.status_code == code, (body, refused.text)
            bad_json = await http.post("/viewer/api/invoke", content=b"{", headers=JSON)
            assert bad_json.status_code == 400 and bad_json.json()["code"] == "invalid_body"
            huge = await http.post(
                "/viewer/api/invoke",
                json={"functionId": "story", "data": {"x": "y" * 300_000}},
            )
            assert huge.status_code == 413
        started = mini.executor.run(invoked.json()["runId"])
        done = await mini.executor.wait_for(started.run_id)
        assert done.status == "completed" and done.output == "told grace"
        assert done.event["name"] == "inngest/function.invoked"


async def test_actions_need_the_event_key_when_one_is_set() -> None:
    executor = TestExecutor(clock=ManualClock(), event_key=EVENT_KEY)
    async with mini_app(lambda c: _functions(c, ManualClock()), executor=executor) as mini:
        async with httpx.AsyncClient(base_url=mini.executor_url) as http:
            body = {"functionId": "gated"}
            refused = await http.post("/viewer/api/invoke", json=body)
            assert refused.status_code == 401 and mini.executor.runs() == []
            ok = await http.post(
                "/viewer/api/invoke", json=body, headers={"X-Inngest-Event-Key": EVENT_KEY}
            )
            assert ok.status_code == 201


async def open_run(page: Page, run_id: str) -> None:
    await page.click(f'.runs button[data-run="{run_id}"]')
    await expect(page.locator("#run-id")).to_have_text(run_id)


async def test_in_the_browser_timeline_filters_rerun_cancel_invoke(browser: Browser) -> None:
    async with app() as mini, new_page(browser, DESKTOP) as page:
        [story] = await mini.executor.send({"name": "t/story", "data": {"who": "ada"}})
        run = await mini.executor.wait_for(lambda r: r.event["id"] == story)
        noise = await mini.executor.send(
            [{"name": "t/noise", "data": {"i": i}} for i in range(120)]
        )
        await page.goto(mini.executor_url)
        await expect(page.locator("#about")).to_contain_text("applies each function's flow control")
        assert "no flow control" not in await page.inner_text("#about")
        await expect(page.locator("#events > li")).to_have_count(100)
        await page.click("#older")
        await expect(page.locator("#events > li")).to_have_count(121)
        await expect(page.locator(f'#events > li[data-event="{noise[0]}"]')).to_be_visible()
        # filters: the function narrows to its events
        await page.select_option("#f-function", "mini-story")
        await expect(page.locator("#events > li")).to_have_count(1)
        await open_run(page, run.run_id)
        rows = page.locator("#timeline > li")
        await expect(rows).to_have_count(4)
        shown = await rows.evaluate_all(
            "rs => rs.map(r => [r.dataset.step, +r.dataset.startMs, +r.dataset.durationMs])"
        )
        assert shown == [[b[0], b[2], b[3]] for b in expected_bars(run)]
        await expect(rows.nth(3)).to_contain_text("attempt 2 (retry 1)")
        await expect(rows.nth(1)).to_contain_text("+3.0 s · 5.0 min")
        await page.screenshot(path=artifact("viewer-timeline.png"), full_page=True)
        await page.fill("#f-id", "no-such-id")
        await expect(page.locator("#no-events")).to_have_text(
            "No event or run matches these filters."
        )
        await page.fill("#f-id", "")
        await page.select_option("#f-function", "")
        await page.fill("#f-event", "noise")
        await expect(page.locator("#events > li")).to_have_count(100)
        await page.fill("#f-event", "")

        # rerun: a new run of the same event, opened
        await page.select_option("#f-function", "mini-story")
        await open_run(page, run.run_id)
        await page.click("#rerun")
        await expect(page.locator("#action-result")).to_contain_text("Rerun started")
        reruns = [r for r in mini.executor.runs("story") if r.run_id != run.run_id]
        assert len(reruns) == 1 and reruns[0].event["id"] == story
        await expect(page.locator("#run-id")).to_have_text(reruns[0].run_id)

        # invoke with a JSON payload, then cancel a waiting run
        await page.select_option("#invoke-function", "mini-waiter")
        await page.fill("#invoke-data", '{"why": "test"}')
        await page.click("#invoke button[type=submit]")
        await expect(page.locator("#invoke-result")).to_contain_text("Invoked: run ")
        [waiter] = mini.executor.runs("waiter")
        assert waiter.event["data"]["why"] == "test"
        await mini.executor.run_until_idle(advance_clock=False)
        assert waiter.status == "waiting"
        await expect(page.locator("#run-id")).to_have_text(waiter.run_id)
        await expect(page.locator("#cancel")).to_be_visible()
        await page.click("#cancel")
        await expect(page.locator("#run-detail[data-status=cancelled]")).to_be_visible()
        assert waiter.status == "cancelled"
        await expect(page.locator("#cancel")).to_be_hidden()


async def test_on_a_phone_a_tapped_run_opens_in_place(browser: Browser) -> None:
    async with (
        app() as mini,
        driven(mini.executor),
        new_page(browser, PHONE) as page,
    ):
        ids = await mini.executor.send([{"name": "t/story", "data": {"who": w}} for w in "abc"])
        runs = [await mini.executor.wait_for(lambda r, i=i: r.event["id"] == i) for i in ids]
        await page.goto(mini.executor_url)
        middle = runs[1]
        await open_run(page, middle.run_id)
        item = page.locator(f'#events > li[data-event="{middle.event["id"]}"]')
        await expect(item.locator("#run")).to_be_visible()  # inside the tapped event's entry
        run_box = await page.locator("#run").bounding_box()
        next_box = await page.locator(
            f'#events > li[data-event="{runs[0].event["id"]}"]'
        ).bounding_box()
        assert run_box is not None and next_box is not None
        assert run_box["y"] < next_box["y"]  # before the rest of the list, not below it
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        # its steps, after the time it queued behind the other runs (one call at a time)
        await expect(page.locator("#timeline > li:not([data-step=queued])")).to_have_count(4)
        await page.wait_for_timeout(1200)  # a poll redraws the list: the detail stays in place
        await expect(item.locator("#run")).to_be_visible()
        await page.screenshot(path=artifact("viewer-phone-run.png"), full_page=True)
        await page.set_viewport_size(DESKTOP)
        await expect(page.locator("#run-home #run")).to_be_visible()
