"""Query executor throughput.

1. Storing one 1,000-row page with its checkpoint (`query_store_page`: one statement, one
   transaction) in rows/s, against two baselines in the same run, each writing the same rows
   and checkpoint in one transaction: one INSERT per row (1,000 round trips), and the fair one,
   a single multi-row INSERT (`unnest` of typed arrays, one round trip) plus the UPDATE. Both
   ratios are reported. Target: >= 50,000 rows/s on the embedded Postgres.
2. A 100-page query end to end through the test executor (signed HTTP calls, real Postgres,
   respx playing the source API) with zero page delay: wall time and pages/s.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from typing import Any

import httpx
import respx

from bench.pg import migrated_database
from inngest_app.app import create_app
from inngest_app.repos.queries import QueriesRepo
from inngest_app.settings import Settings
from inngest_app.store import PostgresTransport
from inngest_app.store.postgres import create_pool
from inngest_app.testing import ManualClock, TestExecutor
from inngest_app.testing.live import serve_asgi

ROWS = 1000
ROUNDS = 7
PAGES = 100
PER_PAGE = 100
API = "https://bench.source.test/items"
ADMIN = "bench-admin-key"


def _rows(tag: str) -> list[dict[str, Any]]:
    return [
        {
            "key": f"{tag}-{i}",
            "row": {
                "id": f"{tag}-{i}",
                "title": f"Result {i}",
                "link": f"https://example.com/{tag}/{i}",
                "score": i,
            },
        }
        for i in range(ROWS)
    ]


async def _store_rates(dsn: str) -> dict[str, Any]:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    repo = QueriesRepo(PostgresTransport(pool))
    bulk, naive, multi = [], [], []
    for n in range(ROUNDS):
        query = await repo.create(user_id="bench", config={}, max_pages=10, max_rows=10**6)
        await repo.claim(query.id, "run")
        rows = _rows(f"b{n}")
        started = time.perf_counter()
        await repo.store_page(query.id, "run", page=1, rows=rows, next_cursor=2, done=False)
        bulk.append(ROWS / (time.perf_counter() - started))

        other = await repo.create(user_id="bench", config={}, max_pages=10, max_rows=10**6)
        rows = _rows(f"n{n}")
        started = time.perf_counter()
        async with pool.acquire() as conn, conn.transaction():
            for row in rows:
                await conn.execute(
                    "insert into query_results (query_id, row_key, page_number, row) "
                    "values ($1, $2, 1, $3) on conflict do nothing",
                    other.id,
                    row["key"],
                    row["row"],
                )
            await conn.execute(
                "update queries set pages_completed = 1, rows_inserted = $2 where id = $1",
                other.id,
                ROWS,
            )
        naive.append(ROWS / (time.perf_counter() - started))

        third = await repo.create(user_id="bench", config={}, max_pages=10, max_rows=10**6)
        rows = _rows(f"m{n}")
        started = time.perf_counter()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "insert into query_results (query_id, row_key, page_number, row) "
                "select $1, k, 1, r from unnest($2::text[], $3::jsonb[]) as t(k, r) "
                "on conflict do nothing",
                third.id,
                [row["key"] for row in rows],
                [row["row"] for row in rows],
            )
            await conn.execute(
                "update queries set pages_completed = 1, rows_inserted = $2 where id = $1",
                third.id,
                ROWS,
            )
        multi.append(ROWS / (time.perf_counter() - started))
    await pool.close()
    rate = statistics.median(bulk)
    return {
        "store_1000_row_page_rows_per_s": round(rate),
        "baseline_row_by_row_rows_per_s": round(statistics.median(naive)),
        "ratio_vs_row_by_row": round(rate / statistics.median(naive), 1),
        "baseline_multi_row_insert_rows_per_s": round(statistics.median(multi)),
        "ratio_vs_multi_row_insert": round(rate / statistics.median(multi), 2),
        "target_rows_per_s": 50_000,
    }


def _source(request: httpx.Request) -> httpx.Response:
    page = int(request.url.params["page"])
    items = [] if page > PAGES else [{"id": f"{page}-{i}", "n": i} for i in range(PER_PAGE)]
    return httpx.Response(200, json={"items": items})


async def _hundred_pages(dsn: str) -> dict[str, Any]:
    executor = TestExecutor(clock=ManualClock())
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        mock.get(API).mock(side_effect=_source)
        async with serve_asgi(executor.asgi) as executor_url:
            settings = Settings(
                inngest_dev=True,
                inngest_base_url=executor_url,
                database_url=dsn,
                monitoring_api_key=ADMIN,
                log_level="WARNING",
                query_min_page_delay_s=0,  # the figure is fetch + store, not the polite sleeps
            )
            app = create_app(settings)
            async with serve_asgi(app) as app_url, httpx.AsyncClient(base_url=app_url) as api:
                await executor.sync(f"{app_url}/api/inngest")
                body = {
                    "userId": "bench",
                    "page_delay_s": 0,
                    "max_pages": PAGES + 1,
                    "source": {
                        "kind": "http",
                        "url": API,
                        "results_path": "items",
                        "row_key": "id",
                        "pagination": {"style": "page", "size": PER_PAGE},
                    },
                }
                started = time.perf_counter()
                response = await api.post(
                    "/api/queries/run", json=body, headers={"Authorization": f"Bearer {ADMIN}"}
                )
                query_id = uuid.UUID(response.json()["id"])
                await executor.run_until_idle()
                elapsed = time.perf_counter() - started
                [run] = executor.runs("execute-query")
                status = (
                    await api.get(
                        f"/api/queries/{query_id}", headers={"Authorization": f"Bearer {ADMIN}"}
                    )
                ).json()
    assert run.status == "completed" and status["rowsInserted"] == PAGES * PER_PAGE, status
    return {
        "query_100_pages_wall_s": round(elapsed, 2),
        "pages_per_s": round((PAGES + 1) / elapsed, 1),
        "rows": status["rowsInserted"],
        "signed_calls": run.calls,
    }


def main() -> None:
    """Print both figures."""
    with migrated_database() as dsn:
        report = asyncio.run(_store_rates(dsn))
        report.update(asyncio.run(_hundred_pages(dsn)))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
