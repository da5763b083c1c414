"""The fuzzer's pieces: the live app in a thread of its own, and rows a refusal must not write."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import psycopg

from tests.harness import Live, LiveFactory

# Tables only requests write (functions write others in the background, e.g. results, repos).
REQUEST_TABLES = (
    "queries",
    "runs",
    "feedback",
    "workspaces",
    "workspace_repositories",
    "stripe_deliveries",
)


@contextlib.contextmanager
def live_in_thread(
    start_live: LiveFactory, **settings: Any
) -> Iterator[tuple[Live, asyncio.AbstractEventLoop]]:
    """The app and the test executor, running in their own event loop, for a synchronous client
    (schemathesis calls with `requests`). Stopped on exit, the test failed or not."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        try:
            async with start_live(**settings) as live:
                box.update(live=live, loop=asyncio.get_running_loop(), stop=stop)
                ready.set()
                await stop.wait()
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            raise

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="fuzz-app", daemon=True)
    thread.start()
    try:
        if not ready.wait(120) or "error" in box:
            raise RuntimeError(f"the app did not start: {box.get('error')!r}")
        yield box["live"], box["loop"]
    finally:
        if "loop" in box:
            box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(120)


class Rows:
    """Counts of the request-written tables, read with one query."""

    def __init__(self, database_url: str) -> None:
        self._conn = psycopg.connect(database_url, autocommit=True)
        parts = " union all ".join(
            f"select '{t}', count(*) from public.{t}" for t in REQUEST_TABLES
        )
        self._sql = parts

    def counts(self) -> dict[str, int]:
        with self._conn.cursor() as cur:
            cur.execute(self._sql)  # noqa: S608 (table names are constants above)
            return {name: int(n) for name, n in cur.fetchall()}

    def close(self) -> None:
        self._conn.close()
