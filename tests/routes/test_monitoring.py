"""The stats API: the seed's shape, numbers the test computes itself, auth, filters, errors."""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import asyncpg
import jwt
import pytest

from inngest_app.app import create_app
from inngest_app.settings import Settings
from inngest_app.store.transport import init_connection
from tests.apps import in_process

ADMIN = "admin-monitoring-key-123"
SECRET = "jwt-secret-for-monitoring-tests-0123"
SEED_KEYS = {
    "totalExecutions",
    "successfulExecutions",
    "failedExecutions",
    "totalSteps",
    "totalDurationMs",
    "averageDurationMs",
    "byFunction",
    "byTriggerType",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user(sub: str) -> dict[str, str]:
    claims = {"sub": sub, "exp": int(time.time()) + 600, "aud": "authenticated"}
    return bearer(jwt.encode({**claims, "role": "authenticated"}, SECRET, "HS256"))


def make_rows(now: dt.datetime) -> list[dict[str, Any]]:
    rng = random.Random(7)
    rows = []
    for i in range(60):
        status = rng.choice(["completed", "completed", "failed", "cancelled"])
        started = now - dt.timedelta(days=rng.randint(0, 9), minutes=rng.randint(1, 600))
        duration = rng.randint(5, 5000)
        rows.append(
            {
                "run_id": f"run-{i}",
                "function_id": rng.choice(["app-a", "app-b", "app-c"]),
                "function_name": "fn",
                "user_id": rng.choice(["alice", "bob", None]),
                "trigger_type": rng.choice(["event", "scheduled", "webhook"]),
                "status": status,
                "step_count": rng.randint(0, 9),
                "other_step_count": rng.randint(0, 3),
                "duration_ms": duration,
                "started_at": started,
                "completed_at": started + dt.timedelta(milliseconds=duration),
                "error_message": "boom" if status == "failed" else None,
            }
        )
    return rows


async def seed(database_url: str, rows: list[dict[str, Any]]) -> None:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        await conn.executemany(
            "insert into inngest_function_executions (run_id, function_id, function_name, user_id,"
            " trigger_type, status, step_count, other_step_count, duration_ms, started_at,"
            " completed_at, error_message) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
            [tuple(r.values()) for r in rows],
        )
    finally:
        await conn.close()


def expected(rows: list[dict[str, Any]]) -> dict[str, Any]:
    steps = sum(r["step_count"] + r["other_step_count"] for r in rows)
    total = sum(r["duration_ms"] for r in rows)
    by_fn: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_fn.setdefault(r["function_id"], []).append(r)
    return {
        "totalExecutions": len(rows),
        "successfulExecutions": sum(r["status"] == "completed" for r in rows),
        "failedExecutions": sum(r["status"] == "failed" for r in rows),
        "totalSteps": steps,
        "totalDurationMs": total,
        "averageDurationMs": round(total / len(rows)) if rows else 0,
        "byFunction": {
            fn: (
                len(rs),
                sum(r["step_count"] + r["other_step_count"] for r in rs),
                round(statistics.mean(r["duration_ms"] for r in rs)),
            )
            for fn, rs in by_fn.items()
        },
        "estimatedCostUsd": float(Decimal("0.0001") * steps),
    }


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        monitoring_api_key=ADMIN, supabase_jwt_secret=SECRET, inngest_monthly_step_quota=10_000
    )


async def test_stats_shape_and_numbers(settings: Settings, database_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    rows = make_rows(now)
    await seed(database_url, rows)
    async with in_process(create_app(settings)) as client:
        response = await client.get("/api/inngest/monitoring", headers=bearer(ADMIN))
    assert response.status_code == 200, response.text
    body = response.json()
    assert SEED_KEYS <= set(body)
    want = expected(rows)
    for key in (
        "totalExecutions",
        "successfulExecutions",
        "failedExecutions",
        "totalSteps",
        "totalDurationMs",
        "averageDurationMs",
    ):
        assert body[key] == want[key], key
    assert body["estimatedCostUsd"] == pytest.approx(want["estimatedCostUsd"])
    got = {f["functionId"]: (f["count"], f["steps"], f["avgDuration"]) for f in body["byFunction"]}
    assert got == want["byFunction"]
    assert sum(t["count"] for t in body["byTriggerType"]) == len(rows)
    assert sum(d["executions"] for d in body["byDay"]) == len(rows)
    assert {u["userId"] for u in body["byUser"]} == {"alice", "bob"}
    failures = [r for r in rows if r["status"] == "failed"]
    assert len(body["recentFailures"]) == min(20, len(failures))
    assert all(f["errorMessage"] == "boom" for f in body["recentFailures"])
    assert body["quota"]["monthlyStepQuota"] == 10_000
    month = [
        r
        for r in rows
        if r["started_at"] >= now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    ]
    assert body["quota"]["stepsThisMonth"] == sum(
        r["step_count"] + r["other_step_count"] for r in month
    )
    assert body["quota"]["forecastStepsThisMonth"] >= body["quota"]["stepsThisMonth"]
    assert all(f["p50DurationMs"] <= f["p95DurationMs"] for f in body["byFunction"])


HALF, P95 = Fraction(1, 2), Fraction(95, 100)


def _round(value: float | Decimal) -> int:
    """SQL's round() of a numeric: half away from zero."""
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _bucket_upper_ms(duration_ms: int) -> int:
    """The upper bound of the duration bucket of `duration_ms`: three buckets per doubling."""
    bucket = min(59, max(0, math.ceil(3 * math.log(max(duration_ms, 1)) / math.log(2))))
    return round(2 ** (bucket / 3))


def _nearest_rank(values: list[int], fraction: Fraction) -> int:
    ordered = sorted(values)
    return ordered[math.ceil(fraction * len(ordered)) - 1]


async def test_groupings_and_percentiles_match_values_computed_here(
    settings: Settings, database_url: str
) -> None:
    """byTriggerType, byDay and each function's p50/p95, against the rows themselves (past
    days come from the rollups, today from the raw table)."""
    now = dt.datetime.now(dt.UTC)
    rows = make_rows(now)
    await seed(database_url, rows)
    async with in_process(create_app(settings)) as client:
        first = await client.get("/api/inngest/monitoring", headers=bearer(ADMIN))
        again = await client.get("/api/inngest/monitoring", headers=bearer(ADMIN))
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json()  # rollups built by the first, read by the second
    body = first.json()

    triggers: dict[str, int] = {}
    days: dict[str, list[dict[str, Any]]] = {}
    durations: dict[str, list[int]] = {}
    for r in rows:
        triggers[r["trigger_type"]] = triggers.get(r["trigger_type"], 0) + 1
        days.setdefault(r["started_at"].date().isoformat(), []).append(r)
        durations.setdefault(r["function_id"], []).append(r["duration_ms"])
    assert body["byTriggerType"] == [
        {"triggerType": t, "count": n}
        for t, n in sorted(triggers.items(), key=lambda item: (-item[1], item[0]))
    ]
    assert len(days) > 2  # several past days and today
    assert body["byDay"] == [
        {
            "date": day,
            "executions": len(rs),
            "steps": sum(r["step_count"] + r["other_step_count"] for r in rs),
            "avgDurationMs": _round(Decimal(sum(r["duration_ms"] for r in rs)) / len(rs)),
        }
        for day, rs in sorted(days.items())
    ]
    got = {f["functionId"]: (f["p50DurationMs"], f["p95DurationMs"]) for f in body["byFunction"]}
    want = {
        fn: (
            _bucket_upper_ms(_nearest_rank(values, HALF)),
            _bucket_upper_ms(_nearest_rank(values, P95)),
        )
        for fn, values in durations.items()
    }
    assert got == want
    for fn, (p50, p95) in got.items():  # a bucket's bound: at most ~26% above the true value
        assert (
            _nearest_rank(durations[fn], HALF) <= p50 <= 1.26 * _nearest_rank(durations[fn], HALF)
        )
        assert _nearest_rank(durations[fn], P95) <= p95


async def test_filters_combine(settings: Settings, database_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    rows = make_rows(now)
    await seed(database_url, rows)
    start = (now - dt.timedelta(days=4)).date()
    params = {
        "functionId": "app-b",
        "userId": "alice",
        "startDate": start.isoformat(),
        "endDate": now.date().isoformat(),
    }
    async with in_process(create_app(settings)) as client:
        response = await client.get("/api/inngest/monitoring", params=params, headers=bearer(ADMIN))
    chosen = [
        r
        for r in rows
        if r["function_id"] == "app-b"
        and r["user_id"] == "alice"
        and r["started_at"].date() >= start
    ]
    assert response.json()["totalExecutions"] == len(chosen)
    assert response.json()["totalSteps"] == expected(chosen)["totalSteps"]


async def test_step_run_only_cost_model(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    rows = make_rows(dt.datetime.now(dt.UTC))
    await seed(database_url, rows)
    settings = make_settings(
        monitoring_api_key=ADMIN,
        inngest_bill_all_steps=False,
        inngest_cost_per_run_usd=Decimal("0.001"),
    )
    async with in_process(create_app(settings)) as client:
        body = (await client.get("/api/inngest/monitoring", headers=bearer(ADMIN))).json()
    runs_only = sum(r["step_count"] for r in rows)
    assert body["totalSteps"] == runs_only
    assert body["estimatedCostUsd"] == pytest.approx(runs_only * 0.0001 + len(rows) * 0.001)


async def test_auth(settings: Settings, database_url: str) -> None:
    rows = make_rows(dt.datetime.now(dt.UTC))
    await seed(database_url, rows)
    async with in_process(create_app(settings)) as client:
        url = "/api/inngest/monitoring"
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=bearer("wrong-key"))).status_code == 401
        expired = jwt.encode({"sub": "alice", "exp": int(time.time()) - 5}, SECRET, "HS256")
        assert (await client.get(url, headers=bearer(expired))).status_code == 401
        forged = jwt.encode(
            {"sub": "alice", "exp": int(time.time()) + 60},
            "some-other-secret-of-enough-length-0123",
            "HS256",
        )
        assert (await client.get(url, headers=bearer(forged))).status_code == 401
        other = await client.get(url, params={"userId": "bob"}, headers=user("alice"))
        assert other.status_code == 403
        own = await client.get(url, headers=user("alice"))
        assert own.status_code == 200 and "byUser" not in own.json()
        assert own.json()["totalExecutions"] == sum(r["user_id"] == "alice" for r in rows)
        admin = await client.get(url, params={"userId": "bob"}, headers=bearer(ADMIN))
        assert admin.json()["totalExecutions"] == sum(r["user_id"] == "bob" for r in rows)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"startDate": "last week"}, "startDate"),
        ({"endDate": "2026-13-01"}, "endDate"),
        ({"page": "2"}, "page"),
        ({"startDate": "2026-11-20", "endDate": "2026-11-01"}, "startDate"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    settings: Settings, params: dict[str, str], name: str
) -> None:
    async with in_process(create_app(settings)) as client:
        response = await client.get("/api/inngest/monitoring", params=params, headers=bearer(ADMIN))
    assert response.status_code == 400
    assert response.json()["error"].startswith(name)


async def test_rollups_follow_late_changes_to_past_days(
    settings: Settings, database_url: str
) -> None:
    now = dt.datetime.now(dt.UTC)
    rows = make_rows(now)
    await seed(database_url, rows)
    async with in_process(create_app(settings)) as client:
        url = "/api/inngest/monitoring"
        before = (await client.get(url, headers=bearer(ADMIN))).json()
        old = next(
            r
            for r in rows
            if r["status"] == "completed" and r["started_at"] < now - dt.timedelta(days=2)
        )
        conn = await asyncpg.connect(database_url)
        try:
            # a run of an earlier day fails late (its record arrives after the day was rolled up)
            await conn.execute(
                "update inngest_function_executions set status = 'failed', updated_at = now()"
                " + interval '2 minutes' where run_id = $1",
                old["run_id"],
            )
        finally:
            await conn.close()
        after = (await client.get(url, headers=bearer(ADMIN))).json()
    assert after["failedExecutions"] == before["failedExecutions"] + 1
    assert after["successfulExecutions"] == before["successfulExecutions"] - 1
    assert after["totalExecutions"] == before["totalExecutions"] == len(rows)
