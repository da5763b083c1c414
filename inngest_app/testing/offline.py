"""Offline mode for `make dev`: the executor on a real clock, crons on their schedule."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import uvicorn
from croniter import croniter

from inngest_app.testing.clock import RealClock
from inngest_app.testing.executor import TestExecutor

logger = logging.getLogger(__name__)
TICK_S = 0.2


async def _drive(executor: TestExecutor) -> None:
    while True:
        try:
            await executor.run_until_idle(advance_clock=False)
        except Exception:  # keep serving: one bad run must not stop development
            logger.exception("executor loop error")
        await asyncio.sleep(TICK_S)


async def _crons(executor: TestExecutor) -> None:
    next_fire: dict[str, float] = {}
    while True:
        now = time.time()
        for fn_id, config in list(executor.functions.items()):
            for trigger in config.get("triggers", []):
                if "cron" not in trigger:
                    continue
                key = f"{fn_id}|{trigger['cron']}"
                if key not in next_fire:
                    next_fire[key] = croniter(trigger["cron"], now).get_next(float)
                elif next_fire[key] <= now:
                    logger.info("cron %s fires %s", trigger["cron"], fn_id)
                    await executor.fire_cron(fn_id)
                    next_fire[key] = croniter(trigger["cron"], now).get_next(float)
        await asyncio.sleep(1)


async def serve_forever(host: str, port: int) -> None:
    """Serve the event and registration API on `host:port` and run work as it comes due."""
    executor = TestExecutor(clock=RealClock(), backoff=lambda attempt: min(2.0**attempt, 60.0))
    config = uvicorn.Config(executor.asgi, host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    tasks = [asyncio.create_task(_drive(executor)), asyncio.create_task(_crons(executor))]
    logger.info("offline executor on http://%s:%d (not the real Inngest Dev Server)", host, port)
    try:
        await server.serve()
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
