"""Issue 9, point 3: nobody but Inngest (or the operator) decides what URL the app registers."""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from inngest._internal import net, server_lib

from inngest_app.app import create_app
from inngest_app.cli.sync import _run as run_register
from inngest_app.cli.sync import register_app
from inngest_app.settings import Settings
from inngest_app.testing import TestExecutor
from inngest_app.testing.live import serve_asgi
from inngest_app.testing.signing import canonical_json, sign
from tests.harness import EVENT_KEY, SIGNING_KEY, LiveFactory

EVIL = "evil.example"


def signed(body: bytes = b"", key: str = SIGNING_KEY) -> dict[str, str]:
    return {"X-Inngest-Signature": sign(body, key, int(time.time()))}


def urls(executor: TestExecutor) -> set[str]:
    return {c["steps"]["step"]["runtime"]["url"] for c in executor.functions.values()}


@contextlib.asynccontextmanager
async def cloud_app(
    make_settings: Callable[..., Settings], **overrides: Any
) -> AsyncIterator[tuple[str, TestExecutor]]:
    """A cloud-mode app under uvicorn (no serve origin unless given) and the Inngest API."""
    executor = TestExecutor(signing_key=SIGNING_KEY, event_key=EVENT_KEY)
    async with serve_asgi(executor.asgi) as api:
        settings = make_settings(
            inngest_dev=False,
            inngest_signing_key=SIGNING_KEY,
            inngest_event_key=EVENT_KEY,
            inngest_api_base_url=api,
            inngest_event_api_base_url=api,
            **overrides,
        )
        async with serve_asgi(create_app(settings)) as origin:
            yield origin, executor


async def test_an_unsigned_put_with_a_forged_host_registers_nothing(
    start_live: LiveFactory,
) -> None:
    async with start_live(cloud=True) as live:
        before = urls(live.executor)
        registrations = len(live.executor.registrations)
        assert before and all(u.startswith(f"{live.app_url}/api/inngest") for u in before)
        unsigned = await live.api.put("/api/inngest", headers={"Host": EVIL})
        assert unsigned.status_code == 401, unsigned.text
        assert unsigned.json()["code"] == "sig_verification_failed"
        forged = await live.api.put(
            "/api/inngest",
            headers={"Host": EVIL, **signed(key="signkey-prod-" + "0f" * 32)},
        )
        assert forged.status_code == 401
        # Even Inngest's own signed PUT cannot be steered by the Host header it arrives with.
        resync = await live.api.put("/api/inngest", headers={"Host": EVIL, **signed()})
        assert resync.status_code == 200, resync.text
        assert urls(live.executor) == before
        assert len(live.executor.registrations) == registrations + 1
        assert not any(EVIL in json.dumps(r) for r in live.executor.registrations)


async def test_without_a_serve_origin_out_of_band_sync_is_refused(
    make_settings: Callable[..., Settings],
) -> None:
    async with cloud_app(make_settings) as (origin, executor), httpx.AsyncClient() as http:
        answer = await http.put(f"{origin}/api/inngest", headers={"Host": EVIL, **signed()})
        assert answer.status_code == 400 and answer.json()["code"] == "serve_origin_required"
        assert executor.registrations == []


async def test_signed_in_band_sync_answers_the_signed_configuration(
    make_settings: Callable[..., Settings],
) -> None:
    """What Inngest Cloud's dashboard sends: the URL is in the signed body, not a header."""
    public = "https://app.example.com/api/inngest"
    body = canonical_json({"url": public})
    headers = {"X-Inngest-Sync-Kind": "in_band", "X-Inngest-Server-Kind": "cloud"}
    async with cloud_app(make_settings) as (origin, executor), httpx.AsyncClient() as http:
        unsigned = await http.put(f"{origin}/api/inngest", content=body, headers=headers)
        assert unsigned.status_code == 401
        answer = await http.put(
            f"{origin}/api/inngest",
            content=body,
            headers={**headers, "Host": EVIL, **signed(body)},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-inngest-sync-kind"] == "in_band"
        config = answer.json()
        assert config["url"] == public
        assert config["inspection"]["authentication_succeeded"] is True
        fn_urls = {f["steps"]["step"]["runtime"]["url"] for f in config["functions"]}
        assert fn_urls and all(u.startswith(f"{public}?fnId=") for u in fn_urls)
        # the answer is signed, so Inngest can trust it came from us
        verified = net.validate_response_sig(
            body=answer.content,
            headers=net.normalize_headers(dict(answer.headers)),
            mode=server_lib.ServerKind.CLOUD,
            signing_key=SIGNING_KEY,
        )
        assert not isinstance(verified, Exception), verified
        assert executor.registrations == []  # in band: Inngest registers from the answer


async def test_trusted_proxy_headers_name_the_origin(
    make_settings: Callable[..., Settings],
) -> None:
    async with (
        cloud_app(make_settings, inngest_trust_proxy_headers=True) as (origin, executor),
        httpx.AsyncClient() as http,
    ):
        proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com"}
        answer = await http.put(f"{origin}/api/inngest", headers={**proxied, **signed()})
        assert answer.status_code == 200, answer.text
        assert {u.split("?")[0] for u in urls(executor)} == {"https://app.example.com/api/inngest"}


async def test_unsigned_sync_only_when_enabled(make_settings: Callable[..., Settings]) -> None:
    serve_origin = "https://app.example.com"
    async with (
        cloud_app(
            make_settings, inngest_allow_unsigned_sync=True, inngest_serve_origin=serve_origin
        ) as (origin, executor),
        httpx.AsyncClient() as http,
    ):
        answer = await http.put(f"{origin}/api/inngest", headers={"Host": EVIL})
        assert answer.status_code == 200, answer.text
        assert {u.split("?")[0] for u in urls(executor)} == {f"{serve_origin}/api/inngest"}


async def test_the_register_command_syncs_with_the_signing_key(
    make_settings: Callable[..., Settings],
) -> None:
    executor = TestExecutor(signing_key=SIGNING_KEY, event_key=EVENT_KEY)
    async with serve_asgi(executor.asgi) as api:
        settings = make_settings(
            inngest_dev=False,
            inngest_signing_key=SIGNING_KEY,
            inngest_event_key=EVENT_KEY,
            inngest_api_base_url=api,
            inngest_event_api_base_url=api,
            inngest_serve_origin="https://app.example.com",
        )
        done = await register_app(settings)
    assert done["url"] == "https://app.example.com/api/inngest" and done["functions"] > 0
    assert {u.split("?")[0] for u in urls(executor)} == {done["url"]}


async def test_the_register_command_fails_loudly_when_inngest_refuses(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    executor = TestExecutor(signing_key="signkey-test-" + "77" * 32, event_key=EVENT_KEY)
    async with serve_asgi(executor.asgi) as api:
        settings = make_settings(
            inngest_dev=False,
            inngest_signing_key=SIGNING_KEY,
            inngest_event_key=EVENT_KEY,
            inngest_api_base_url=api,
            inngest_event_api_base_url=api,
        )
        code = await run_register(
            argparse.Namespace(url="https://app.example.com/api/inngest"), settings
        )
    assert code == 1
    assert "invalid signing key" in capsys.readouterr().out
    assert executor.registrations == []


async def test_a_sync_inngest_refuses_is_not_a_200(make_settings: Callable[..., Settings]) -> None:
    async with (
        cloud_app(make_settings, inngest_serve_origin="https://app.example.com") as (
            origin,
            executor,
        ),
        httpx.AsyncClient() as http,
    ):
        executor.signing_key = "signkey-test-" + "77" * 32  # Inngest knows another key now
        answer = await http.put(f"{origin}/api/inngest", headers=signed(key=SIGNING_KEY))
        assert answer.status_code == 502 and "invalid signing key" in answer.text
        assert executor.registrations == []
