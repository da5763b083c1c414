"""The runs list over 1,000,000 execution rows: keyset paging against the naive query.

`monitoring_runs_list` walks (started_at, run_id) downwards from a cursor on an index per
filter; the baseline, run in the same process and database, is the naive query a list endpoint
often starts with: the same filters and order with `OFFSET page * 50 LIMIT 50`, shaped into the
same JSON. Both return the same page (checked). Reported: p50 of each for the first page and for
a deep page (200; 30 for a user, who has 2,000 runs), for an admin (all runs), a function filter
(the bare id: two ids merged), a user, and failed runs only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import statistics
import time
from typing import Any

import asyncpg

from bench.monitoring import ROWS, _fill
from bench.pg import migrated_database

REPEATS = 15
PAGE = 50
KEYSET = "select public.monitoring_runs_list($1, $2, $3, $4, $5, $6, $7, $8, true)"
NAIVE = """
    select coalesce(jsonb_agg(public.monitoring_run_json(e, true)
                              order by e.started_at desc, e.run_id desc), '[]'::jsonb)
      from (select * from public.inngest_function_executions
             where started_at >= $1 and started_at < $2
               and ($3::text[] is null or function_id = any($3))
               and ($4::text is null or user_id = $4)
               and ($5::text is null or status = $5)
             order by started_at desc, run_id desc offset $6 limit $7) e
"""
# the cursor a client holds after some pages: the previous page's last row
CURSOR = """
    select started_at, run_id from public.inngest_function_executions
     where started_at >= $1 and started_at < $2
       and ($3::text[] is null or function_id = any($3))
       and ($4::text is null or user_id = $4)
       and ($5::text is null or status = $5)
     order by started_at desc, run_id desc offset $6 limit 1
"""
# name: (function ids, user, status), the deep page's number
CASES: dict[str, tuple[tuple[list[str] | None, str | None, str | None], int]] = {
    "admin": ((None, None, None), 200),
    "function": ((["fn-3", "inngest-app-fn-3"], None, None), 200),
    "user": ((None, "user-7", None), 30),
    "failed": ((None, None, "failed"), 200),
}


async def _p50(conn: asyncpg.Connection, sql: str, *args: Any) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        await conn.fetchval(sql, *args)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _case(
    conn: asyncpg.Connection,
    start: dt.datetime,
    end: dt.datetime,
    filters: tuple[Any, ...],
    deep: int,
) -> dict[str, Any]:
    fns, user, status = filters
    out: dict[str, Any] = {"deep_page": deep}
    for label, page in (("first", 0), ("deep", deep - 1)):
        offset = page * PAGE
        after: tuple[Any, Any] = (None, None)
        if offset:
            [last] = await conn.fetch(CURSOR, start, end, fns, user, status, offset - 1)
            after = (last["started_at"], last["run_id"])
        keyset_rows = await conn.fetchval(KEYSET, start, end, fns, user, status, *after, PAGE)
        naive_rows = await conn.fetchval(NAIVE, start, end, fns, user, status, offset, PAGE)
        assert keyset_rows == naive_rows and len(keyset_rows) == PAGE, label
        keyset = await _p50(conn, KEYSET, start, end, fns, user, status, *after, PAGE)
        naive = await _p50(conn, NAIVE, start, end, fns, user, status, offset, PAGE)
        out[f"{label}_page_keyset_p50_ms"] = round(keyset, 2)
        out[f"{label}_page_naive_p50_ms"] = round(naive, 2)
        out[f"{label}_page_naive_over_keyset"] = round(naive / keyset, 1)
    return out


async def _measure(dsn: str) -> dict[str, Any]:
    await _fill(dsn)
    conn = await asyncpg.connect(dsn)
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    try:
        now = dt.datetime.now(dt.UTC)
        start = now - dt.timedelta(days=30)
        report: dict[str, Any] = {"rows": ROWS, "page": PAGE}
        for name, (filters, deep) in CASES.items():
            report[name] = await _case(conn, start, now, filters, deep)
        return report
    finally:
        await conn.close()


def main() -> None:
    """Print the report."""
    with migrated_database() as dsn:
        print(json.dumps(asyncio.run(_measure(dsn)), indent=2))


if __name__ == "__main__":
    main()
