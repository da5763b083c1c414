"""Offline mode for `make dev`: real clock, crons on schedule, the API on a real port."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import httpx
import inngest

from inngest_app.testing.devserver import DevServerDriver
from inngest_app.testing.live import free_port, serve_asgi
from inngest_app.testing.offline import next_cron_time, serve_forever
from tests.testing.support import Functions, close_client, fastapi_app


def test_cron_ticks_follow_the_schedule_and_its_time_zone() -> None:
    after = dt.datetime(2026, 3, 1, 10, 7, tzinfo=dt.UTC).timestamp()
    assert next_cron_time("0 * * * *", after) == after + 53 * 60
    paris = next_cron_time("TZ=Europe/Paris 0 12 * * *", after)  # 12:00 in Paris is 11:00 UTC
    assert dt.datetime.fromtimestamp(paris, dt.UTC).hour == 11


def _hello(client: inngest.Inngest) -> Functions:
    @client.create_function(fn_id="hello", trigger=inngest.TriggerEvent(event="t/hello"))
    async def hello(ctx: inngest.Context) -> str:
        return await ctx.step.run("greet", lambda: f"hello {ctx.event.data['who']}")

    return [hello]


async def test_the_offline_executor_runs_an_event_end_to_end() -> None:
    port = free_port()
    server = asyncio.create_task(serve_forever("127.0.0.1", port))
    executor_url = f"http://127.0.0.1:{port}"
    client = inngest.Inngest(
        app_id="dev",
        is_production=False,
        api_base_url=executor_url,
        event_api_base_url=executor_url,
    )
    try:
        async with (
            serve_asgi(fastapi_app(client, _hello(client))) as origin,
            httpx.AsyncClient(timeout=10) as http,
        ):
            for _ in range(100):  # until the executor listens
                with contextlib.suppress(httpx.ConnectError):
                    await http.get(f"{executor_url}/health")
                    break
                await asyncio.sleep(0.02)
            driver = DevServerDriver(executor_url, http)
            assert (await driver.sync(f"{origin}/api/inngest")).status_code == 200
            event_id = await driver.send({"name": "t/hello", "data": {"who": "dev"}})
            run = await driver.wait_for_run(event_id, within_s=5)
            assert run["status"] == "Completed" and run["output"] == "hello dev"
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
        await close_client(client)
