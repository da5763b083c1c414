"""Issue 9, point 6: no route reads more than its limit, however the body is sent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from inngest_app.app import create_app
from inngest_app.bodylimit import DEFAULT_MAX_BODY_BYTES, SDK_MAX_BODY_BYTES
from inngest_app.routes.stripe import MAX_BODY_BYTES as STRIPE_MAX_BODY_BYTES
from inngest_app.settings import Settings
from inngest_app.testing.live import serve_asgi

CHUNK = b"x" * (64 << 10)


@contextlib.asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[tuple[str, Any]]:
    app = create_app(settings)
    async with serve_asgi(app) as origin:
        yield origin, app.state.services.pool


async def raw_post(
    origin: str, path: str, *, headers: dict[str, str], send_bytes: int, chunked: bool
) -> tuple[int, dict[str, Any]]:
    """POST `send_bytes` of body (never finishing it) and read the answer: the server must
    answer without waiting for the rest."""
    url = urllib.parse.urlsplit(origin)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        head = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if chunked:
            head.append("Transfer-Encoding: chunked")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        sent = 0
        with contextlib.suppress(ConnectionError):  # the server may close as soon as it answers
            while sent < send_bytes:
                writer.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK)
                await writer.drain()
                sent += len(CHUNK)
        status_line = await reader.readline()
        response_headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            response_headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(response_headers["content-length"]))
        return int(status_line.split()[1]), json.loads(body)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
async def test_an_oversized_stripe_delivery_is_413_and_nothing_is_kept(
    make_settings: Callable[..., Settings], chunked: bool
) -> None:
    settings = make_settings(stripe_webhook_secret="whsec_" + "a" * 32)
    async with served(settings) as (origin, pool):
        # The Content-Length variant declares the truth only after the limit: a lying
        # (missing) length cannot slip past either.
        headers = {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"}
        if not chunked:
            headers["Content-Length"] = str(64 << 20)
        status, body = await raw_post(
            origin,
            "/api/stripe/webhook",
            headers=headers,
            send_bytes=STRIPE_MAX_BODY_BYTES + len(CHUNK),
            chunked=chunked,
        )
        assert status == 413 and body["code"] == "body_too_large"
        assert await pool.fetchval("select count(*) from stripe_deliveries") == 0


async def test_a_chunked_sdk_call_past_inngests_limit_is_413(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        inngest_dev=False,
        inngest_signing_key="signkey-test-" + "ab" * 32,
        inngest_event_key="event-key-1",
        inngest_serve_origin="http://127.0.0.1",
    )
    async with served(settings) as (origin, pool):
        path = "/api/inngest?fnId=inngest-app-ping&stepId=step"
        # signed-looking and fresh: only the body can show the signature is forged
        forged = f"t={int(time.time())}&s=" + "0" * 64
        signed = {"X-Inngest-Signature": forged, "X-Inngest-Server-Kind": "cloud"}
        status, body = await raw_post(
            origin, path, headers=signed, send_bytes=SDK_MAX_BODY_BYTES + len(CHUNK), chunked=True
        )
        assert status == 413 and body["code"] == "body_too_large"
        # Unsigned: refused before a byte of the body is read (none is sent here).
        status, body = await raw_post(
            origin,
            path,
            headers={"Content-Length": str(16 << 20), "X-Inngest-Server-Kind": "cloud"},
            send_bytes=0,
            chunked=False,
        )
        assert status == 401 and body["code"] == "sig_verification_failed"
        assert await pool.fetchval("select count(*) from pings") == 0


async def test_other_routes_take_small_bodies(make_settings: Callable[..., Settings]) -> None:
    async with served(make_settings(monitoring_api_key="admin-key-0123456789")) as (origin, pool):
        status, body = await raw_post(
            origin,
            "/api/queries/run",
            headers={"Authorization": "Bearer admin-key-0123456789"},
            send_bytes=DEFAULT_MAX_BODY_BYTES + len(CHUNK),
            chunked=True,
        )
        assert status == 413 and body["code"] == "body_too_large"
        assert await pool.fetchval("select count(*) from queries") == 0
