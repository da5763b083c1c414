"""`python -m inngest_app stats`: the same numbers as the API, as a table."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from inngest_app.cli.stats import parse_since
from inngest_app.store.transport import init_connection

ROOT = Path(__file__).resolve().parents[2]


def test_since_parsing() -> None:
    assert parse_since("7d") == dt.timedelta(days=7)
    assert parse_since("12h") == dt.timedelta(hours=12)
    with pytest.raises(argparse.ArgumentTypeError, match="--since"):
        parse_since("a while")


async def _seed(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    now = dt.datetime.now(dt.UTC)
    await conn.executemany(
        "insert into inngest_function_executions (run_id, function_id, status, step_count,"
        " duration_ms, started_at) values ($1, $2, $3, $4, $5, $6)",
        [
            ("a", "inngest-app-ping", "completed", 2, 100, now - dt.timedelta(hours=1)),
            ("b", "inngest-app-ping", "failed", 1, 300, now - dt.timedelta(hours=2)),
            ("c", "inngest-app-other", "completed", 4, 50, now - dt.timedelta(days=3)),
            ("d", "inngest-app-old", "completed", 9, 10, now - dt.timedelta(days=30)),
        ],
    )
    await conn.close()


def test_stats_command_prints_the_numbers(database_url: str) -> None:
    asyncio.run(_seed(database_url))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "DATABASE_"))}
    env.update({"DATABASE_URL": database_url, "INNGEST_DEV": "1"})
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "inngest_app", "stats", "--since", "7d"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "runs 3  ok 2  failed 1  steps 7" in out
    assert "inngest-app-ping" in out and "inngest-app-other" in out
    assert "inngest-app-old" not in out
    narrowed = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "inngest_app",
            "stats",
            "--since",
            "7d",
            "--function",
            "inngest-app-other",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "runs 1  ok 1  failed 0  steps 4  billed steps 4" in narrowed.stdout
    bare = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "inngest_app", "stats", "--function", "other"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "runs 1  ok 1  failed 0  steps 4" in bare.stdout, bare.stderr  # the seed's bare id
