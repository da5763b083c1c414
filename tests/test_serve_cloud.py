"""Cloud mode: only fresh, validly signed requests run anything."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from inngest_app.app import create_app
from inngest_app.settings import Settings
from inngest_app.testing.signing import sign, step_call
from tests.apps import in_process

SIGNING_KEY = "signkey-prod-" + "ab" * 32
FALLBACK_KEY = "signkey-prod-" + "cd" * 32
WRONG_KEY = "signkey-prod-" + "ef" * 32
PING_URL = "/api/inngest?fnId=inngest-app-ping&stepId=step"


def call_body() -> bytes:
    event = {"data": {"message": "hi"}, "id": "e1", "name": "app/ping", "ts": 1}
    return step_call(event, run_id="01JCLOUDTEST")


@pytest.fixture
def cloud_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        inngest_dev=False,
        inngest_signing_key=SIGNING_KEY,
        inngest_signing_key_fallback=FALLBACK_KEY,
        inngest_event_key="test-event-key",
        inngest_api_base_url="http://127.0.0.1:9",
        inngest_event_api_base_url="http://127.0.0.1:9",
    )


def _signature(key: str, offset_s: int) -> Callable[[], dict[str, str]]:
    # Signed when the test runs, not at collection: a long suite must not age the "fresh" ones.
    return lambda: {"X-Inngest-Signature": sign(call_body(), key, int(time.time()) + offset_s)}


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda: {}, id="unsigned"),
        pytest.param(
            lambda: {"X-Inngest-Signature": f"t={int(time.time())}&s=" + "0" * 64}, id="forged"
        ),
        pytest.param(_signature(WRONG_KEY, 0), id="wrong-key"),
        pytest.param(_signature(SIGNING_KEY, -600), id="10-minutes-old"),
        pytest.param(_signature(SIGNING_KEY, 600), id="10-minutes-ahead"),
        pytest.param(lambda: {"X-Inngest-Signature": "t=yesterday&s=00"}, id="malformed"),
    ],
)
async def test_refused_with_401(
    cloud_settings: Settings, headers: Callable[[], dict[str, str]]
) -> None:
    app = create_app(cloud_settings)
    async with in_process(app) as client:
        response = await client.post(
            PING_URL,
            content=call_body(),
            headers={"X-Inngest-Server-Kind": "cloud", **headers()},
        )
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith("application/json")
        pool = app.state.services.pool
        assert await pool.fetchval("select count(*) from pings") == 0


@pytest.mark.parametrize("key", [SIGNING_KEY, FALLBACK_KEY], ids=["primary", "fallback"])
async def test_fresh_valid_signature_runs_the_step(cloud_settings: Settings, key: str) -> None:
    app = create_app(cloud_settings)
    async with in_process(app) as client:
        body = call_body()
        response = await client.post(
            PING_URL,
            content=body,
            headers={
                "X-Inngest-Server-Kind": "cloud",
                "X-Inngest-Signature": sign(body, key, int(time.time())),
            },
        )
        assert response.status_code == 206, response.text
        [op] = response.json()
        assert op["op"] == "StepRun" and op["displayName"] == "record-ping"
        assert await app.state.services.pool.fetchval("select count(*) from pings") == 1


async def test_unknown_function_is_401_before_404_when_unsigned(cloud_settings: Settings) -> None:
    async with in_process(create_app(cloud_settings)) as client:
        response = await client.post(
            "/api/inngest?fnId=secret-name&stepId=step",
            content=b"{}",
            headers={"X-Inngest-Server-Kind": "cloud"},
        )
        assert response.status_code == 401
