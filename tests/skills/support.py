"""Shared pieces of the skills tests: provider/Telegram/Storage answers from the fixtures."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt

from tests.harness import Live
from tests.queries.support import JWT_SECRET

__all__ = ["JWT_SECRET", "token"]

FIXTURES = Path(__file__).parent / "fixtures"
USER = "user-1"
ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"
OPENAI_BASE = "http://llm.internal.test/v1"
BOT_TOKEN = "7000000001:AAH-test-bot-token-secret"
TELEGRAM_URL = f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"
SUPABASE_URL = "https://proj.supabase.test"
SUPABASE_ISSUER = f"{SUPABASE_URL}/auth/v1"
ALERT_URL = "https://alerts.example.test/hook"


def token(user: str = USER, *, issuer: str | None = None) -> dict[str, str]:
    """A Supabase user's bearer token (with the issuer the app expects when SUPABASE_URL is set)."""
    claims: dict[str, Any] = {
        "sub": user,
        "exp": int(time.time()) + 3600,
        "aud": "authenticated",
        "role": "authenticated",
    }
    if issuer:
        claims["iss"] = issuer
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def answer(status: int, name: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=fixture(name), headers=headers)


def message_ok() -> httpx.Response:
    return answer(200, "anthropic.message.json", **{"request-id": "req_011CSHoA"})


def overloaded() -> httpx.Response:
    return answer(529, "anthropic.error.overloaded.json")


def skill_settings(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """Settings for the skills tests: JWT auth, outputs in `tmp_path`, Anthropic configured."""
    values: dict[str, Any] = {
        "supabase_jwt_secret": JWT_SECRET,
        "skill_outputs_dir": tmp_path / "outputs",
        "anthropic_api_key": "sk-ant-test-key-0123456789",
    }
    values.update(overrides)
    return values


async def start_run(live: Live, user: str = USER, *, issuer: str | None = None, **body: Any) -> str:
    payload = {"skillName": "marketing-brief", "message": "Launch our trail shoes", **body}
    response = await live.api.post("/api/runs", json=payload, headers=token(user, issuer=issuer))
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    return str(response.json()["runId"])


async def run_row(live: Live, run_id: str) -> dict[str, Any]:
    row = await live.pool.fetchrow("select * from runs where id = $1", run_id)
    assert row is not None
    return dict(row)


async def flush_monitoring(live: Live) -> None:
    recorder = live.app.state.recorder
    while recorder.depth:
        assert await recorder.flush()


async def insert_run(live: Live, status: str, age: str) -> str:
    """A run created `age` ago (and started then, if running), as a lost or stuck one is."""
    return str(
        await live.pool.fetchval(
            "insert into runs (user_id, skill_name, user_message, status, created_at,"
            " started_at, inngest_run_id) values ($1, 'marketing-brief', 'm', $2,"
            " now() - $3::text::interval,"
            " case when $2 = 'running' then now() - $3::text::interval end,"
            " case when $2 = 'running' then 'old-run' end) returning id::text",
            USER,
            status,
            age,
        )
    )
