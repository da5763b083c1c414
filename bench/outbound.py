"""The guarded outbound client's cost, against plain httpx in the same run.

A loopback server answers (a) a small JSON body and (b) a 1 MiB body. Each client makes the
same sequential requests (keep-alive on); the figure is requests/s and the guarded/plain ratio.
The guard adds a resolution and an address check per new connection, header checks per
request, and a counted streamed read; with keep-alive it should stay within ~20% of plain.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from inngest_app.outbound import GuardedClient
from inngest_app.testing.live import serve_asgi

REQUESTS = 300
ROUNDS = 5
BIG = b"x" * (1024 * 1024)


async def _small(request: Request) -> Response:
    return JSONResponse({"items": [{"id": i} for i in range(20)]})


async def _big(request: Request) -> Response:
    return Response(BIG, media_type="application/octet-stream")


async def _rate(send: Any, url: str, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        response = await send("GET", url)
        assert response.status_code == 200
    return count / (time.perf_counter() - started)


async def _measure() -> dict[str, Any]:
    app = Starlette(routes=[Route("/small", _small), Route("/big", _big)])
    report: dict[str, Any] = {}
    async with (
        serve_asgi(app) as base,
        httpx.AsyncClient(timeout=10) as plain,
        GuardedClient(allow_private=True, max_bytes=2 * len(BIG)) as guarded,
    ):
        for name, path, count in (("small", "/small", REQUESTS), ("1mib", "/big", REQUESTS // 10)):
            plain_rates, guarded_rates = [], []
            for _ in range(ROUNDS):
                plain_rates.append(await _rate(plain.request, base + path, count))
                guarded_rates.append(await _rate(guarded.request, base + path, count))
            p, g = statistics.median(plain_rates), statistics.median(guarded_rates)
            report[f"{name}_guarded_req_per_s"] = round(g, 1)
            report[f"{name}_baseline_plain_httpx_req_per_s"] = round(p, 1)
            report[f"{name}_ratio_vs_baseline"] = round(g / p, 2)
    return report


def main() -> None:
    """Print the figures."""
    print(json.dumps(asyncio.run(_measure()), indent=2))


if __name__ == "__main__":
    main()
