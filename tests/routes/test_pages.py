"""The usage dashboard in a real browser: seeded runs, the API's numbers, filters, auth, errors."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from playwright.async_api import Browser, Page, expect

from inngest_app.app import create_app
from inngest_app.settings import Settings
from inngest_app.store.transport import init_connection
from inngest_app.testing.live import serve_asgi
from tests.apps import in_process
from tests.browser import DESKTOP, PHONE, artifact, new_page
from tests.harness import LiveFactory
from tests.routes.test_monitoring_runs import recorded

pytestmark = pytest.mark.asyncio(loop_scope="module")  # one browser for the module
ADMIN = "admin-key-for-the-dashboard-tests"
SECRET = "jwt-secret-for-the-dashboard-tests-0123"
FUNCTIONS = ["inngest-app-execute-query", "inngest-app-ping", "inngest-app-stripe-checkout"]


def token(sub: str) -> str:
    claims = {"sub": sub, "exp": int(time.time()) + 600, "aud": "authenticated"}
    return jwt.encode({**claims, "role": "authenticated"}, SECRET, "HS256")  # a Supabase user's


def make_rows(now: dt.datetime) -> list[tuple[Any, ...]]:
    """Runs over the last 12 days: three functions, two users, some failures (deterministic)."""
    rows = []
    for i in range(48):
        fn = FUNCTIONS[i % 3] if i % 5 else FUNCTIONS[0]
        status = "failed" if i % 7 == 3 else "completed"
        started = now - dt.timedelta(days=i % 12, hours=1 + i % 5, minutes=i)
        duration = 40 + 137 * (i % 9) + (900 if fn == FUNCTIONS[2] else 0)
        rows.append(
            (
                f"run-{i:02d}",
                fn,
                fn.removeprefix("inngest-app-"),
                ["alice", "bob", None][(i // 3) % 3],
                ["event", "scheduled", "webhook", "event"][i % 4],
                status,
                1 + i % 4,
                i % 2,
                duration,
                started,
                started + dt.timedelta(milliseconds=duration),
                f"page {i} answered 502" if status == "failed" else None,
            )
        )
    return rows


async def seed(database_url: str, now: dt.datetime) -> None:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        await conn.executemany(
            "insert into inngest_function_executions (run_id, function_id, function_name, user_id,"
            " trigger_type, status, step_count, other_step_count, duration_ms, started_at,"
            " completed_at, error_message) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
            make_rows(now),
        )
        hour = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=3)
        await conn.execute(
            "insert into monitoring_alerts (kind, observed, threshold, window_start, window_end,"
            " notified) values ('failures', 4, 2, $1, $2, true)",
            hour,
            hour + dt.timedelta(hours=1),
        )
    finally:
        await conn.close()


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        monitoring_api_key=ADMIN,
        supabase_jwt_secret=SECRET,
        inngest_monthly_step_quota=5_000,
        monitoring_enabled=False,
    )


@contextlib.asynccontextmanager
async def dashboard(
    browser: Browser, settings: Settings, viewport: dict[str, int] = DESKTOP
) -> AsyncIterator[Page]:
    """The app on a loopback port and a browser page on its `/monitoring`."""
    async with serve_asgi(create_app(settings)) as url, new_page(browser, viewport) as page:
        await page.goto(f"{url}/monitoring")
        yield page


async def sign_in(page: Page, secret: str, state: str = "loaded") -> None:
    await page.fill("#token", secret)
    await page.click("#signin button[type=submit]")
    await page.wait_for_selector(f"body[data-state={state}]")


async def api(settings: Settings, secret: str, **params: str) -> dict[str, Any]:
    async with in_process(create_app(settings)) as client:
        response = await client.get(
            "/api/inngest/monitoring", params=params, headers={"Authorization": f"Bearer {secret}"}
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def number(text: str) -> int:
    return int(text.replace(",", ""))


async def table_functions(page: Page) -> list[str]:
    return await page.locator("#functions tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.function)"
    )


async def test_totals_filter_sort_and_screenshots(
    settings: Settings, database_url: str, browser: Browser
) -> None:
    now = dt.datetime.now(dt.UTC)
    await seed(database_url, now)
    async with dashboard(browser, settings) as page:
        urls: list[str] = []
        page.on("request", lambda request: urls.append(request.url))
        await sign_in(page, ADMIN)
        start = await page.evaluate("new Date(Date.now() - 30 * 86400000).toISOString()")
        body = await api(settings, ADMIN, startDate=start)
        assert body["totalExecutions"] == 48
        assert number(await page.inner_text("#t-runs")) == body["totalExecutions"]
        billed = body.get("billedSteps", body["totalSteps"])  # billed steps, whatever the key
        assert number(await page.inner_text("#t-steps")) == billed
        assert number(await page.inner_text("#t-failed")) == body["failedExecutions"]
        assert await page.inner_text("#t-cost") == f"${body['estimatedCostUsd']:.4f}"
        quota = body["quota"]
        assert await page.inner_text("#t-quota") == f"{quota['percentUsed']:.1f}%"
        assert f"{quota['forecastStepsThisMonth']:,}" in await page.inner_text("#t-quota-sub")
        assert sorted(await table_functions(page)) == FUNCTIONS
        rows = {f["functionId"]: f for f in body["byFunction"]}
        first = page.locator(f'#functions tr[data-function="{FUNCTIONS[0]}"] td')
        assert number(await first.nth(1).inner_text()) == rows[FUNCTIONS[0]]["count"]
        assert (await first.nth(5).inner_text()).startswith(f"{rows[FUNCTIONS[0]]['failed']} (")
        bars = page.locator("#chart-runs rect.bar")
        assert await bars.count() == 31  # every day of the range, empty ones too
        assert await page.locator("#failures tbody tr").count() == body["failedExecutions"]
        await expect(page.locator("#alerts li")).to_have_count(1)
        await expect(page.locator("#alerts li")).to_contain_text("Failures 4 over the limit of 2")

        await page.screenshot(path=artifact("dashboard-desktop.png"), full_page=True)
        await page.set_viewport_size(PHONE)
        await page.wait_for_function(
            "() => document.querySelector('#chart-runs svg').viewBox.baseVal.width < 400"
        )
        await page.screenshot(path=artifact("dashboard-phone.png"), full_page=True)
        await page.set_viewport_size(DESKTOP)

        # sorting: by runs (the default, descending), then by p95 both ways, then by name
        runs = [rows[f]["count"] for f in await table_functions(page)]
        assert runs == sorted(runs, reverse=True)
        await page.click("#functions th[data-key=p95DurationMs] button")
        p95 = [rows[f]["p95DurationMs"] for f in await table_functions(page)]
        assert p95 == sorted(p95, reverse=True) and len(set(p95)) > 1
        await page.click("#functions th[data-key=p95DurationMs] button")
        assert [rows[f]["p95DurationMs"] for f in await table_functions(page)] == sorted(p95)
        await page.click("#functions th[data-key=functionId] button")
        assert await table_functions(page) == FUNCTIONS

        # a function filter: the table, the totals and the failures follow it
        await page.select_option("#function", FUNCTIONS[1])
        await page.wait_for_selector("body[data-state=loaded]")
        assert await table_functions(page) == [FUNCTIONS[1]]
        only = await api(settings, ADMIN, startDate=start, functionId=FUNCTIONS[1])
        assert number(await page.inner_text("#t-runs")) == only["totalExecutions"] < 48
        options = await page.locator("#function option").all_inner_texts()
        # the other functions stay choosable (and the registered ones, runs or not)
        assert set(FUNCTIONS) | {"inngest-app-ping"} <= set(options[1:])
        assert options[1:] == sorted(options[1:])

        # an admin's user filter, on top of the function filter
        await page.fill("#user", "bob")
        await page.press("#user", "Enter")
        await page.wait_for_selector("body[data-state=loaded]")
        bobs = await api(settings, ADMIN, startDate=start, functionId=FUNCTIONS[1], userId="bob")
        assert number(await page.inner_text("#t-runs")) == bobs["totalExecutions"] > 0
        assert bobs["totalExecutions"] < only["totalExecutions"]

        # the token is in the tab's session storage, never in a URL; a reload keeps it
        assert ADMIN not in page.url
        assert any("/api/inngest/monitoring?" in u for u in urls)
        assert not [u for u in urls if ADMIN in u]
        stored = await page.evaluate("sessionStorage.getItem('inngest-app.monitoring.token')")
        assert stored == ADMIN
        await page.reload()
        await page.wait_for_selector("body[data-state=loaded]")
        assert await page.is_hidden("#signin")


async def test_a_user_token_sees_only_that_users_runs(
    settings: Settings, database_url: str, browser: Browser
) -> None:
    now = dt.datetime.now(dt.UTC)
    await seed(database_url, now)
    alice = token("alice")
    async with dashboard(browser, settings, PHONE) as page:
        await sign_in(page, alice)
        mine = [r for r in make_rows(now) if r[3] == "alice"]
        assert number(await page.inner_text("#t-runs")) == len(mine) < 48
        functions = {r[1] for r in mine}
        assert set(await table_functions(page)) == functions
        assert await page.is_hidden("#user-filter")  # no user filter for a user
        await expect(page.locator("#alerts-empty")).to_have_text(
            "Usage alerts are shown to admins."
        )
        assert await page.inner_text("#who") == "your runs only"
        await page.screenshot(path=artifact("dashboard-user-phone.png"), full_page=True)


async def test_a_wrong_key_shows_the_apis_error(
    settings: Settings, database_url: str, browser: Browser
) -> None:
    async with dashboard(browser, settings) as page:
        await sign_in(page, "not-the-key", state="error")
        await expect(page.locator("#status")).to_have_text(
            "The monitoring API answered 401 (unauthorized): invalid credentials"
        )
        assert await page.is_hidden("#report")
        assert await page.is_visible("#signin")  # asked again, and the bad key is forgotten
        assert await page.evaluate("sessionStorage.length") == 0


async def test_a_failing_api_shows_its_error_not_zeros(
    settings: Settings, database_url: str, browser: Browser
) -> None:
    await seed(database_url, dt.datetime.now(dt.UTC))
    async with dashboard(browser, settings) as page:
        await sign_in(page, ADMIN)
        conn = await asyncpg.connect(database_url)
        try:  # the stats' SQL now fails: the API answers 503
            await conn.execute("alter table monitoring_alerts rename to monitoring_alerts_gone")
        finally:
            await conn.close()
        await page.click("#refresh")
        await page.wait_for_selector("body[data-state=error]")
        await expect(page.locator("#status")).to_have_text(
            "The monitoring API answered 503 (store_unavailable): storage is unavailable"
        )
        assert await page.is_hidden("#report")
        assert await page.is_hidden("#signin")  # still signed in: a retry may work


async def test_an_empty_range_says_so(
    settings: Settings, database_url: str, browser: Browser
) -> None:
    async with dashboard(browser, settings) as page:
        await sign_in(page, ADMIN, state="empty")
        await expect(page.locator("#status")).to_contain_text("No runs recorded from")
        assert await page.inner_text("#t-runs") == "—"
        assert await page.is_hidden("#data")


async def test_the_page_and_its_assets_are_served_with_a_strict_policy(
    settings: Settings,
) -> None:
    async with in_process(create_app(settings)) as client:
        page = await client.get("/monitoring")
        script = await client.get("/monitoring/dashboard.js")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert script.headers["content-type"].startswith("text/javascript")
    assert isinstance(page, httpx.Response)


async def test_steps_column_and_chart_count_billed_steps(
    settings: Settings, database_url: str, browser: Browser
) -> None:
    now = dt.datetime.now(dt.UTC)
    await seed(database_url, now)
    async with dashboard(browser, settings) as page:
        await sign_in(page, ADMIN)
        start = await page.evaluate("new Date(Date.now() - 30 * 86400000).toISOString()")
        body = await api(settings, ADMIN, startDate=start)
        rows = {f["functionId"]: f for f in body["byFunction"]}
        assert any(f["billedSteps"] != f["steps"] for f in rows.values())
        for fn, f in rows.items():
            cells = page.locator(f'#functions tr[data-function="{fn}"] td')
            assert number(await cells.nth(2).inner_text()) == f["billedSteps"], fn
        label = await page.get_attribute("#chart-steps svg", "aria-label")
        assert label is not None and f"{body['billedSteps']:,} in total" in label


async def test_phone_filters_fit_and_an_empty_range_keeps_the_functions(
    settings: Settings, database_url: str, browser: Browser
) -> None:
    now = dt.datetime.now(dt.UTC)
    await seed(database_url, now)
    long_id = "inngest-app-" + "aggregate-workspace-metrics-for-every-priority-repository"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "insert into inngest_function_executions (run_id, function_id, status, started_at)"
            " values ('run-long', $1, 'completed', $2)",
            long_id,
            now - dt.timedelta(hours=2),
        )
    finally:
        await conn.close()
    async with dashboard(browser, settings, PHONE) as page:
        await sign_in(page, ADMIN)
        panel = await page.locator("#filters").bounding_box()
        select = await page.locator("#function").bounding_box()
        assert panel is not None and select is not None
        assert select["x"] + select["width"] <= panel["x"] + panel["width"]
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        # the runs list and a run fit the phone too
        await page.click("#t-failed a")
        await page.wait_for_selector("#runs-panel[data-state=loaded]")
        await page.locator("#runs tbody tr a").first.click()
        await page.wait_for_selector("#run-panel[data-state=loaded]")
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await page.screenshot(path=artifact("dashboard-phone-run.png"), full_page=True)
        # a range with no runs: the function list stays
        await page.select_option("#range", "custom")
        await page.fill("#start", "2020-01-01")
        await page.fill("#end", "2020-01-02")
        await page.dispatch_event("#end", "change")
        await page.wait_for_selector("body[data-state=empty]")
        options = await page.locator("#function option").evaluate_all("os => os.map(o => o.value)")
        assert set(FUNCTIONS) | {long_id} <= set(options)


async def test_a_number_leads_to_its_runs_and_a_run_to_its_detail(
    settings: Settings, database_url: str, browser: Browser
) -> None:
    now = dt.datetime.now(dt.UTC)
    await seed(database_url, now)
    rows = make_rows(now)
    async with dashboard(browser, settings) as page:
        await sign_in(page, ADMIN)
        # the function row's failures -> that function's failed runs
        fn = FUNCTIONS[0]
        failed = [r for r in rows if r[1] == fn and r[5] == "failed"]
        await page.click(f'#functions tr[data-function="{fn}"] td:nth-child(6) a')
        await page.wait_for_selector("#runs-panel[data-state=loaded]")
        listed = await page.locator("#runs tbody tr").evaluate_all(
            "rs => rs.map(r => r.dataset.run)"
        )
        assert sorted(listed) == sorted(r[0] for r in failed)
        assert await page.inner_text("#runs-title") == f"Failed runs of {fn} in this range"
        # a run -> its detail, with the link to the executor's viewer (dev mode)
        target = listed[0]
        await page.click(f'#runs tr[data-run="{target}"] a')
        await page.wait_for_selector("#run-panel[data-state=loaded]")
        row = next(r for r in rows if r[0] == target)
        assert await page.inner_text("#run-title") == target
        assert await page.inner_text('#run-facts dd[data-fact="function"]') == fn
        assert await page.inner_text('#run-facts dd[data-fact="status"]') == "failed"
        assert row[11] in await page.inner_text("#run-error")
        href = await page.get_attribute("#run-link", "href")
        assert href == f"{settings.inngest_base_url}/#run={target}"
        assert "run viewer" in await page.inner_text("#run-link")
        # the runs card -> every run of the range; "More" pages past the first 50
        await page.click("#t-runs a")
        await page.wait_for_selector("#runs-panel[data-state=loaded]")
        await expect(page.locator("#runs tbody tr")).to_have_count(48)  # under a page: no More
        assert await page.is_hidden("#runs-more")
        # a chart bar -> the runs of that day
        day = (now - dt.timedelta(days=2, hours=1)).date()
        expected = [r[0] for r in rows if r[9].date() == day]
        bar = page.locator(f'#chart-runs a.bar-link:has(rect.bar[data-from="{day.isoformat()}"])')
        await bar.click()
        await page.wait_for_selector("#runs-panel[data-state=loaded]")
        assert await page.inner_text("#runs-title") == f"Runs on {day.isoformat()}"
        await expect(page.locator("#runs tbody tr")).to_have_count(len(expected))
        # a latest failure -> its run
        first_failure = page.locator("#failures tbody tr").first
        run_id = await first_failure.get_attribute("data-run")
        await first_failure.locator("a").click()
        await page.wait_for_selector("#run-panel[data-state=loaded]")
        assert await page.inner_text("#run-title") == run_id
        await page.screenshot(path=artifact("dashboard-run.png"), full_page=True)


async def test_the_view_round_trips_through_the_url_hash(
    settings: Settings, database_url: str, browser: Browser
) -> None:
    now = dt.datetime.now(dt.UTC)
    await seed(database_url, now)
    async with serve_asgi(create_app(settings)) as url, new_page(browser, DESKTOP) as page:
        await page.goto(f"{url}/monitoring")
        await sign_in(page, ADMIN)
        await page.select_option("#range", "7")
        await page.wait_for_selector("body[data-state=loaded]")
        await page.select_option("#function", FUNCTIONS[2])
        await page.wait_for_selector("body[data-state=loaded]")
        await page.fill("#user", "alice")
        await page.press("#user", "Enter")
        await page.wait_for_selector("body[data-state=loaded]")
        await page.click("#t-failed a")
        await page.wait_for_selector("#runs-panel[data-state=loaded]")
        run_id = await page.locator("#runs tbody tr").first.get_attribute("data-run")
        assert run_id is not None
        await page.click(f'#runs tr[data-run="{run_id}"] a')
        await page.wait_for_selector("#run-panel[data-state=loaded]")
        shared = page.url
        fragment = shared.split("#", 1)[1]
        assert ADMIN not in shared
        assert {
            "range=7",
            f"fn={FUNCTIONS[2]}",
            "user=alice",
            "runs=1",
            "runs.status=failed",
            f"run={run_id}",
        } <= set(fragment.split("&"))
        runs_text = await page.inner_text("#t-runs")
        listed = await page.locator("#runs tbody tr").count()
        # the same URL in another tab (signed in there too) shows the same view
        async with new_page(browser, DESKTOP) as other:
            await other.goto(shared)
            await sign_in(other, ADMIN)
            await other.wait_for_selector("#run-panel[data-state=loaded]")
            await other.wait_for_selector("#runs-panel[data-state=loaded]")
            assert await other.input_value("#range") == "7"
            assert await other.input_value("#function") == FUNCTIONS[2]
            assert await other.input_value("#user") == "alice"
            assert await other.inner_text("#t-runs") == runs_text
            assert await other.locator("#runs tbody tr").count() == listed
            assert await other.inner_text("#run-title") == run_id
            assert await other.input_value("#runs-status") == "failed"
        # Back closes the run, then the runs list
        await page.go_back()
        await expect(page.locator("#run-panel")).to_be_hidden()
        await page.go_back()
        await expect(page.locator("#runs-panel")).to_be_hidden()
        # a hostile hash is ignored field by field, and shown as text
        await page.goto(f"{url}/monitoring#range=<b>&fn=<img src=x>&runs=1&runs.status=evil")
        await page.wait_for_selector("#runs-panel[data-state=loaded]")
        assert await page.input_value("#range") == "30"
        assert await page.input_value("#runs-status") == ""
        assert await page.locator("#filters img").count() == 0


async def test_last_24_hours_draws_hourly_bars_with_the_previous_period(
    settings: Settings, database_url: str, browser: Browser
) -> None:
    now = dt.datetime.now(dt.UTC)
    await seed(database_url, now)
    async with dashboard(browser, settings) as page:
        await sign_in(page, ADMIN)
        await page.select_option("#range", "1")
        await page.wait_for_selector("body[data-state=loaded]")
        assert await page.get_attribute("#chart-runs svg", "data-unit") == "hour"
        bars = page.locator("#chart-runs rect.bar")
        assert await bars.count() in (24, 25)  # every hour of the range, its partial first one too
        start = await page.evaluate("new Date(Date.now() - 86400000).toISOString()")
        body = await api(settings, ADMIN, startDate=start)
        assert sum(h["executions"] for h in body["byHour"]) == body["totalExecutions"]
        label = await page.get_attribute("#chart-runs svg", "aria-label")
        assert label is not None and f"{body['totalExecutions']} in total" in label
        previous = body["previous"]["totalExecutions"]
        assert f"vs the previous period ({previous})" in await page.inner_text("#t-runs-prev")
        # an hour's bar leads to that hour's runs
        hour = next(h for h in body["byHour"] if h["executions"] > 0)
        start_ms = dt.datetime.fromisoformat(hour["hour"].replace("Z", "+00:00"))
        iso = start_ms.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        await page.click(f'#chart-runs a.bar-link:has(rect.bar[data-from="{iso}"])')
        await page.wait_for_selector("#runs-panel[data-state=loaded]")
        await expect(page.locator("#runs tbody tr")).to_have_count(hour["executions"])


async def test_auto_refresh_picks_up_new_runs(
    settings: Settings, database_url: str, browser: Browser
) -> None:
    now = dt.datetime.now(dt.UTC)
    await seed(database_url, now)
    async with dashboard(browser, settings) as page:
        await sign_in(page, ADMIN)
        assert number(await page.inner_text("#t-runs")) == 48
        await page.select_option("#auto", "10")
        assert "auto=10" in page.url
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "insert into inngest_function_executions (run_id, function_id, status, started_at)"
                " values ('run-new', $1, 'completed', now())",
                FUNCTIONS[1],
            )
        finally:
            await conn.close()
        await expect(page.locator("#t-runs")).to_have_text("49", timeout=25_000)
        await page.select_option("#auto", "0")
        assert "auto=" not in page.url


async def test_from_a_run_the_executor_drove_to_its_timeline_in_the_viewer(
    start_live: LiveFactory, browser: Browser
) -> None:
    async with start_live(
        monitoring_api_key=ADMIN, supabase_jwt_secret=SECRET, monitoring_flush_interval_s=0.05
    ) as live:
        await live.executor.send({"name": "app/ping", "data": {"userId": "alice", "pause_s": 2}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("ping")
        assert run.status == "completed", run.error
        await recorded(live, 1)
        async with new_page(browser, DESKTOP) as page:
            await page.goto(f"{live.app_url}/monitoring")
            await sign_in(page, token("alice"))
            await page.click('#functions tr[data-function="inngest-app-ping"] a.id')
            await page.wait_for_selector("#runs-panel[data-state=loaded]")
            await expect(page.locator("#runs tbody tr")).to_have_count(1)
            await page.click(f'#runs tr[data-run="{run.run_id}"] a')
            await page.wait_for_selector("#run-panel[data-state=loaded]")
            await expect(page.locator('#run-facts dd[data-fact="steps"]')).to_have_text(
                "3 billed (2 step.run)"
            )
            async with page.context.expect_page() as opened:
                await page.click("#run-link")
            viewer = await opened.value
            await expect(viewer.locator("#run-id")).to_have_text(run.run_id)
            await expect(viewer.locator("#timeline > li")).to_have_count(3)
            names = await viewer.locator("#timeline > li").evaluate_all(
                "rs => rs.map(r => r.dataset.step)"
            )
            assert names == ["record-ping", "pause", "record-pong"]
