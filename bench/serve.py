"""Signed step invocations per second: our Starlette adapter vs the SDK's FastAPI adapter.

The same one-step function, the same cloud-mode client and signing key, served once through
`inngest_app.serve.inngest_routes` on Starlette and once through `inngest.fast_api.serve` on
FastAPI. Each invocation is a freshly signed POST that runs the step (206 StepRun). Both run in
this process over the ASGI interface (no sockets, so the figure is the adapters' and the SDK's
cost, not the network's), in alternating paired rounds (which one goes first alternates too);
the ratio reported is the median of the per-pair ratios, which cancels drift in machine load.

Also reports the test executor's end-to-end wall time for a 10-step function, when the
executor is available.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import fastapi
import httpx
import inngest
import inngest.fast_api
from starlette.applications import Starlette

from inngest_app.serve import inngest_routes
from inngest_app.testing.signing import cloud_headers, step_call

SIGNING_KEY = "signkey-prod-" + "ab" * 32
ROUNDS = 9
CALLS = 800
FN_ID = "bench-one-step"


def _client() -> inngest.Inngest:
    return inngest.Inngest(
        app_id="bench",
        is_production=True,
        signing_key=SIGNING_KEY,
        event_key="bench",
        api_base_url="http://127.0.0.1:9",
        event_api_base_url="http://127.0.0.1:9",
    )


def _function(client: inngest.Inngest) -> inngest.Function[Any]:
    @client.create_function(fn_id="one-step", trigger=inngest.TriggerEvent(event="bench/go"))
    async def one_step(ctx: inngest.Context) -> str:
        async def work() -> dict[str, int]:
            return {"n": 1}

        await ctx.step.run("work", work)
        return "done"

    return one_step


def _starlette_app() -> Starlette:
    client = _client()
    return Starlette(routes=inngest_routes(client, [_function(client)]))


def _fastapi_app() -> fastapi.FastAPI:
    client = _client()
    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, client, [_function(client)])
    return app


def _call(i: int) -> tuple[bytes, dict[str, str]]:
    body = step_call({"data": {}, "id": f"e{i}", "name": "bench/go", "ts": 1}, run_id=f"run{i}")
    return body, cloud_headers(body, SIGNING_KEY, int(time.time()))


async def _round(app: Any) -> float:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        started = time.perf_counter()
        for i in range(CALLS):
            body, headers = _call(i)
            response = await client.post(
                f"/api/inngest?fnId={FN_ID}&stepId=step", content=body, headers=headers
            )
            if response.status_code != 206:
                raise RuntimeError(f"unexpected {response.status_code}: {response.text}")
        return CALLS / (time.perf_counter() - started)


async def _adapters() -> dict[str, Any]:
    ours, theirs = _starlette_app(), _fastapi_app()
    await _round(ours)  # warm both (imports, caches)
    await _round(theirs)
    rates: dict[str, list[float]] = {"starlette": [], "fastapi": []}
    ratios = []
    for i in range(ROUNDS):
        if i % 2:
            theirs_rate, ours_rate = await _round(theirs), await _round(ours)
        else:
            ours_rate, theirs_rate = await _round(ours), await _round(theirs)
        rates["starlette"].append(ours_rate)
        rates["fastapi"].append(theirs_rate)
        ratios.append(ours_rate / theirs_rate)
    return {
        "signed_step_invocations_per_s_median": {
            k: round(statistics.median(v)) for k, v in rates.items()
        },
        "ratio_starlette_over_fastapi": round(statistics.median(ratios), 3),
        "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "target": ">= 0.95",
    }


def main() -> None:
    """Print the adapter comparison (and the executor figure when available)."""
    report = asyncio.run(_adapters())
    try:
        from bench.executor_e2e import ten_step_wall_time
    except ImportError:
        report["executor_10_step_function"] = "unavailable"
    else:
        report["executor_10_step_function"] = ten_step_wall_time()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
