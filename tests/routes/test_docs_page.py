"""Issue 22: the API reference renders the generated document in a real browser, under the CSP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.async_api import Browser

from inngest_app.app import create_app
from inngest_app.settings import Settings
from inngest_app.testing.live import serve_asgi
from tests.browser import DESKTOP, new_page

pytestmark = pytest.mark.asyncio(loop_scope="module")  # one browser for the module


async def test_the_reference_lists_every_operation_with_no_policy_violation(
    browser: Browser, make_settings: Callable[..., Settings]
) -> None:
    async with (
        serve_asgi(create_app(make_settings(monitoring_enabled=False))) as url,
        new_page(browser, DESKTOP) as page,
    ):
        blocked: list[str] = []
        outside: list[str] = []
        page.on(
            "console",
            lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.on("request", lambda r: None if r.url.startswith(url) else outside.append(r.url))
        await page.goto(f"{url}/api/docs")
        await page.wait_for_selector("text=Start a paginated query")
        await page.wait_for_selector("text=Create a workspace")
        assert await page.locator(".opblock").count() >= 25
        assert blocked == [] and outside == []
