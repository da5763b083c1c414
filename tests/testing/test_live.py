"""`serve_asgi`: a real server on a loopback port, lifespan on, stopped cleanly."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from inngest_app.testing.live import free_port, in_process, serve_asgi


def _hello_app(events: list[str]) -> Starlette:
    """An app answering "hello" at / whose lifespan notes start-up and shut-down in `events`."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    async def hello(_: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    return Starlette(routes=[Route("/", hello)], lifespan=lifespan)


async def test_the_app_is_served_with_its_lifespan_and_then_stopped() -> None:
    events: list[str] = []
    app = _hello_app(events)
    async with serve_asgi(app) as url, httpx.AsyncClient() as http:
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert (await http.get(url)).text == "hello"
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(url)


async def test_a_chosen_port_is_used() -> None:
    port = free_port()
    async with serve_asgi(Starlette(), port=port) as url:
        assert url == f"http://127.0.0.1:{port}"


async def test_in_process_runs_the_lifespan_without_a_socket() -> None:
    events: list[str] = []
    app = _hello_app(events)
    async with in_process(app) as client:
        assert (await client.get("/")).text == "hello" and events == ["startup"]
    assert events == ["startup", "shutdown"]
