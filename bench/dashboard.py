"""What the dashboard's extras cost the stats API, over 1,000,000 execution rows.

The stats request now runs two SQL functions: `executions_stats` (the baseline, timed alone in
the same process and database) and `monitoring_dashboard_extras` (failed runs per function and
the alerts). Reported: p50 of each, and the ratio (stats + extras) / stats, for an admin's
30-day window (past days from rollups) and for one user's (raw rows). Target: ratio <= 1.25.
The stats API also reports the previous period's figures (the same two calls for the 30 days
before): their p50 and the ratio of the whole request to stats alone (no target).
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
STATS = "select public.executions_stats($1, $2, null, $3, 0.0001, 0, true, $4, null, $2)"
EXTRAS = "select public.monitoring_dashboard_extras($1, $2, $3, $4)"


async def _p50(conn: asyncpg.Connection, sql: str, *args: Any) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        await conn.fetchval(sql, *args)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _measure(dsn: str) -> dict[str, Any]:
    await _fill(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        now = dt.datetime.now(dt.UTC)
        start = now - dt.timedelta(days=30)
        await conn.fetchval(STATS, start, now, None, True)  # builds the rollups once
        report: dict[str, Any] = {"rows": ROWS}
        for label, user in (("admin", None), ("user", "user-7")):
            args = (start, now, user, user is None)
            stats = await _p50(conn, STATS, *args)
            extras = await _p50(conn, EXTRAS, *args)
            report[f"{label}_stats_p50_ms"] = round(stats, 1)
            report[f"{label}_extras_p50_ms"] = round(extras, 1)
            report[f"{label}_ratio_with_extras"] = round((stats + extras) / stats, 3)
            # the previous period's figures (issue 24): the same two calls for the 30 days before
            before = (start - dt.timedelta(days=30), start, user, False)
            previous = await _p50(conn, STATS, *before) + await _p50(conn, EXTRAS, *before)
            report[f"{label}_previous_period_p50_ms"] = round(previous, 1)
            report[f"{label}_ratio_with_previous"] = round((stats + extras + previous) / stats, 3)
        report["target_ratio"] = "<= 1.25"
        return report
    finally:
        await conn.close()


def main() -> None:
    """Print the report."""
    with migrated_database() as dsn:
        print(json.dumps(asyncio.run(_measure(dsn)), indent=2))


if __name__ == "__main__":
    main()
