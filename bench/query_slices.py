"""App CPU per page across a 1,000-page query: sliced runs with the SDK patches vs today's one run.

The query goes through the whole stack: `POST /api/queries/run`, the test executor driving the
app over loopback HTTP (one call at a time), a page API played by respx (20 rows a page), an
embedded Postgres. The app is wrapped in an ASGI meter that adds up the process CPU time spent
inside each of its requests (the executor only waits meanwhile; Postgres runs in its own
processes and is not counted). Each page fetch notes the meter, so the CPU between two fetches is
what the app spent on one page, replays included.

- today: as on main, one run for the whole query (no hand-over) and the SDK's own replay code;
  the executor's step limit is raised so that the run can finish at all (Inngest would fail it at
  its 1,001st step).
- sliced: hand-overs every `query_slice_steps` steps (the default, 200) and the SDK patches
  (`inngest_app/sdk_memos.py`), as `build_client` applies them.

No delay between pages (one step a page), so that today's run stays measurable; the figure is
the mean app CPU per page in each block of 100 pages and in each run, and the ratio of the last
block to the first (flat: about 1; a block may straddle two slices).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import httpx
import respx
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.pg import migrated_database
from inngest_app import sdk_memos
from inngest_app.app import create_app
from inngest_app.settings import Settings
from inngest_app.testing import ManualClock, TestExecutor
from inngest_app.testing.limits import Limits
from inngest_app.testing.live import serve_asgi
from tests.queries.support import API, config, pages_api, query_settings, token

PAGES = 1000
BLOCK = 100


class CpuMeter:
    """An ASGI wrapper adding up the process CPU time spent inside the app's HTTP requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cpu_s = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.process_time()
        try:
            await self.app(scope, receive, send)
        finally:
            self.cpu_s += time.process_time() - started


async def _query(dsn: str, *, today: bool) -> dict[str, Any]:
    limits = Limits(max_steps=10 * PAGES) if today else Limits()
    executor = TestExecutor(clock=ManualClock(), limits=limits)
    async with executor, serve_asgi(executor.asgi) as executor_url:
        settings = Settings(
            inngest_dev=True,
            database_url=dsn,
            db_pool_min=1,
            db_pool_max=4,
            inngest_base_url=executor_url,
            query_max_pages=PAGES,
            log_level="WARNING",  # a line a page would drown the figures
            **query_settings(),
        )
        if today:  # one run for the whole query, as on main (past the setting's own bound)
            settings = settings.model_copy(update={"query_slice_steps": 100 * PAGES})
        app = create_app(settings)
        if today:
            sdk_memos.unpatch_step_memos()
        meter = CpuMeter(app)
        answer, _ = pages_api(PAGES)
        noted: list[float] = []

        def page(request: httpx.Request) -> httpx.Response:
            noted.append(meter.cpu_s)
            return answer(request)

        try:
            with respx.mock(assert_all_called=False) as mock:
                mock.route(host="127.0.0.1").pass_through()
                mock.get(API).mock(side_effect=page)
                async with serve_asgi(meter) as app_url:
                    await executor.sync(f"{app_url}/api/inngest")
                    async with httpx.AsyncClient(base_url=app_url, timeout=30) as api:
                        body = config(max_pages=PAGES, page_delay_s=0)
                        started = await api.post("/api/queries/run", json=body, headers=token())
                        assert started.status_code == 202, started.text
                        await executor.run_until_idle(max_calls=20 * PAGES)
                        query = (
                            await api.get(f"/api/queries/{started.json()['id']}", headers=token())
                        ).json()
        finally:
            sdk_memos.patch_step_memos()
    runs = executor.runs("execute-query")
    assert query["status"] == "completed" and query["pagesCompleted"] == PAGES, query
    noted.append(meter.cpu_s)
    per_page = [(b - a) * 1000 for a, b in zip(noted, noted[1:], strict=False)]
    blocks = [statistics.mean(per_page[i : i + BLOCK]) for i in range(0, PAGES, BLOCK)]
    by_run, first = [], 0
    for run in runs:  # the pages each run fetched, from its hand-over (or final) output
        last = int(run.output["pages"])
        by_run.append(round(statistics.mean(per_page[first:last]), 2))
        first = last
    return {
        "runs": len(runs),
        "app_cpu_ms_per_page_by_run": by_run,
        "max_steps_in_a_run": max(len(r.steps) for r in runs),
        "app_cpu_ms_per_page_by_100_pages": [round(b, 2) for b in blocks],
        "last_over_first_block": round(blocks[-1] / blocks[0], 2),
        "app_cpu_s_total": round(meter.cpu_s, 2),
    }


def measure() -> dict[str, Any]:
    """Both variants on one database, the baseline first."""
    with migrated_database() as dsn:
        today = asyncio.run(_query(dsn, today=True))
        sliced = asyncio.run(_query(dsn, today=False))
    return {
        "pages": PAGES,
        "today_one_run_sdk_replay": today,
        "sliced_patched": sliced,
        "total_cpu_ratio_today_over_sliced": round(
            today["app_cpu_s_total"] / sliced["app_cpu_s_total"], 1
        ),
        "target": "sliced last_over_first_block ~1 (flat)",
    }


def main() -> None:
    """Print the figures."""
    print(json.dumps(measure(), indent=2))


if __name__ == "__main__":
    main()
