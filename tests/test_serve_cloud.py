"""Cloud mode: only fresh, validly signed requests run anything."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import pytest

from inngest_app import serve
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


Signer = Callable[[bytes, int], dict[str, str]]


def _signed(key: str, offset_s: int) -> Signer:
    """Headers signed with `key`, `offset_s` from the moment of the request."""
    return lambda body, now: {"X-Inngest-Signature": sign(body, key, now + offset_s)}


# Built when the test runs (not at collection): a slow collection must not make the forged and
# wrong-key cases pass for being stale instead.
REFUSED: list[Any] = [
    pytest.param(lambda body, now: {}, id="unsigned"),
    pytest.param(lambda body, now: {"X-Inngest-Signature": f"t={now}&s=" + "0" * 64}, id="forged"),
    pytest.param(_signed(WRONG_KEY, 0), id="wrong-key"),
    pytest.param(_signed(SIGNING_KEY, -600), id="10-minutes-old"),
    pytest.param(_signed(SIGNING_KEY, 600), id="10-minutes-ahead"),
    pytest.param(lambda body, now: {"X-Inngest-Signature": "t=yesterday&s=00"}, id="malformed"),
]


@pytest.mark.parametrize("make_headers", REFUSED)
async def test_refused_with_401(cloud_settings: Settings, make_headers: Signer) -> None:
    app = create_app(cloud_settings)
    async with in_process(app) as client:
        body = call_body()
        headers = make_headers(body, int(time.time()))
        response = await client.post(
            PING_URL,
            content=body,
            headers={"X-Inngest-Server-Kind": "cloud", **headers},
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


@pytest.mark.parametrize(
    ("offset_s", "status"),
    [
        pytest.param(-(120 - 1), 206, id="max-age-minus-1s-old"),
        pytest.param(-(120 + 1), 401, id="max-age-plus-1s-old"),
        pytest.param(120 - 1, 206, id="max-age-minus-1s-ahead"),
        pytest.param(120 + 1, 401, id="max-age-plus-1s-ahead"),
    ],
)
async def test_signature_max_age_setting_is_the_window(
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    offset_s: int,
    status: int,
) -> None:
    """`INNGEST_SIGNATURE_MAX_AGE_S=120` (not the default 300): 119 s either way is accepted,
    121 s refused. The adapter's clock is pinned, so the edges do not depend on how fast
    the test runs."""
    now = int(time.time())
    pinned = functools.partial(serve.inngest_routes, clock=lambda: float(now))
    monkeypatch.setattr("inngest_app.app.inngest_routes", pinned)
    settings = make_settings(
        inngest_dev=False,
        inngest_signing_key=SIGNING_KEY,
        inngest_event_key="test-event-key",
        inngest_api_base_url="http://127.0.0.1:9",
        inngest_event_api_base_url="http://127.0.0.1:9",
        inngest_signature_max_age_s=120,
    )
    app = create_app(settings)
    async with in_process(app) as client:
        body = call_body()
        response = await client.post(
            PING_URL,
            content=body,
            headers={
                "X-Inngest-Server-Kind": "cloud",
                "X-Inngest-Signature": sign(body, SIGNING_KEY, now + offset_s),
            },
        )
        assert response.status_code == status, response.text
        if status == 401:
            assert response.json()["code"] == "sig_verification_failed"
        pings = await app.state.services.pool.fetchval("select count(*) from pings")
        assert pings == (1 if status == 206 else 0)
