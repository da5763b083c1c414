"""A loopback "attacker" (or internal) HTTP server that records every request reaching it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from inngest_app.testing.live import serve_asgi

INTERNAL_SECRET = "internal-secret-7f3a"  # what an internal service would leak if reached


@dataclass
class Attacker:
    """The server's base URL and port, and the headers of every request it received."""

    url: str = ""
    port: int = 0
    seen: list[dict[str, str]] = field(default_factory=list)

    def authorizations(self) -> list[str]:
        """Every Authorization header (or `key` credential) that reached the server."""
        return [h["authorization"] for h in self.seen if "authorization" in h]


@contextlib.asynccontextmanager
async def attacker_server() -> AsyncIterator[Attacker]:
    """Serve on 127.0.0.1: `/` answers rows a query would store, `/endless` never ends,
    `/trickle` sends a byte at a time, `/big` is 5000 bytes, `/redirect` points at the metadata
    address, `/html404` is a non-JSON error page holding a secret."""
    attacker = Attacker()

    def record(request: Request) -> None:
        attacker.seen.append({**request.headers, "url": str(request.url)})

    async def rows(request: Request) -> Response:
        record(request)
        return JSONResponse({"items": [{"id": "stolen-1", "secret": INTERNAL_SECRET}]})

    async def endless(request: Request) -> Response:
        record(request)

        async def chunks() -> AsyncIterator[bytes]:
            while True:
                yield b"x" * 65536
                await asyncio.sleep(0)

        return StreamingResponse(chunks(), media_type="application/json")

    async def trickle(request: Request) -> Response:
        record(request)

        async def chunks() -> AsyncIterator[bytes]:
            while True:  # each read well within the per-read timeout: only a total deadline ends it
                yield b" "
                await asyncio.sleep(0.02)

        return StreamingResponse(chunks(), media_type="application/json")

    async def big(request: Request) -> Response:
        record(request)
        return Response(b"y" * 5000)

    async def redirect(request: Request) -> Response:
        record(request)
        return Response(status_code=302, headers={"Location": "http://169.254.169.254/latest/"})

    async def html404(request: Request) -> Response:
        record(request)
        body = f"<html><body>Not here. Debug: {INTERNAL_SECRET}</body></html>"
        return Response(body, status_code=404, media_type="text/html")

    app = Starlette(
        routes=[
            Route("/", rows, methods=["GET", "POST"]),
            Route("/items", rows, methods=["GET", "POST"]),
            Route("/endless", endless),
            Route("/trickle", trickle),
            Route("/big", big),
            Route("/redirect", redirect),
            Route("/html404", html404),
        ]
    )
    async with serve_asgi(app) as url:
        attacker.url, attacker.port = url, int(url.rsplit(":", 1)[1])
        yield attacker
