"""Headless Chromium for the page tests: Debian's `chromium` driven by Playwright's Python API.

Playwright's own browser download cannot work here, so the system browser is used
(`CHROMIUM_PATH`, else `chromium` on PATH). Without one the tests skip, saying how to install
it, unless `REQUIRE_BROWSER=1` (CI) turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# screenshots of the pages under test (ignored by git)
ARTIFACTS = Path(
    os.environ.get("TEST_ARTIFACTS_DIR") or Path(__file__).parents[1] / "test-artifacts"
)
# a loaded CI machine can take seconds to paint; a real failure still fails, only later
expect.set_options(timeout=20_000)
INSTALL_HINT = (
    "no Chromium for the browser tests: install it with `apt-get install chromium` "
    "(or set CHROMIUM_PATH)"
)


def chromium_path() -> str | None:
    """The browser to drive, or None when there is none."""
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A launched headless browser; closed after."""
    path = chromium_path()
    if path is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def new_page(browser: Browser, viewport: dict[str, int]) -> AsyncIterator[Page]:
    """A page in a fresh browser context (its own storage), closed after."""
    context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(30_000)
    try:
        yield await context.new_page()
    finally:
        await context.close()


def artifact(name: str) -> Path:
    """Where a test writes the file `name` (the folder is created)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
