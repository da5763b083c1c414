"""The runs API: from a run the executor drove to the page a user reads; scoping, keyset paging
under concurrent inserts, bad parameters; and the stats' hourly buckets, previous period and
cost per function."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import asyncpg
import jwt
import pytest

from inngest_app.app import create_app
from inngest_app.monitoring.runs import run_url
from inngest_app.settings import Settings
from inngest_app.store.transport import init_connection
from tests.apps import in_process
from tests.harness import Live, LiveFactory

ADMIN = "admin-runs-key-0123456789"
SECRET = "jwt-secret-for-the-runs-tests-0123456"
RUNS = "/api/inngest/monitoring/runs"
INSERT = (
    "insert into inngest_function_executions (run_id, function_id, function_name, user_id,"
    " trigger_type, status, step_count, other_step_count, duration_ms, started_at,"
    " completed_at, error_message, attempts) values"
    " ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)"
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user(sub: str) -> dict[str, str]:
    claims = {"sub": sub, "exp": int(time.time()) + 600, "aud": "authenticated"}
    return bearer(jwt.encode({**claims, "role": "authenticated"}, SECRET, "HS256"))


def row(i: int, started: dt.datetime, **over: Any) -> tuple[Any, ...]:
    values: dict[str, Any] = {
        "run_id": f"run-{i:05d}",
        "function_id": ["inngest-app-a", "inngest-app-b", "a"][i % 3],
        "function_name": "fn",
        "user_id": ["alice", "bob", None][i % 3 if i % 2 else (i // 2) % 3],
        "trigger_type": "event",
        "status": ["completed", "failed", "completed", "cancelled", "started"][i % 5],
        "step_count": i % 4,
        "other_step_count": i % 3,
        "duration_ms": 10 + i,
        "started_at": started,
        "completed_at": started + dt.timedelta(milliseconds=10 + i),
        "error_message": "boom" if i % 5 == 1 else None,
        "attempts": 1 + i % 2,
    }
    values.update(over)
    return tuple(values.values())


async def insert(database_url: str, rows: list[tuple[Any, ...]]) -> None:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        await conn.executemany(INSERT, rows)
    finally:
        await conn.close()


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        monitoring_api_key=ADMIN, supabase_jwt_secret=SECRET, monitoring_enabled=False
    )


async def all_pages(client: Any, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(RUNS, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["runs"]) <= int(params.get("limit", 50))
        seen += body["runs"]
        cursor = body["nextCursor"]
        if cursor is None:
            return seen
    raise AssertionError("paging never ended")


async def recorded(live: Live, runs: int) -> None:
    """Wait until the recorder has written `runs` finished runs (the SDK middleware observes a
    run's last call after answering it, so the executor can see the end first)."""
    recorder = live.services.recorder
    assert recorder is not None
    for _ in range(200):
        await recorder.flush()
        done = await live.pool.fetchval(
            "select count(*) from inngest_function_executions where status <> 'started'"
        )
        if done >= runs:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the recorder wrote {done} of {runs} finished runs")


async def test_a_run_the_executor_drove_is_listed_and_detailed_for_its_user(
    start_live: LiveFactory,
) -> None:
    async with start_live(
        monitoring_api_key=ADMIN, supabase_jwt_secret=SECRET, monitoring_flush_interval_s=0.05
    ) as live:
        for who in ("alice", "bob", "alice"):
            await live.executor.send({"name": "app/ping", "data": {"userId": who, "pause_s": 5}})
        await live.executor.run_until_idle()
        runs = {r.run_id: r for r in live.executor.runs("ping")}
        assert len(runs) == 3 and all(r.status == "completed" for r in runs.values())
        await recorded(live, len(runs))

        mine = await live.api.get(RUNS, headers=user("alice"))
        assert mine.status_code == 200, mine.text
        listed = mine.json()["runs"]
        alices = {r.run_id for r in runs.values() if r.event["data"]["userId"] == "alice"}
        assert {r["runId"] for r in listed} == alices
        assert all(r["userId"] == "alice" and r["status"] == "completed" for r in listed)
        started = [r["startedAt"] for r in listed]
        assert started == sorted(started, reverse=True)

        run_id = listed[0]["runId"]
        detail = (await live.api.get(f"{RUNS}/{run_id}", headers=user("alice"))).json()
        assert detail["functionId"] == "inngest-app-ping"
        assert detail["steps"] == 2  # record-ping and record-pong (step.run)
        assert detail["billedSteps"] == 3  # and the sleep, billed too by default
        kinds = sorted(s["kind"] for s in detail["stepsReported"])
        assert kinds.count("StepRun") == 2 and len(kinds) == 3
        executor_url = live.services.settings.inngest_base_url
        assert detail["runUrl"] == f"{executor_url}/#run={run_id}"  # the viewer, in dev mode
        # bob cannot read alice's run, nor list it, nor ask for her runs
        assert (await live.api.get(f"{RUNS}/{run_id}", headers=user("bob"))).status_code == 404
        bobs = (await live.api.get(RUNS, headers=user("bob"))).json()["runs"]
        assert [r["userId"] for r in bobs] == ["bob"]
        other = await live.api.get(RUNS, params={"userId": "alice"}, headers=user("bob"))
        assert other.status_code == 403 and other.json()["code"] == "forbidden"
        # the admin sees all three, and one user's when asking
        assert len((await live.api.get(RUNS, headers=bearer(ADMIN))).json()["runs"]) == 3
        only = await live.api.get(RUNS, params={"userId": "bob"}, headers=bearer(ADMIN))
        assert [r["userId"] for r in only.json()["runs"]] == ["bob"]


async def test_filters_and_paging_return_each_run_once(
    settings: Settings, database_url: str
) -> None:
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(24)
    # ties on started_at on purpose: the keyset includes the run id
    stamps = [now - dt.timedelta(minutes=rng.randint(1, 3000)) for _ in range(100)]
    rows = [row(i, stamps[i % 100] if i % 7 else stamps[0]) for i in range(230)]
    await insert(database_url, rows)
    async with in_process(create_app(settings)) as client:
        everything = await all_pages(client, bearer(ADMIN), limit="17")
        ids = [r["runId"] for r in everything]
        assert len(ids) == len(set(ids)) == 230
        keys = [(r["startedAt"], r["runId"]) for r in everything]
        assert keys == sorted(keys, reverse=True)
        # a bare function id matches the app-prefixed one too, merged in order
        fn_a = await all_pages(client, bearer(ADMIN), functionId="a", limit="9")
        expected_a = {r[0] for r in rows if r[1] in ("a", "inngest-app-a")}
        assert [r["runId"] for r in fn_a] != [] and {r["runId"] for r in fn_a} == expected_a
        assert len(fn_a) == len(expected_a)
        assert [r["startedAt"] for r in fn_a] == sorted(
            (r["startedAt"] for r in fn_a), reverse=True
        )
        prefixed = await all_pages(client, bearer(ADMIN), functionId="inngest-app-a")
        assert {r["runId"] for r in prefixed} == {r[0] for r in rows if r[1] == "inngest-app-a"}
        failed_bob = await all_pages(client, bearer(ADMIN), status="failed", userId="bob")
        expected = {r[0] for r in rows if r[5] == "failed" and r[3] == "bob"}
        assert {r["runId"] for r in failed_bob} == expected and expected
        # the window: [from, to)
        cut = stamps[3]
        window = await all_pages(client, bearer(ADMIN), to=cut.isoformat())
        assert {r["runId"] for r in window} == {r[0] for r in rows if r[9] < cut}
        # a user's pages: only theirs, whatever they filter
        alice = await all_pages(client, user("alice"), limit="200")
        assert {r["runId"] for r in alice} == {r[0] for r in rows if r[3] == "alice"}
        first = (await client.get(RUNS, params={"limit": "1"}, headers=bearer(ADMIN))).json()
        assert first["runs"][0]["billedSteps"] == (
            first["runs"][0]["steps"]
            + next(r[7] for r in rows if r[0] == first["runs"][0]["runId"])
        )


async def test_paging_under_concurrent_inserts_has_no_gaps_or_repeats(
    settings: Settings, database_url: str
) -> None:
    now = dt.datetime.now(dt.UTC)
    original = [row(i, now - dt.timedelta(seconds=30 + 7 * i)) for i in range(300)]
    await insert(database_url, original)
    stop = asyncio.Event()

    async def writer() -> int:
        written, i = 0, 10_000
        while not stop.is_set():
            # new runs at the top, and late-recorded ones in the middle of the range
            late = now - dt.timedelta(seconds=30 + 7 * ((i * 37) % 300) + 3)
            fresh = [row(i, dt.datetime.now(dt.UTC)), row(i + 1, late)]
            await insert(database_url, fresh)
            written, i = written + 2, i + 2
            await asyncio.sleep(0.005)
        return written

    task = asyncio.create_task(writer())
    try:
        async with in_process(create_app(settings)) as client:
            paged = await all_pages(client, bearer(ADMIN), limit="11", to=now.isoformat())
            during = await all_pages(client, bearer(ADMIN), limit="13")
    finally:
        stop.set()
        written = await task
    assert written > 0
    ids = [r["runId"] for r in paged]
    assert len(ids) == len(set(ids))  # no repeats
    original_ids = {r[0] for r in original}
    assert original_ids <= set(ids)  # no gaps: every run that existed is there
    keys = [(r["startedAt"], r["runId"]) for r in during]
    assert keys == sorted(keys, reverse=True) and len({k[1] for k in keys}) == len(keys)
    assert original_ids <= {k[1] for k in keys}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"to": "9999-12-31"}, "to"),
        ({"to": "0001-01-02"}, "to"),
        ({"from": "0001-01-01"}, "from"),
        ({"from": "2026-12-01T00:00:00+99:00"}, "from"),
        ({"limit": "1e3"}, "limit"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "from"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "x" * 401}, "cursor"),
        ({"functionId": "f" * 201}, "functionId"),
        ({"sort": "asc"}, "sort"),
        ([("status", "failed"), ("status", "completed")], "status"),
    ],
)
async def test_bad_parameters_are_400_json_naming_the_field(
    settings: Settings, params: Any, field: str
) -> None:
    async with in_process(create_app(settings)) as client:
        response = await client.get(RUNS, params=params, headers=bearer(ADMIN))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_parameter" and body["field"] == field
    assert body["error"].startswith(f"{field}: ")


async def test_detail_errors(settings: Settings, database_url: str) -> None:
    await insert(database_url, [row(1, dt.datetime.now(dt.UTC), user_id="alice")])
    async with in_process(create_app(settings)) as client:
        assert (await client.get(f"{RUNS}/run-00001")).status_code == 401
        bad = await client.get(f"{RUNS}/{'x' * 201}", headers=bearer(ADMIN))
        assert bad.status_code == 400 and bad.json()["field"] == "runId"
        odd = await client.get(f"{RUNS}/run%20one", headers=bearer(ADMIN))
        assert odd.status_code == 400 and odd.json()["field"] == "runId"
        extra = await client.get(f"{RUNS}/run-00001?x=1", headers=bearer(ADMIN))
        assert extra.status_code == 400 and extra.json()["field"] == "x"
        missing = await client.get(f"{RUNS}/run-99999", headers=bearer(ADMIN))
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        mine = await client.get(f"{RUNS}/run-00001", headers=user("alice"))
        assert mine.status_code == 200 and mine.json()["errorMessage"] == "boom"
        assert (await client.get(RUNS)).status_code == 401


async def test_run_links_follow_the_configured_pattern(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    await insert(database_url, [row(1, dt.datetime.now(dt.UTC), run_id="01J/odd id")])
    cases = [
        (
            {"inngest_base_url": "http://localhost:8288"},
            "http://localhost:8288/#run=01J%2Fodd%20id",
        ),
        (
            {"monitoring_run_url": "https://runs.example/r/{runId}?from=dash"},
            "https://runs.example/r/01J%2Fodd%20id?from=dash",
        ),
    ]
    for overrides, expected in cases:
        settings = make_settings(monitoring_api_key=ADMIN, monitoring_enabled=False, **overrides)
        async with in_process(create_app(settings)) as client:
            body = (await client.get(RUNS, headers=bearer(ADMIN))).json()
            assert body["runs"][0]["runId"] == "01J/odd id"
        assert run_url(settings, "01J/odd id") == expected
    cloud = make_settings(
        inngest_dev=False, inngest_signing_key="signkey-test-" + "ab" * 32, inngest_event_key="k"
    )
    assert run_url(cloud, "R1") == "https://app.inngest.com/env/production/runs/R1"
    with pytest.raises(ValueError, match="monitoring_run_url"):
        make_settings(monitoring_run_url="javascript:alert(1)//{runId}")
    with pytest.raises(ValueError, match="monitoring_run_url"):
        make_settings(monitoring_run_url="https://runs.example/no-placeholder")


async def test_stats_hourly_buckets_previous_period_and_cost_per_function(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = make_settings(
        monitoring_api_key=ADMIN,
        monitoring_enabled=False,
        inngest_cost_per_step_usd=Decimal("0.001"),
        inngest_cost_per_run_usd=Decimal("0.01"),
    )
    end = dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC)
    start = end - dt.timedelta(hours=48)
    rows = [
        row(0, start),  # the first instant is in
        row(1, start + dt.timedelta(hours=5, minutes=59, seconds=59)),
        row(2, start + dt.timedelta(hours=5, minutes=59, seconds=59)),
        row(3, end - dt.timedelta(microseconds=1)),
        row(4, end),  # the range's end is out
        row(5, start - dt.timedelta(microseconds=1)),  # the previous period's last instant
        row(6, start - dt.timedelta(hours=48)),  # the previous period's first
        row(7, start - dt.timedelta(hours=48, microseconds=1)),  # before both
    ]
    await insert(database_url, rows)
    params = {
        "startDate": start.isoformat(),
        "endDate": (end - dt.timedelta(microseconds=1)).isoformat(),
    }
    async with in_process(create_app(settings)) as client:
        body = (
            await client.get("/api/inngest/monitoring", params=params, headers=bearer(ADMIN))
        ).json()
        longer = {
            "startDate": (start - dt.timedelta(seconds=1)).isoformat(),
            "endDate": params["endDate"],
        }
        wide = (
            await client.get("/api/inngest/monitoring", params=longer, headers=bearer(ADMIN))
        ).json()
    assert body["totalExecutions"] == 4
    hours = {h["hour"]: h for h in body["byHour"]}
    assert hours == {
        "2026-12-01T12:00:00Z": {
            "hour": "2026-12-01T12:00:00Z",
            "executions": 1,
            "failed": 0,
            "steps": 0,
            "billedSteps": 0,
        },
        "2026-12-01T17:00:00Z": {
            "hour": "2026-12-01T17:00:00Z",
            "executions": 2,
            "failed": 1,
            "steps": 3,
            "billedSteps": 6,
        },
        "2026-12-03T11:00:00Z": {
            "hour": "2026-12-03T11:00:00Z",
            "executions": 1,
            "failed": 0,
            "steps": 3,
            "billedSteps": 3,
        },
    }
    assert "byHour" not in wide  # longer than two days: daily only
    previous = body["previous"]
    assert previous["totalExecutions"] == 2 and previous["failedExecutions"] == 1
    assert previous["billedSteps"] == (1 + 2) + (2 + 0)  # rows 5 and 6
    assert previous["estimatedCostUsd"] == pytest.approx(0.005 + 0.02)
    by_fn = {f["functionId"]: f for f in body["byFunction"]}
    for fn, f in by_fn.items():
        assert f["estimatedCostUsd"] == pytest.approx(
            f["billedSteps"] * 0.001 + f["count"] * 0.01
        ), fn
    assert sum(f["estimatedCostUsd"] for f in by_fn.values()) == pytest.approx(
        body["estimatedCostUsd"]
    )
    assert set(previous["byFunction"]) == {rows[5][1], rows[6][1]}
    assert "inngest-app-ping" in body["functions"]  # registered, though it has no runs
