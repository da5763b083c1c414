"""Start-up against a database whose schema is behind the code: said once, readiness fails
until the migrations are applied; `MIGRATE_ON_START=1` applies them, safely from many workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import pytest

from inngest_app.app import create_app
from inngest_app.settings import Settings
from inngest_app.store.migrate import apply_migrations, discover
from inngest_app.testing.live import free_port
from tests.apps import in_process
from tests.pg import PgCluster
from tests.processes import kill_all, processes, wait_gone

ROOT = Path(__file__).resolve().parents[1]


async def _migrate(dsn: str, directory: Path | None = None) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await (apply_migrations(conn, directory) if directory else apply_migrations(conn))
    finally:
        await conn.close()


async def test_behind_schema_is_logged_once_and_readiness_fails_until_migrated(
    pg: PgCluster,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, *rest = discover()
    shutil.copy(first.path, tmp_path / first.path.name)
    pending = [m.path.name for m in rest]
    with pg.database(template="template0") as dsn:
        await _migrate(dsn, tmp_path)  # only the first file: the code is ahead
        with caplog.at_level(logging.INFO):
            async with in_process(create_app(make_settings(database_url=dsn))) as client:
                ready = await client.get("/healthz", params={"ready": "1"})
                assert ready.status_code == 503
                body = ready.json()
                assert body["status"] == "unavailable" and body["migrations"] == "pending"
                assert body["pendingMigrations"] == pending
                assert "python scripts/migrate.py" in body["error"]
                assert (await client.get("/healthz")).status_code == 200  # alive all along

                assert await _migrate(dsn) == pending  # the operator runs the command
                ready = await client.get("/healthz", params={"ready": "1"})
                assert ready.status_code == 200, ready.text
                assert "migrations" not in ready.json()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    message = errors[0].getMessage()
    assert "python scripts/migrate.py" in message and "MIGRATE_ON_START=1" in message
    assert all(name in message for name in pending)


async def test_up_to_date_schema_logs_no_error(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    async with in_process(create_app(make_settings())) as client:
        assert (await client.get("/healthz", params={"ready": "1"})).status_code == 200
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_migrate_on_start_applies_once_from_concurrent_workers(
    pg: PgCluster, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGRATE_ON_START", "1")  # the variable an operator sets
    with pg.database(template="template0") as dsn:
        workers = [create_app(make_settings(database_url=dsn)) for _ in range(3)]
        assert all(app.state.services.settings.migrate_on_start for app in workers)
        async with contextlib.AsyncExitStack() as stack:
            clients = await asyncio.gather(
                *(stack.enter_async_context(in_process(app)) for app in workers)
            )
            for client in clients:
                ready = await client.get("/healthz", params={"ready": "1"})
                assert ready.status_code == 200, ready.text
        conn = await asyncpg.connect(dsn)
        try:
            versions = [
                r["version"] for r in await conn.fetch("select version from schema_migrations")
            ]
        finally:
            await conn.close()
        assert sorted(versions) == [m.version for m in discover()]  # each file exactly once


def _serve(pg_dir: Path, port: int, **extra: str) -> subprocess.Popen[str]:
    env = {
        **{k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"},
        "INNGEST_DEV": "1",
        "EMBEDDED_PG_DIR": str(pg_dir),
        **extra,
    }
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "uvicorn", "inngest_app.main:app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _ready(port: int, seconds: float = 90) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz?ready=1", timeout=5)
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[0]


def test_a_newcomer_serving_a_fresh_database_is_told_then_migrate_on_start_fixes_it() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="inngest-app-serve-test-"))
    pg_dir = scratch / "pg"
    try:
        port = free_port()
        server = _serve(pg_dir, port)
        try:
            ready = _ready(port)
            assert ready.status_code == 503 and ready.json()["migrations"] == "pending"
        finally:
            output = _stop(server)
        errors = [line for line in output.splitlines() if " ERROR " in line]
        assert len(errors) == 1, output
        assert "20261122000100_foundation.sql" in errors[0]
        assert "python scripts/migrate.py" in errors[0]
        assert "Warning" not in output, output  # platformdirs' XDG_RUNTIME_DIR one included
        # the app's lifespan stopped the embedded server it started
        assert wait_gone(markers=(str(pg_dir),)) == {}, output

        server = _serve(pg_dir, port, MIGRATE_ON_START="1")
        try:
            ready = _ready(port)
            assert ready.status_code == 200, ready.text
        finally:
            output = _stop(server)
        assert "MIGRATE_ON_START: applied 20261122000100_foundation.sql" in output
        assert " ERROR " not in output, output
        assert wait_gone(markers=(str(pg_dir),)) == {}, output
    finally:
        kill_all(processes(markers=(str(scratch),)))
        shutil.rmtree(scratch, ignore_errors=True)
