"""Issue 9, point 4: an empty or blank secret is a start-up error that names it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from inngest_app.settings import SettingsError, load_settings
from inngest_app.testing.live import free_port
from inngest_app.testing.signing import sign, step_call

ROOT = Path(__file__).resolve().parents[2]
SECRETS = [
    "INNGEST_SIGNING_KEY",
    "INNGEST_SIGNING_KEY_FALLBACK",
    "INNGEST_EVENT_KEY",
    "SUPABASE_JWT_SECRET",
    "SUPABASE_SERVICE_ROLE_KEY",
    "MONITORING_API_KEY",
    "METRICS_TOKEN",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_KEY",
    "DATABASE_URL",
    "QUERY_CREDENTIALS__ACME",
]
CLOUD = {"INNGEST_SIGNING_KEY": "signkey-prod-" + "ab" * 32, "INNGEST_EVENT_KEY": "event-key-1"}


CASES = [(name, value) for name in SECRETS for value in ("", "   ")]


@pytest.mark.parametrize(("name", "value"), [*CASES, ("STRIPE_WEBHOOK_SECRET", " , ")])
def test_an_empty_secret_names_itself(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    for key, good in CLOUD.items():
        monkeypatch.setenv(key, good)
    if name == "SUPABASE_SERVICE_ROLE_KEY":
        monkeypatch.setenv("SUPABASE_URL", "https://x.supabase.co")
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_uvicorn_does_not_serve_with_an_empty_signing_key() -> None:
    """The attack: a step call signed with the empty key. Nothing may be listening to take it."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "DATABASE_"))},
        **CLOUD,
        "INNGEST_SIGNING_KEY": "",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
    }
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "uvicorn", "inngest_app.main:app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        output = process.communicate(timeout=60)[0].decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode != 0
    assert "INNGEST_SIGNING_KEY" in output and "empty" in output, output
    assert "Traceback" not in output
    body = step_call({"name": "app/ping", "data": {}, "id": "e1", "ts": 1}, run_id="01FORGED")
    with pytest.raises(httpx.ConnectError):
        httpx.post(
            f"http://127.0.0.1:{port}/api/inngest?fnId=inngest-app-ping&stepId=step",
            content=body,
            headers={"X-Inngest-Signature": sign(body, "", int(time.time()))},
        )
