"""End-to-end harness: our app and the test executor, each on its own loopback port.

    async with start_live(**settings_overrides) as live:
        await live.executor.send({"name": "app/ping", "data": {}})
        await live.executor.run_until_idle()

Everything crosses real HTTP: the executor calls the app's `/api/inngest` (signed in cloud
mode), the app's SDK registers and sends events to the executor. `live.mock` is an active respx
router for third-party APIs; loopback traffic passes through it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import respx

from inngest_app.app import create_app
from inngest_app.services import Services
from inngest_app.settings import Settings
from inngest_app.testing import ManualClock, TestExecutor
from inngest_app.testing.limits import Limits
from inngest_app.testing.live import free_port, serve_asgi

SIGNING_KEY = "signkey-test-" + "5e" * 32
EVENT_KEY = "test-event-key"


@dataclass
class Live:
    """A running app synced with a running executor."""

    app_url: str
    api: httpx.AsyncClient
    executor: TestExecutor
    clock: ManualClock
    services: Services
    pool: asyncpg.Pool
    mock: respx.Router
    app: Any


LiveFactory = Callable[..., contextlib.AbstractAsyncContextManager[Live]]


def live_factory(make_settings: Callable[..., Settings], database_url: str) -> LiveFactory:
    """`start_live(cloud=False, limits=None, **settings_overrides)`: an async context manager
    of `Live`; `limits` lowers the platform limits the executor enforces (Inngest's default)."""

    @contextlib.asynccontextmanager
    async def start_live(
        *, cloud: bool = False, limits: Limits | None = None, **overrides: Any
    ) -> AsyncIterator[Live]:
        clock = ManualClock()
        executor = TestExecutor(
            signing_key=SIGNING_KEY if cloud else None,
            event_key=EVENT_KEY if cloud else None,
            clock=clock,
            max_in_flight=16,  # runs driven concurrently, as offline and on the platform
            limits=limits,
        )
        with respx.mock(assert_all_called=False) as mock:
            mock.route(host="127.0.0.1").pass_through()
            async with serve_asgi(executor.asgi) as executor_url:
                base: dict[str, Any] = {"inngest_base_url": executor_url}
                port = 0
                if cloud:
                    # Cloud mode registers INNGEST_SERVE_ORIGIN, never the request's Host.
                    port = free_port()
                    base = {
                        "inngest_dev": False,
                        "inngest_signing_key": SIGNING_KEY,
                        "inngest_event_key": EVENT_KEY,
                        "inngest_api_base_url": executor_url,
                        "inngest_event_api_base_url": executor_url,
                        "inngest_serve_origin": f"http://127.0.0.1:{port}",
                    }
                app = create_app(make_settings(**{**base, **overrides}))
                async with serve_asgi(app, port=port) as app_url:
                    synced = await executor.sync(f"{app_url}/api/inngest")
                    if synced.status_code != 200 or not executor.functions:
                        raise RuntimeError(f"sync failed: {synced.status_code} {synced.text}")
                    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
                    assert pool is not None
                    try:
                        async with httpx.AsyncClient(base_url=app_url, timeout=30) as api:
                            yield Live(
                                app_url=app_url,
                                api=api,
                                executor=executor,
                                clock=clock,
                                services=app.state.services,
                                pool=pool,
                                mock=mock,
                                app=app,
                            )
                    finally:
                        await pool.close()

    return start_live
