"""Which async Postgres driver: asyncpg vs psycopg 3, on the calls this service makes.

Both drivers run the same work against the same embedded server in one process: many small
SQL-function calls through a pool (what every step does), and one 1,000-row jsonb bulk write.
Reports calls/s for each and the asyncpg/psycopg ratio.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import psycopg_pool
from psycopg.types.json import Jsonb

from bench.pg import migrated_database
from inngest_app.store.postgres import create_pool

CALLS = 3000
CONCURRENCY = 8
ROUNDS = 3


async def _drive(call: Callable[[int], Awaitable[object]]) -> float:
    queue = iter(range(CALLS))

    async def worker() -> None:
        for i in queue:
            await call(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return CALLS / (time.perf_counter() - started)


async def _measure(dsn: str) -> dict[str, float]:
    pool = await create_pool(dsn, min_size=CONCURRENCY, max_size=CONCURRENCY)
    ppool = psycopg_pool.AsyncConnectionPool(
        dsn, min_size=CONCURRENCY, max_size=CONCURRENCY, open=False
    )
    await ppool.open()
    rows = [{"i": i, "title": f"row {i}", "link": f"https://example.com/{i}"} for i in range(1000)]

    async def asyncpg_call(i: int) -> object:
        return await pool.fetchval(
            "select public.record_ping(p_run_id => $1, p_step => $2, p_message => $3)",
            f"a{i % 500}",
            "s",
            "m",
        )

    async def psycopg_call(i: int) -> object:
        async with ppool.connection() as conn:
            cur = await conn.execute(
                "select public.record_ping(p_run_id => %s, p_step => %s, p_message => %s)",
                (f"p{i % 500}", "s", "m"),
            )
            return await cur.fetchone()

    async def asyncpg_bulk() -> float:
        started = time.perf_counter()
        await pool.fetchval("select count(*) from jsonb_array_elements($1::jsonb)", rows)
        return time.perf_counter() - started

    async def psycopg_bulk() -> float:
        async with ppool.connection() as conn:
            started = time.perf_counter()
            await conn.execute("select count(*) from jsonb_array_elements(%s)", (Jsonb(rows),))
            return time.perf_counter() - started

    best: dict[str, float] = {
        "asyncpg": 0.0,
        "psycopg": 0.0,
        "asyncpg_bulk": 1e9,
        "psycopg_bulk": 1e9,
    }
    for _ in range(ROUNDS):
        best["asyncpg"] = max(best["asyncpg"], await _drive(asyncpg_call))
        best["psycopg"] = max(best["psycopg"], await _drive(psycopg_call))
        for _ in range(10):
            best["asyncpg_bulk"] = min(best["asyncpg_bulk"], await asyncpg_bulk())
            best["psycopg_bulk"] = min(best["psycopg_bulk"], await psycopg_bulk())
    await pool.close()
    await ppool.close()
    return best


def main() -> None:
    """Print calls/s per driver and the ratio."""
    with migrated_database() as dsn:
        best = asyncio.run(_measure(dsn))
    print(
        json.dumps(
            {
                "sql_function_calls_per_s": {
                    "asyncpg": round(best["asyncpg"]),
                    "psycopg3": round(best["psycopg"]),
                },
                "ratio_asyncpg_over_psycopg": round(best["asyncpg"] / best["psycopg"], 2),
                "bulk_1000_rows_ms": {
                    "asyncpg": round(best["asyncpg_bulk"] * 1000, 2),
                    "psycopg3": round(best["psycopg_bulk"] * 1000, 2),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
