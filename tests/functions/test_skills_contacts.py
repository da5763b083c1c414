"""A user's clients and notification channels through the API, and a completion delivered to
loopback stand-ins: a webhook receiver and a Telegram Bot API (`TELEGRAM_API_URL`), offline."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inngest_app.routes.clients import MAX_CHANNELS, MAX_CLIENTS
from inngest_app.testing.live import serve_asgi
from tests.harness import Live, LiveFactory
from tests.skills.support import (
    ANTHROPIC_URL,
    BOT_TOKEN,
    fixture,
    message_ok,
    run_row,
    skill_settings,
    start_run,
    token,
)


@asynccontextmanager
async def stand_ins() -> AsyncIterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """One loopback server: `/hook` (a user's webhook) and `/bot<token>/sendMessage`."""
    received: list[tuple[str, dict[str, Any]]] = []

    async def receive(request: Request) -> JSONResponse:
        received.append((request.url.path, json.loads(await request.body())))
        if request.url.path.endswith("/sendMessage"):
            return JSONResponse(fixture("telegram.sendMessage.ok.json"))
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/hook", receive, methods=["POST"]),
            Route("/bot{token}/sendMessage", receive, methods=["POST"]),
        ]
    )
    async with serve_asgi(app) as url:
        yield url, received


async def post(live: Live, path: str, body: Any, user: str = "ada") -> Any:
    """POST `body` as JSON (a str is sent as it is: JSON no encoder would write)."""
    if isinstance(body, str):
        return await live.api.post(path, content=body.encode(), headers=token(user))
    return await live.api.post(path, json=body, headers=token(user))


async def test_a_completion_reaches_a_loopback_webhook_and_telegram_stand_in(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with stand_ins() as (origin, received):
        settings = skill_settings(
            tmp_path,
            telegram_bot_token=BOT_TOKEN,
            telegram_api_url=origin + "/",
            skill_webhooks_allow_private=True,
        )
        async with start_live(**settings) as live:
            live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
            client = await post(live, "/api/clients", {"slug": "acme", "name": "Acme Corp"})
            assert client.status_code == 201, client.text
            hook = await post(
                live, "/api/channels", {"channel": "webhook", "target": origin + "/hook"}
            )
            chat = await post(live, "/api/channels", {"channel": "telegram", "target": "123456789"})
            assert hook.status_code == chat.status_code == 201
            run_id = await start_run(live, user="ada", clientId=client.json()["id"])
            await live.executor.run_until_idle()
            assert (await run_row(live, run_id))["status"] == "completed"
            [notify] = live.executor.runs("notify-completion")
            assert notify.output["sent"] == 2, notify.output
            paths = sorted(path for path, _ in received)
            assert paths == [f"/bot{BOT_TOKEN}/sendMessage", "/hook"]
            by_path = dict(received)
            assert by_path["/hook"]["runId"] == run_id
            assert by_path[f"/bot{BOT_TOKEN}/sendMessage"]["chat_id"] == "123456789"
            assert "is ready" in by_path["/hook"]["text"]
            assert by_path[f"/bot{BOT_TOKEN}/sendMessage"]["text"] == by_path["/hook"]["text"]


async def test_clients_and_channels_are_the_callers_own(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        ada = (await post(live, "/api/clients", {"slug": "acme", "name": "Acme"})).json()
        renamed = await post(live, "/api/clients", {"slug": "acme", "name": "Acme Inc"})
        assert renamed.status_code == 201 and renamed.json()["id"] == ada["id"]
        await post(live, "/api/clients", {"slug": "globex", "name": "Globex"}, user="bob")
        mine = (await live.api.get("/api/clients", headers=token("ada"))).json()["clients"]
        assert [(c["slug"], c["name"]) for c in mine] == [("acme", "Acme Inc")]
        # someone else's id is a 404, and deletes nothing
        stolen = await live.api.delete(f"/api/clients/{ada['id']}", headers=token("bob"))
        assert stolen.status_code == 404 and stolen.json()["field"] == "id"
        assert await live.pool.fetchval("select count(*) from clients") == 2
        # a run that names the client keeps its history when the client goes
        run_id = await start_run(live, user="ada", clientId=ada["id"])
        gone = await live.api.delete(f"/api/clients/{ada['id']}", headers=token("ada"))
        assert gone.status_code == 204
        assert (await run_row(live, run_id))["client_id"] is None
        assert (
            await live.api.delete(f"/api/clients/{ada['id']}", headers=token("ada"))
        ).status_code == 404

        chat = (await post(live, "/api/channels", {"channel": "telegram", "target": "42"})).json()
        again = await post(live, "/api/channels", {"channel": "telegram", "target": "42"})
        assert again.json()["id"] == chat["id"]
        listed = (await live.api.get("/api/channels", headers=token("ada"))).json()["channels"]
        assert [(c["channel"], c["target"]) for c in listed] == [("telegram", "42")]
        assert (await live.api.get("/api/channels", headers=token("bob"))).json() == {
            "channels": []
        }
        stolen = await live.api.delete(f"/api/channels/{chat['id']}", headers=token("bob"))
        assert stolen.status_code == 404
        assert (
            await live.api.delete(f"/api/channels/{chat['id']}", headers=token("ada"))
        ).status_code == 204
        assert await live.pool.fetchval("select count(*) from user_channels") == 0


async def test_clients_and_channels_are_bounded_per_user(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    assert (MAX_CLIENTS, MAX_CHANNELS) == (100, 20)  # as the README says
    async with start_live(**skill_settings(tmp_path)) as live:
        for i in range(MAX_CLIENTS):
            response = await post(live, "/api/clients", {"slug": f"c{i}", "name": f"C {i}"})
            assert response.status_code == 201
        full = await post(live, "/api/clients", {"slug": "one-more", "name": "x"})
        assert full.status_code == 409 and full.json()["code"] == "limit_reached"
        renamed = await post(live, "/api/clients", {"slug": "c0", "name": "renamed"})
        assert renamed.status_code == 201
        others = await post(live, "/api/clients", {"slug": "one-more", "name": "x"}, user="bob")
        assert others.status_code == 201  # a limit per user
        assert await live.pool.fetchval("select count(*) from clients") == MAX_CLIENTS + 1
        for i in range(MAX_CHANNELS):
            response = await post(live, "/api/channels", {"channel": "telegram", "target": str(i)})
            assert response.status_code == 201
        full = await post(live, "/api/channels", {"channel": "telegram", "target": "999"})
        assert full.status_code == 409 and full.json()["code"] == "limit_reached"
        same = await post(live, "/api/channels", {"channel": "telegram", "target": "0"})
        assert same.status_code == 201  # an existing channel is not a new one
        assert await live.pool.fetchval("select count(*) from user_channels") == MAX_CHANNELS


@pytest.mark.parametrize(
    ("path", "body", "field", "code"),
    [
        (
            "/api/channels",
            {"channel": "webhook", "target": "http://127.0.0.1:9/x"},
            "target",
            "private_address",
        ),
        (
            "/api/channels",
            {"channel": "webhook", "target": "http://169.254.169.254/"},
            "target",
            "private_address",
        ),
        (
            "/api/channels",
            {"channel": "webhook", "target": "http://[::1]/x"},
            "target",
            "private_address",
        ),
        (
            "/api/channels",
            {"channel": "webhook", "target": "http://localhost:9/x"},
            "target",
            "private_address",
        ),
        (
            "/api/channels",
            {"channel": "webhook", "target": "file:///etc/passwd"},
            "target",
            "bad_scheme",
        ),
        (
            "/api/channels",
            {"channel": "webhook", "target": "https://u:p@hooks.test/x"},
            "target",
            "bad_url",
        ),
        (
            "/api/channels",
            {"channel": "telegram", "target": "not a chat"},
            "target",
            "invalid_target",
        ),
        ("/api/channels", {"channel": "sms", "target": "1"}, "channel", "invalid_body"),
        ("/api/channels", {"channel": "telegram", "target": "1\u0000"}, "target", "invalid_text"),
        ("/api/channels", {"channel": "telegram", "target": "x" * 2049}, "target", "invalid_body"),
        ("/api/channels", {"channel": "telegram", "target": 1}, "target", "invalid_body"),
        ("/api/clients", {"slug": "Bad Slug", "name": "x"}, "slug", "invalid_body"),
        ("/api/clients", {"slug": "ok", "name": ""}, "name", "invalid_body"),
        ("/api/clients", '{"slug": "ok", "name": "\\ud800"}', "name", "invalid_text"),
        ("/api/clients", {"slug": "ok", "name": "x", "extra": 1}, "extra", "invalid_body"),
        ("/api/clients", {"slug": "ok", "name": "x", "userId": "bob"}, "userId", "forbidden"),
    ],
)
async def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(
    start_live: LiveFactory, tmp_path: Path, path: str, body: Any, field: str, code: str
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        response = await post(live, path, body)
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["code"] == code and response.json()["field"] == field
        assert await live.pool.fetchval("select count(*) from user_channels") == 0
        assert await live.pool.fetchval("select count(*) from clients") == 0
        anonymous = await live.api.post(path, json={})
        assert anonymous.status_code == 401


async def test_an_admin_names_the_user_and_bad_paths_are_400(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    admin_key = "admin-key-0123456789"
    async with start_live(**skill_settings(tmp_path, monitoring_api_key=admin_key)) as live:
        admin = {"Authorization": f"Bearer {admin_key}"}
        nobody = await live.api.post("/api/clients", json={"slug": "a", "name": "A"}, headers=admin)
        assert nobody.status_code == 400 and nobody.json()["field"] == "userId"
        body = {"slug": "a", "name": "A", "userId": "ada"}
        made = await live.api.post("/api/clients", json=body, headers=admin)
        assert made.status_code == 201
        listed = await live.api.get("/api/clients?userId=ada", headers=admin)
        assert [c["id"] for c in listed.json()["clients"]] == [made.json()["id"]]
        mine = await live.api.get("/api/clients", headers=token("ada"))
        assert mine.json() == listed.json()
        peek = await live.api.get("/api/clients?userId=ada", headers=token("bob"))
        assert peek.status_code == 403
        bad = await live.api.delete("/api/channels/not-a-uuid", headers=token("ada"))
        assert bad.status_code == 400 and bad.json()["field"] == "id"
        big = await live.api.post(
            "/api/channels",
            content=b'{"channel": "telegram", "target": "1"' + b" " * 9000 + b"}",
            headers=token("ada"),
        )
        assert big.status_code == 413
        listed_json = await live.api.post("/api/channels", json=[1], headers=token("ada"))
        assert listed_json.status_code == 400
        assert await live.pool.fetchval("select count(*) from user_channels") == 0
