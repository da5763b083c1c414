"""End-to-end wall time of a 10-step function through the test executor, over loopback HTTP.

Baseline in the same run: a 1-step function, so the per-step cost (11 signed calls vs 2) is
visible separately from fixed costs.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import inngest
from starlette.applications import Starlette

from inngest_app.serve import inngest_routes
from inngest_app.testing import ManualClock, TestExecutor
from inngest_app.testing.live import free_port, serve_asgi

SIGNING_KEY = "signkey-bench-" + "c3" * 32
REPEATS = 15


def _functions(client: inngest.Inngest) -> list[inngest.Function[Any]]:
    def make(n: int) -> inngest.Function[Any]:
        @client.create_function(fn_id=f"steps-{n}", trigger=inngest.TriggerEvent(event=f"b/{n}"))
        async def fn(ctx: inngest.Context) -> int:
            total = 0
            for i in range(n):

                async def step(i: int = i) -> int:
                    return i

                total += await ctx.step.run(f"step-{i}", step)
            return total

        return fn

    return [make(1), make(10)]


async def _measure() -> dict[str, Any]:
    executor = TestExecutor(signing_key=SIGNING_KEY, clock=ManualClock())
    async with serve_asgi(executor.asgi) as executor_url:
        client = inngest.Inngest(
            app_id="bench",
            is_production=True,
            signing_key=SIGNING_KEY,
            event_key="k",
            api_base_url=executor_url,
            event_api_base_url=executor_url,
        )
        # cloud mode registers the configured origin, never the request's Host
        port = free_port()
        routes = inngest_routes(client, _functions(client), serve_origin=f"http://127.0.0.1:{port}")
        app = Starlette(routes=routes)
        async with serve_asgi(app, port=port) as app_url:
            synced = await executor.sync(f"{app_url}/api/inngest")
            assert synced.status_code == 200, synced.text
            times: dict[int, list[float]] = {1: [], 10: []}
            for _ in range(REPEATS):
                for n in (1, 10):
                    started = time.perf_counter()
                    await executor.send({"name": f"b/{n}", "data": {}})
                    await executor.run_until_idle()
                    times[n].append(time.perf_counter() - started)
            runs = executor.runs("steps-10")
            assert all(r.status == "completed" and r.output == 45 for r in runs)
        await client._http_client._http_client.aclose()
    one, ten = statistics.median(times[1]), statistics.median(times[10])
    return {
        "ten_step_function_ms_median": round(ten * 1000, 1),
        "one_step_function_ms_median": round(one * 1000, 1),
        "per_extra_step_ms": round((ten - one) / 9 * 1000, 2),
        "signed_calls_per_10_step_run": runs[0].calls,
    }


def ten_step_wall_time() -> dict[str, Any]:
    """Measure and return the figures (used by bench/serve.py)."""
    return asyncio.run(_measure())


def main() -> None:
    """Print the figures."""
    import json

    print(json.dumps(ten_step_wall_time(), indent=2))


if __name__ == "__main__":
    main()
