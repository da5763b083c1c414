"""The run viewer on the executor's `/`, in a real browser: send an event, watch its run."""

from __future__ import annotations

import datetime as dt
import re
from importlib import resources

import httpx
import inngest
import pytest
from playwright.async_api import Browser, Page, expect

from inngest_app.testing import TestExecutor
from inngest_app.testing.viewer import DEV_SERVER_COMMAND
from tests.browser import DESKTOP, PHONE, artifact, new_page
from tests.testing.support import EVENT_KEY, Functions, count, driven, mini_app

pytestmark = pytest.mark.asyncio(loop_scope="module")  # one browser for the module


def _functions(client: inngest.Inngest) -> Functions:
    calls: dict[str, int] = {}

    @client.create_function(fn_id="greet", trigger=inngest.TriggerEvent(event="t/greet"))
    async def greet(ctx: inngest.Context) -> dict[str, str]:
        who = await ctx.step.run("find-name", lambda: str(ctx.event.data["who"]).title())

        def shout() -> str:
            if count(calls, "shout") == 1:
                raise RuntimeError("the loudspeaker is warming up")
            return f"HELLO {who.upper()}"

        loud = await ctx.step.run("shout", shout)
        return {"greeting": loud}

    return [greet]


async def send_from_form(page: Page, name: str, data: str) -> None:
    await page.fill("#event-name", name)
    await page.fill("#event-data", data)
    await page.click("#send button[type=submit]")


async def test_an_event_sent_from_the_form_runs_and_its_steps_show_outputs(
    browser: Browser,
) -> None:
    async with (
        mini_app(_functions) as mini,
        driven(mini.executor),
        new_page(browser, DESKTOP) as page,
    ):
        await page.goto(mini.executor_url)
        await expect(page.locator("#about")).to_contain_text("not the Inngest Dev Server")
        await expect(page.locator("#dev-command")).to_have_text(
            f"npx inngest-cli@latest dev -u {mini.app_url}"
        )
        await expect(page.locator("#functions li")).to_have_text(["mini-greet ← t/greet"])

        await send_from_form(page, "t/greet", '{"who": "ada"}')
        detail = page.locator("#run-detail[data-status=completed]")
        await expect(detail).to_be_visible()
        [run] = mini.executor.runs("greet")
        assert run.status == "completed" and run.event["data"] == {"who": "ada"}
        await expect(page.locator("#run-id")).to_have_text(run.run_id)
        steps = page.locator("#steps > li")
        await expect(steps.locator(".id")).to_have_text(["find-name", "shout", "shout"])
        await expect(steps.nth(0).locator("pre.output")).to_have_text('"Ada"')
        await expect(steps.nth(1).locator("pre.bad")).to_contain_text("warming up")
        await expect(steps.nth(2).locator("pre.output")).to_have_text('"HELLO ADA"')
        await expect(page.locator("#run-attempts")).to_contain_text("2")
        await expect(page.locator("#run-result pre")).to_contain_text('"greeting": "HELLO ADA"')
        event = page.locator(f'#events li[data-event="{run.event["id"]}"]')
        await expect(event.locator(".runs .badge")).to_have_text("completed")
        assert await page.locator("body").get_attribute("data-live") == "false"
        await page.screenshot(path=artifact("viewer-desktop.png"), full_page=True)
        await page.set_viewport_size(PHONE)
        await page.screenshot(path=artifact("viewer-phone.png"), full_page=True)


async def test_a_bad_payload_is_refused_in_the_form(browser: Browser) -> None:
    async with mini_app(_functions) as mini, new_page(browser, DESKTOP) as page:
        await page.goto(mini.executor_url)
        await send_from_form(page, "t/greet", "{not json")
        await expect(page.locator("#send-result")).to_contain_text("Data is not JSON")
        await send_from_form(page, "inngest/function.failed", "{}")
        await expect(page.locator("#send-result")).to_contain_text("Refused (400): event names")
        assert mini.executor.events == []


async def test_the_state_endpoint_lists_events_with_their_runs() -> None:
    async with mini_app(_functions) as mini:
        [event_id] = await mini.executor.send({"name": "t/greet", "data": {"who": "bo"}})
        run = await mini.executor.wait_for(lambda r: r.event["id"] == event_id)
        async with httpx.AsyncClient(base_url=mini.executor_url) as http:
            state = (await http.get("/viewer/api/state")).json()
            detail = (await http.get(f"/viewer/api/runs/{run.run_id}")).json()
            missing = await http.get("/viewer/api/runs/nope")
            page = await http.get("/")
    event = next(e for e in state["events"] if e["id"] == event_id)
    assert [r["runId"] for r in event["runs"]] == [run.run_id]
    assert (
        event["runs"][0] | {"status": "completed", "attempts": 2, "done": True} == event["runs"][0]
    )
    assert state["live"] is False and state["executor"]["eventKeyRequired"] is False
    assert [s["name"] for s in detail["steps"]] == ["find-name", "shout", "shout"]
    assert detail["output"] == {"greeting": "HELLO BO"}
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert page.status_code == 200 and "offline executor" in page.text
    assert DEV_SERVER_COMMAND in page.text  # before any app syncs: make dev's URL


def _flow(client: inngest.Inngest) -> Functions:
    @client.create_function(fn_id="child", trigger=inngest.TriggerEvent(event="t/child"))
    async def child(ctx: inngest.Context) -> int:
        if ctx.event.data["n"] < 0:
            raise inngest.NonRetriableError("negative")
        return int(ctx.event.data["n"]) * 10

    @client.create_function(fn_id="flow", trigger=inngest.TriggerEvent(event="t/flow"))
    async def flow(ctx: inngest.Context) -> str:
        await ctx.step.sleep("nap", dt.timedelta(minutes=5))
        await ctx.step.wait_for_event("approval", event="t/ok", timeout=dt.timedelta(hours=1))
        await ctx.step.invoke("double", function=child, data={"n": 4})
        try:
            await ctx.step.invoke("negative", function=child, data={"n": -1})
        except inngest.StepError:
            return "done"
        return "unreachable"

    return [child, flow]


async def test_sleeps_waits_and_invokes_show_what_they_resolved_to() -> None:
    async with mini_app(_flow) as mini:
        [event_id] = await mini.executor.send({"name": "t/flow", "data": {}})
        run = await mini.executor.wait_for(lambda r: r.event["id"] == event_id)
        async with httpx.AsyncClient(base_url=mini.executor_url) as http:
            detail = (await http.get(f"/viewer/api/runs/{run.run_id}")).json()
            state = (await http.get("/viewer/api/state")).json()
    assert detail["status"] == "completed" and detail["output"] == "done"
    steps = {s["name"]: s for s in detail["steps"]}
    assert list(steps) == ["nap", "approval", "double", "negative"]
    assert steps["nap"]["kind"] == "sleep" and "output" not in steps["nap"]
    assert steps["approval"]["note"] == "timed out"
    assert steps["double"]["output"] == 40 and steps["double"]["ok"]
    assert not steps["negative"]["ok"] and steps["negative"]["error"]["message"] == "negative"
    # the invoked runs are listed under their inngest/function.invoked events, shown as such
    invoked = [e for e in state["events"] if e["name"] == "inngest/function.invoked"]
    assert len(invoked) == 2 and all(e["internal"] and e["runs"] for e in invoked)


async def test_with_an_event_key_the_form_asks_for_it(browser: Browser) -> None:
    async with (
        mini_app(_functions, cloud=True) as mini,
        driven(mini.executor),
        new_page(browser, PHONE) as page,
    ):
        await page.goto(mini.executor_url)
        await expect(page.locator("#key-field")).to_be_visible()
        await page.fill("#event-key", "not-the-key")
        await send_from_form(page, "t/greet", '{"who": "cy"}')
        await expect(page.locator("#send-result")).to_contain_text("Refused (401)")
        assert mini.executor.events == []
        await page.fill("#event-key", EVENT_KEY)
        await send_from_form(page, "t/greet", '{"who": "cy"}')
        await expect(page.locator("#run-detail[data-status=completed]")).to_be_visible()
        await expect(page.locator("#steps > li").nth(0).locator("pre.output")).to_have_text('"Cy"')


async def test_the_viewer_ships_with_the_executor_and_serves_every_file_its_page_names() -> None:
    own = {f.name for f in resources.files("inngest_app.testing.static").iterdir()}
    assert {"viewer.html", "viewer.js", "viewer-run.js", "viewer.css"} <= own
    dashboard = {f.name for f in resources.files("inngest_app.pages").iterdir()}
    assert not [name for name in dashboard if "viewer" in name]
    async with TestExecutor() as executor:
        transport = httpx.ASGITransport(executor.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            page = await http.get("/")
            answers = {path: await http.get(path) for path in _linked(page.text)}
    assert page.status_code == 200 and "offline executor" in page.text
    assert sorted(answers) == sorted(
        f"/viewer/{name}" for name in ("pages.css", "viewer.css", "viewer.js", "viewer-run.js")
    )
    for path, answer in answers.items():
        assert answer.status_code == 200 and answer.content, path
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")


def _linked(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/viewer/[^"]+)"', html)
