"""Monitoring's cost and speed.

1. Signed step invocations per second with the recorder on vs off (same app, same function,
   in-process ASGI, alternating paired rounds; ratio = median of per-pair ratios; target >= 0.90).
2. Stats API latency over 1,000,000 execution rows: the first (cold) request, which builds the
   daily rollups, beside the warm p50 of repeated requests (target < 100 ms). Two baselines in
   the same process: the fair one, ONE aggregate SQL query over the raw table with its indexes
   (totals, by function with exact p50/p95, by trigger type, by day, by user), and a naive one
   that fetches every row of the window and aggregates in Python. Reports the ratios.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import statistics
import time
from collections import defaultdict
from typing import Any

import asyncpg
import httpx

from bench.pg import migrated_database
from inngest_app.app import create_app
from inngest_app.settings import Settings
from inngest_app.testing.live import in_process
from inngest_app.testing.signing import cloud_headers, step_call

SIGNING_KEY = "signkey-bench-" + "d4" * 32
ADMIN = "bench-admin"
ROUNDS = 7
CALLS = 400
ROWS = 1_000_000
STATS_REPEATS = 15


def _settings(dsn: str, *, monitoring: bool) -> Settings:
    return Settings(
        inngest_dev=False,
        inngest_signing_key=SIGNING_KEY,
        inngest_event_key="k",
        inngest_api_base_url="http://127.0.0.1:9",
        inngest_event_api_base_url="http://127.0.0.1:9",
        database_url=dsn,
        monitoring_enabled=monitoring,
        monitoring_api_key=ADMIN,
        log_level="WARNING",
    )


def _signed_call(i: int) -> tuple[bytes, dict[str, str]]:
    event = {
        "data": {"pause_s": 0, "userId": f"u{i % 10}"},
        "id": f"e{i}",
        "name": "app/ping",
        "ts": int(time.time() * 1000),
    }
    body = step_call(event, run_id=f"bench-run-{i}-{time.perf_counter_ns()}")
    return body, cloud_headers(body, SIGNING_KEY, int(time.time()))


async def _round(client: httpx.AsyncClient) -> float:
    started = time.perf_counter()
    for i in range(CALLS):
        body, headers = _signed_call(i)
        response = await client.post(
            "/api/inngest?fnId=inngest-app-ping&stepId=step", content=body, headers=headers
        )
        if response.status_code != 206:
            raise RuntimeError(f"{response.status_code}: {response.text}")
    return CALLS / (time.perf_counter() - started)


async def _recorder_overhead(dsn: str) -> dict[str, Any]:
    on_app, off_app = (
        create_app(_settings(dsn, monitoring=True)),
        create_app(_settings(dsn, monitoring=False)),
    )
    async with in_process(on_app) as on, in_process(off_app) as off:
        await _round(on)
        await _round(off)
        ratios, rates_on, rates_off = [], [], []
        for i in range(ROUNDS):
            if i % 2:
                r_off, r_on = await _round(off), await _round(on)
            else:
                r_on, r_off = await _round(on), await _round(off)
            rates_on.append(r_on)
            rates_off.append(r_off)
            ratios.append(r_on / r_off)
        written = on_app.state.recorder.written + on_app.state.recorder.depth
    return {
        "step_invocations_per_s_recorder_on": round(statistics.median(rates_on)),
        "step_invocations_per_s_recorder_off": round(statistics.median(rates_off)),
        "ratio_on_over_off": round(statistics.median(ratios), 3),
        "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "observations_recorded": written,
        "target": ">= 0.90",
    }


async def _fill(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("truncate inngest_function_executions")
        await conn.execute(f"""
            insert into inngest_function_executions (run_id, function_id, function_name,
                user_id, trigger_type, status, step_count, other_step_count, duration_ms,
                started_at, completed_at, error_message, updated_at)
            select 'r' || g, 'inngest-app-fn-' || (g % 25), 'fn ' || (g % 25),
                   'user-' || (g % 500),
                   (array['event','scheduled','webhook','manual'])[1 + g % 4],
                   case when g % 17 = 0 then 'failed' else 'completed' end,
                   g % 7, g % 3, 10 + (g::bigint * 7919) % 5000,
                   now() - make_interval(secs => ((g::bigint * 7) % (28 * 86400))::integer),
                   now() - make_interval(secs => ((g::bigint * 7) % (28 * 86400))::integer)
                         + interval '1 second',
                   case when g % 17 = 0 then 'boom ' || g end,
                   now() - interval '10 minutes'  -- history, written before this request
            from generate_series(1, {ROWS}) g
        """)  # noqa: S608 (ROWS is a constant)
        await conn.execute("analyze inngest_function_executions")
    finally:
        await conn.close()


async def _naive(dsn: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The baseline: load the window's rows and aggregate them in Python."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "select function_id, trigger_type, status, step_count, other_step_count, duration_ms"
            " from inngest_function_executions where started_at >= $1 and started_at < $2",
            start,
            end,
        )
    finally:
        await conn.close()
    by_fn: dict[str, list[int]] = defaultdict(list)
    by_trigger: dict[str, int] = defaultdict(int)
    steps = 0
    for r in rows:
        by_fn[r["function_id"]].append(r["duration_ms"])
        by_trigger[r["trigger_type"]] += 1
        steps += r["step_count"] + r["other_step_count"]
    return {
        "total": len(rows),
        "steps": steps,
        "byFunction": {k: statistics.median(v) for k, v in by_fn.items()},
        "byTrigger": dict(by_trigger),
    }


# The fair baseline: the same aggregates in one statement over the raw rows (no rollups).
AGGREGATE_SQL = """
with w as materialized (
    select * from inngest_function_executions where started_at >= $1 and started_at < $2
)
select jsonb_build_object(
    'total', (select count(*) from w),
    'successful', (select count(*) from w where status = 'completed'),
    'steps', (select coalesce(sum(step_count + other_step_count), 0) from w),
    'byFunction', (select jsonb_agg(f) from (
        select function_id, count(*) as n, sum(step_count + other_step_count) as steps,
               round(avg(duration_ms)) as avg_ms,
               percentile_disc(0.5) within group (order by duration_ms) as p50,
               percentile_disc(0.95) within group (order by duration_ms) as p95
          from w group by function_id) f),
    'byTrigger', (select jsonb_agg(t) from (
        select trigger_type, count(*) as n from w group by trigger_type) t),
    'byDay', (select jsonb_agg(d) from (
        select (started_at at time zone 'UTC')::date as day, count(*) as n,
               sum(step_count + other_step_count) as steps, round(avg(duration_ms)) as avg_ms
          from w group by 1) d),
    'byUser', (select jsonb_agg(u) from (
        select user_id, count(*) as n from w where user_id is not null group by user_id) u)
)::text
"""


async def _aggregate(dsn: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        result: dict[str, Any] = json.loads(await conn.fetchval(AGGREGATE_SQL, start, end))
        return result
    finally:
        await conn.close()


async def _stats_latency(dsn: str) -> dict[str, Any]:
    await _fill(dsn)
    app = create_app(_settings(dsn, monitoring=False))
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=30)
    params = {"startDate": start.isoformat()}
    async with in_process(app) as client:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        t0 = time.perf_counter()
        await client.get("/api/inngest/monitoring", params=params, headers=headers)
        first_ms = (time.perf_counter() - t0) * 1000  # includes building the daily rollups
        api_ms, body = [], {}
        for _ in range(STATS_REPEATS):
            t0 = time.perf_counter()
            response = await client.get(
                "/api/inngest/monitoring",
                params=params,
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
            api_ms.append((time.perf_counter() - t0) * 1000)
            body = response.json()
    naive_ms = []
    for _ in range(3):
        t0 = time.perf_counter()
        naive = await _naive(dsn, start, now + dt.timedelta(seconds=1))
        naive_ms.append((time.perf_counter() - t0) * 1000)
    aggregate_ms, aggregate = [], {}
    for _ in range(5):
        t0 = time.perf_counter()
        aggregate = await _aggregate(dsn, start, now + dt.timedelta(seconds=1))
        aggregate_ms.append((time.perf_counter() - t0) * 1000)
    assert naive["total"] == body["totalExecutions"] == aggregate["total"] == ROWS, (
        naive["total"],
        body["totalExecutions"],
        aggregate["total"],
    )
    warm, cold = statistics.median(api_ms), first_ms
    one_query = statistics.median(aggregate_ms)
    return {
        "rows": ROWS,
        "stats_api_cold_first_request_ms": round(cold),  # builds the daily rollups
        "stats_api_warm_p50_ms": round(warm, 1),
        "stats_api_warm_p95_ms": round(sorted(api_ms)[int(len(api_ms) * 0.95) - 1], 1),
        "baseline_one_aggregate_query_p50_ms": round(one_query, 1),
        "warm_speedup_vs_aggregate_query": round(one_query / warm, 1),
        "cold_speedup_vs_aggregate_query": round(one_query / cold, 2),
        "naive_fetch_all_p50_ms": round(statistics.median(naive_ms), 1),
        "warm_speedup_vs_naive": round(statistics.median(naive_ms) / warm, 1),
        "target_warm_p50_ms": 100,
    }


def main() -> None:
    """Print both reports."""
    with migrated_database() as dsn:
        report = asyncio.run(_recorder_overhead(dsn))
        report.update(asyncio.run(_stats_latency(dsn)))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
