"""The Starlette adapter: what it refuses before the SDK runs anything (dev mode)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inngest_app.app import create_app
from inngest_app.settings import Settings
from tests.apps import in_process

PING_ID = "inngest-app-ping"


@pytest.mark.parametrize(
    ("query", "body", "headers", "status", "code"),
    [
        ("?fnId=nope&stepId=step", b"{}", {}, 404, "function_not_found"),
        ("?stepId=step", b"{}", {}, 400, "query_param_missing"),
        (f"?fnId={PING_ID}&stepId=step", b"{not json", {}, 400, "body_invalid"),
        (f"?fnId={PING_ID}&stepId=step", b"[1, 2]", {}, 400, "body_invalid"),
        (
            f"?fnId={PING_ID}&stepId=step",
            b"{}",
            {"X-Inngest-Server-Kind": "cloud"},
            400,
            "server_kind_mismatch",
        ),
    ],
)
async def test_bad_requests_get_a_json_4xx(
    make_settings: Callable[..., Settings],
    query: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    async with in_process(create_app(make_settings())) as client:
        response = await client.post(f"/api/inngest{query}", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.json()["error"]


async def test_introspection_reports_dev_mode_and_functions(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings())
    async with in_process(app) as client:
        response = await client.get("/api/inngest")
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "dev"
    assert body["function_count"] == len(app.state.functions)
    assert response.headers["x-inngest-sdk"].startswith("inngest-py:v0.5")


async def test_other_methods_are_refused(make_settings: Callable[..., Settings]) -> None:
    async with in_process(create_app(make_settings())) as client:
        response = await client.delete("/api/inngest")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
