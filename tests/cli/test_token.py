"""`python -m inngest_app token --user <id>`: a token the user APIs accept, dev mode only."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import asyncpg
import jwt
import pytest

from inngest_app.app import create_app
from inngest_app.cli import main
from inngest_app.settings import DEV_JWT_SECRET, Settings
from tests.apps import in_process

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-configured-jwt-secret-for-the-token-tests"


async def _seed(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        now = dt.datetime.now(dt.UTC)
        await conn.executemany(
            "insert into inngest_function_executions (run_id, function_id, status, user_id,"
            " started_at) values ($1, 'inngest-app-ping', 'completed', $2, $3)",
            [("r-alice", "alice", now), ("r-bob", "bob", now)],
        )
    finally:
        await conn.close()


def test_a_printed_token_reads_only_that_users_runs(
    make_settings: Callable[..., Settings],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INNGEST_DEV", "1")
    monkeypatch.setenv("SUPABASE_JWT_SECRET", SECRET)
    assert main(["token", "--user", "alice", "--ttl", "600"]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert "\n" not in token and out.err == ""
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="authenticated")
    assert claims["sub"] == "alice" and claims["role"] == "authenticated"
    assert claims["exp"] - claims["iat"] == 600
    asyncio.run(_seed(database_url))
    settings = make_settings(supabase_jwt_secret=SECRET, monitoring_enabled=False)

    async def read() -> list[str]:
        async with in_process(create_app(settings)) as client:
            response = await client.get(
                "/api/inngest/monitoring/runs", headers={"Authorization": f"Bearer {token}"}
            )
        assert response.status_code == 200, response.text
        return [r["runId"] for r in response.json()["runs"]]

    assert asyncio.run(read()) == ["r-alice"]


def test_without_a_secret_dev_mode_signs_with_make_devs(
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INNGEST_DEV", "1")
    assert main(["token", "--user", "bob"]) == 0
    out = capsys.readouterr()
    assert "dev secret" in out.err
    claims = jwt.decode(
        out.out.strip(), DEV_JWT_SECRET, algorithms=["HS256"], audience="authenticated"
    )
    assert claims["sub"] == "bob" and claims["exp"] - claims["iat"] == 12 * 3600
    # the public dev secret is refused outside dev mode
    with pytest.raises(ValueError, match="dev mode only"):
        make_settings(
            inngest_dev=False,
            inngest_signing_key="signkey-test-" + "ab" * 32,
            inngest_event_key="k",
            supabase_jwt_secret=DEV_JWT_SECRET,
        )


def test_refused_outside_dev_mode_unless_forced(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUPABASE_JWT_SECRET", SECRET)
    monkeypatch.setenv("INNGEST_SIGNING_KEY", "signkey-test-" + "ab" * 32)
    monkeypatch.setenv("INNGEST_EVENT_KEY", "event-key")
    assert main(["token", "--user", "alice"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "not in dev mode" in out.err and "--force" in out.err
    assert main(["token", "--user", "alice", "--force"]) == 0
    token = capsys.readouterr().out.strip()
    assert (
        jwt.decode(token, SECRET, algorithms=["HS256"], audience="authenticated")["sub"] == "alice"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["token"],
        ["token", "--user", ""],
        ["token", "--user", "has space"],
        ["token", "--user", "x" * 201],
        ["token", "--user", "a", "--ttl", "10"],
        ["token", "--user", "a", "--ttl", "soon"],
    ],
)
def test_bad_arguments_are_one_line_and_status_2(argv: list[str]) -> None:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "inngest_app", *argv],
        cwd=ROOT,
        env={**os.environ, "INNGEST_DEV": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
