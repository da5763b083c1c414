"""`/healthz`: liveness always, readiness only with a database."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inngest_app import __version__
from inngest_app.app import create_app
from inngest_app.settings import Settings
from tests.apps import in_process


async def test_liveness_and_readiness(make_settings: Callable[..., Settings]) -> None:
    async with in_process(create_app(make_settings())) as client:
        live = await client.get("/healthz")
        assert live.status_code == 200
        assert live.json() == {"status": "ok", "version": __version__}
        ready = await client.get("/healthz", params={"ready": "1"})
        assert ready.status_code == 200 and ready.json()["database"] == "ok"


async def test_database_down_at_start_gives_failing_readiness_not_a_crash(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    async with in_process(create_app(settings)) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/healthz", params={"ready": "1"})
        assert ready.status_code == 503
        assert ready.json()["database"] == "unreachable"
    startup_errors = [r for r in caplog.records if "unreachable at start-up" in r.getMessage()]
    assert len(startup_errors) == 1


async def test_unknown_route_is_a_json_404(make_settings: Callable[..., Settings]) -> None:
    async with in_process(create_app(make_settings())) as client:
        response = await client.get("/nope")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
