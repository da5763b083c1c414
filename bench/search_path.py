"""What pinning `search_path` costs the per-row SQL helpers (issue 9: every function pins it).

A SET clause stops Postgres from inlining a SQL function and makes each call save and restore
the setting. Measured: one aggregate over ROWS durations through `monitoring_duration_bucket`
as migrated (pinned) against the same body with no SET clause (the baseline), in the same
database and process, alternating rounds; ratio = median pinned time / median baseline time.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import asyncpg

from bench.pg import migrated_database

ROWS = 300_000
ROUNDS = 7
QUERY = "select sum({fn}(d)) from generate_series(1, $1) d"


async def _measure(dsn: str) -> tuple[float, float]:
    conn = await asyncpg.connect(dsn)
    try:
        body = await conn.fetchval(
            "select prosrc from pg_proc where proname = 'monitoring_duration_bucket'"
        )
        await conn.execute(
            "create function pg_temp.bucket_unpinned(p_ms bigint) returns integer "
            f"language sql immutable parallel safe as $${body}$$"
        )
        pinned, baseline = [], []
        for _ in range(ROUNDS):
            for fn, times in (
                ("public.monitoring_duration_bucket", pinned),
                ("pg_temp.bucket_unpinned", baseline),
            ):
                started = time.perf_counter()
                await conn.fetchval(QUERY.format(fn=fn), ROWS)
                times.append(time.perf_counter() - started)
        return statistics.median(pinned), statistics.median(baseline)
    finally:
        await conn.close()


def main() -> None:
    """Print the pinned/baseline ratio."""
    with migrated_database() as dsn:
        pinned, baseline = asyncio.run(_measure(dsn))
    print(
        f"duration bucket over {ROWS:,} rows: pinned {pinned * 1000:.0f} ms, "
        f"unpinned baseline {baseline * 1000:.0f} ms, ratio {pinned / baseline:.2f}"
    )


if __name__ == "__main__":
    main()
