"""Offline mode for `make dev`: the executor on the real clock, crons fired on their schedule."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import zoneinfo

import uvicorn
from croniter import croniter

from inngest_app.testing.clock import RealClock
from inngest_app.testing.executor import TestExecutor

logger = logging.getLogger(__name__)


def next_cron_time(schedule: str, after: float) -> float:
    """Unix time of the first tick of `schedule` after `after` (a `TZ=<zone> ` prefix allowed)."""
    zone: dt.tzinfo = dt.UTC
    if schedule.startswith(("TZ=", "CRON_TZ=")):
        prefix, schedule = schedule.split(None, 1)
        zone = zoneinfo.ZoneInfo(prefix.split("=", 1)[1])
    start = dt.datetime.fromtimestamp(after, zone)
    return float(croniter(schedule, start).get_next(float))


async def fire_crons(executor: TestExecutor, *, tick_s: float = 1.0) -> None:
    """Start a run of each cron-triggered function at each tick of its schedule, forever."""
    next_fire: dict[tuple[str, str], float] = {}
    while True:
        now = time.time()
        for fn_id in list(executor.functions):
            schedule = executor.registry.cron(fn_id)
            if schedule is None:
                continue
            key = (fn_id, schedule)
            if key not in next_fire:
                next_fire[key] = next_cron_time(schedule, now)
            elif next_fire[key] <= now:
                logger.info("cron %s fires %s", schedule, fn_id)
                await executor.fire_cron(fn_id)
                next_fire[key] = next_cron_time(schedule, now)
        await asyncio.sleep(tick_s)


async def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8288,
    *,
    signing_key: str | None = None,
    event_key: str | None = None,
) -> None:
    """Serve the executor's API on `host:port` and run work as it comes due, until cancelled
    (the server then shuts down cleanly: sockets closed, lifespan ended)."""
    executor = TestExecutor(signing_key=signing_key, event_key=event_key, clock=RealClock())
    config = uvicorn.Config(executor.asgi, host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    tasks = [asyncio.create_task(executor.run_forever()), asyncio.create_task(fire_crons(executor))]
    serving = asyncio.create_task(server.serve())
    logger.info("offline executor on http://%s:%d (not the real Inngest Dev Server)", host, port)
    try:
        await asyncio.shield(serving)
    finally:
        server.should_exit = True
        for task in tasks:
            task.cancel()
        for task in [*tasks, serving]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await executor.aclose()
