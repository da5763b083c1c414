"""Tiny Inngest apps for the executor's tests: each test builds its own functions.

    async with mini_app(build) as mini:
        await mini.executor.send({"name": "t/go", "data": {}})
        run = await mini.executor.wait_for(lambda r: r.function_id == "mini-go")

`build(client)` returns the functions; `asgi(client, functions)` serves them (the SDK's FastAPI
adapter by default; any ASGI app works). The executor and the app each listen on their own
loopback port, so every call crosses real HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import fastapi
import inngest
import inngest.fast_api

from inngest_app.testing import ManualClock, TestExecutor
from inngest_app.testing.live import serve_asgi

SIGNING_KEY = "signkey-test-" + "a1" * 32
OTHER_SIGNING_KEY = "signkey-test-" + "b2" * 32
EVENT_KEY = "test-event-key"
APP_ID = "mini"

Functions = list[inngest.Function[Any]]
Build = Callable[[inngest.Inngest], Functions]
AsgiFactory = Callable[[inngest.Inngest, Functions], Any]


def fastapi_app(client: inngest.Inngest, functions: Functions, **serve: Any) -> fastapi.FastAPI:
    """The SDK's own FastAPI adapter serving `functions` at /api/inngest."""
    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, functions, **serve)
    return app


@dataclass
class Mini:
    """A served app synced with a running executor."""

    executor: TestExecutor
    clock: ManualClock
    client: inngest.Inngest
    app_url: str  # the serve URL, .../api/inngest
    executor_url: str


async def close_client(client: inngest.Inngest) -> None:
    """Close the SDK client's HTTP clients (it has no public close)."""
    await client._http_client._http_client.aclose()
    client._http_client._http_client_sync.close()


@contextlib.asynccontextmanager
async def mini_app(
    build: Build,
    *,
    cloud: bool = False,
    executor: TestExecutor | None = None,
    asgi: AsgiFactory = fastapi_app,
    sync: bool = True,
) -> AsyncIterator[Mini]:
    """Serve `build`'s functions and an executor (cloud mode: signed, with keys), synced."""
    if executor is None:
        executor = TestExecutor(
            signing_key=SIGNING_KEY if cloud else None,
            event_key=EVENT_KEY if cloud else None,
            clock=ManualClock(),
        )
    assert isinstance(executor.clock, ManualClock)
    async with executor, serve_asgi(executor.asgi) as executor_url:
        client = inngest.Inngest(
            app_id=APP_ID,
            is_production=cloud,
            signing_key=SIGNING_KEY if cloud else None,
            event_key=EVENT_KEY if cloud else None,
            api_base_url=executor_url,
            event_api_base_url=executor_url,
        )
        try:
            async with serve_asgi(asgi(client, build(client))) as origin:
                app_url = f"{origin}/api/inngest"
                if sync:
                    response = await executor.sync(app_url)
                    assert response.status_code == 200 and executor.functions, response.text
                yield Mini(executor, executor.clock, client, app_url, executor_url)
        finally:
            await close_client(client)


def count(counter: dict[str, int], key: str) -> int:
    """Increment `counter[key]` and return the new value (step bodies count their runs)."""
    counter[key] = counter.get(key, 0) + 1
    return counter[key]


@contextlib.asynccontextmanager
async def driven(executor: TestExecutor) -> AsyncIterator[None]:
    """Drive the executor in the background, as offline mode does (the page only polls)."""
    task = asyncio.create_task(executor.run_forever(tick_s=0.02, advance_clock=True))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
