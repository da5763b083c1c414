"""Monitoring's cost and speed.

1. Signed step invocations per second with the recorder on vs off (same app, same function,
   in-process ASGI, alternating paired rounds; ratio = median of per-pair ratios; target >= 0.90).
2. Stats API latency over 1,000,000 execution rows (p50 of repeated requests; target < 100 ms),
   against a naive baseline in the same process: fetch every row of the window and aggregate in
   Python. Reports the ratio.
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
    assert naive["total"] == body["totalExecutions"] == ROWS, (
        naive["total"],
        body["totalExecutions"],
    )
    return {
        "rows": ROWS,
        "first_request_ms_building_rollups": round(first_ms),
        "stats_api_p50_ms": round(statistics.median(api_ms), 1),
        "stats_api_p95_ms": round(sorted(api_ms)[int(len(api_ms) * 0.95) - 1], 1),
        "naive_fetch_all_p50_ms": round(statistics.median(naive_ms), 1),
        "speedup_vs_naive": round(statistics.median(naive_ms) / statistics.median(api_ms), 1),
        "target_p50_ms": 100,
    }


def main() -> None:
    """Print both reports."""
    with migrated_database() as dsn:
        report = asyncio.run(_recorder_overhead(dsn))
        report.update(asyncio.run(_stats_latency(dsn)))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
