"""The Dev Server driver: its skip reason, and its REST-based waits against our executor.

A real Dev Server cannot be installed here (no internet); `TestExecutor` serves the same
endpoints the driver uses, so the driver is exercised against it.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from inngest_app.testing import ManualClock, TestExecutor
from inngest_app.testing.devserver import DevServerDriver, dev_server_url_or_skip_reason
from tests.testing.apps import echo_app
from tests.testing.support import mini_app


def test_without_the_variable_the_reason_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INNGEST_DEV_SERVER_URL", raising=False)
    url, reason = dev_server_url_or_skip_reason()
    assert url is None and reason is not None and "no internet" in reason


def test_an_unreachable_server_is_a_reason_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNGEST_DEV_SERVER_URL", "http://127.0.0.1:9")
    url, reason = dev_server_url_or_skip_reason()
    assert url is None and reason is not None and "no Dev Server answers" in reason


async def test_the_driver_syncs_sends_and_waits_through_the_rest_api() -> None:
    executor = TestExecutor(clock=ManualClock())
    async with mini_app(echo_app, executor=executor, sync=False) as mini:
        background = asyncio.create_task(executor.run_forever(tick_s=0.01))
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                driver = DevServerDriver(mini.executor_url, http)
                assert (await driver.sync(mini.app_url)).status_code == 200
                event_id = await driver.send({"name": "t/echo", "data": {"a": 1}})
                run = await driver.wait_for_run(event_id, status="completed", within_s=5)
                assert run["status"] == "Completed" and run["output"]["step"] == {"a": 1}
                [other] = await driver.send([{"name": "t/nothing", "data": {}}])
                with pytest.raises(TimeoutError):
                    await driver.wait_for_run(other, within_s=0.3)
        finally:
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await background
