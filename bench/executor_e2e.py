"""The test executor end to end, over loopback HTTP.

1. Throughput: 1,000 two-step runs (3 calls each) through an app served by one uvicorn worker
   in its own process, with 1 unit in flight (the deterministic mode, the baseline) and with 16,
   in the same process run; runs/s, steps/s and the ratio. Steps that return at once measure
   the executor's and the SDK's own cost, which is CPU: one worker answers one call at a time
   whatever the executor sends, so the ratio there is ~1. Then 200 runs whose steps await 50 ms,
   as a call to an API would: that wait is what concurrent driving overlaps.
2. Wall time of a 10-step function, with a 1-step function as its baseline, so the per-step
   cost (11 signed calls vs 2) is visible separately from fixed costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import inngest
from starlette.applications import Starlette

from inngest_app.serve import inngest_routes
from inngest_app.testing import ManualClock, RealClock, TestExecutor
from inngest_app.testing.live import free_port, serve_asgi

SIGNING_KEY = "signkey-bench-" + "c3" * 32
REPEATS = 15
IN_FLIGHT = (1, 16)
SCENARIOS = (("instant_steps", 0.0, 1_000), ("steps_awaiting_50ms", 0.05, 200))


def bench_app() -> Starlette:
    """The two-step app (`uvicorn --factory bench.executor_e2e:bench_app`); its executor's URL
    and each step's simulated I/O come from BENCH_EXECUTOR_URL and BENCH_STEP_IO_S."""
    url, io_s = os.environ["BENCH_EXECUTOR_URL"], float(os.environ.get("BENCH_STEP_IO_S", "0"))
    client = inngest.Inngest(
        app_id="bench-e2e", is_production=False, api_base_url=url, event_api_base_url=url
    )

    async def step(n: int) -> int:
        if io_s:
            await asyncio.sleep(io_s)
        return n

    @client.create_function(fn_id="two-steps", trigger=inngest.TriggerEvent(event="b/two"))
    async def two_steps(ctx: inngest.Context) -> int:
        return await ctx.step.run("one", step, 1) + await ctx.step.run("two", step, 2)

    return Starlette(routes=inngest_routes(client, [two_steps]))


@contextlib.asynccontextmanager
async def _worker(executor_url: str, io_s: float) -> AsyncIterator[str]:
    """The bench app in one uvicorn worker of its own; yields its serve URL."""
    port = free_port()
    env = {**os.environ, "BENCH_EXECUTOR_URL": executor_url, "BENCH_STEP_IO_S": str(io_s)}
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench.executor_e2e:bench_app"]
    command += ["--port", str(port), "--workers", "1", "--log-level", "warning"]
    process = await asyncio.create_subprocess_exec(*command, env=env)
    url = f"http://127.0.0.1:{port}/api/inngest"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(400):
                with contextlib.suppress(httpx.TransportError):
                    await http.get(url, timeout=1)
                    break
                await asyncio.sleep(0.05)
        yield url
    finally:
        process.terminate()
        await process.wait()


async def _throughput(in_flight: int, io_s: float, runs_n: int) -> dict[str, float]:
    executor = TestExecutor(clock=RealClock(), max_in_flight=in_flight)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    async with executor, serve_asgi(executor.asgi) as executor_url:
        async with _worker(executor_url, io_s) as app_url:
            synced = await executor.sync(app_url)
            assert synced.status_code == 200, synced.text
            started, cpu = time.perf_counter(), time.process_time()
            await executor.send([{"name": "b/two", "data": {}} for _ in range(runs_n)])
            await executor.run_until_idle()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            runs = executor.runs("two-steps")
            assert len(runs) == runs_n and all(r.output == 3 for r in runs)
            steps = sum(len(r.step_names()) for r in runs)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    app_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return {
        "runs_per_s": round(runs_n / elapsed, 1),
        "steps_per_s": round(steps / elapsed, 1),
        "seconds": round(elapsed, 2),
        # CPU seconds: when they add up to less than the wall time on a machine with a core
        # free for each process, other load is what the figures measure
        "executor_cpu_s": round(cpu, 2),
        "app_worker_cpu_s_with_startup": round(app_cpu, 2),
    }


async def _throughputs() -> dict[str, Any]:
    report: dict[str, Any] = {"steps_per_run": 2, "uvicorn_workers": 1}
    for label, io_s, runs_n in SCENARIOS:
        figures: dict[str, Any] = {"runs": runs_n}
        for n in IN_FLIGHT:
            figures[f"in_flight_{n}"] = await _throughput(n, io_s, runs_n)
        one, many = figures["in_flight_1"], figures[f"in_flight_{IN_FLIGHT[-1]}"]
        figures["ratio_16_vs_1"] = round(many["runs_per_s"] / one["runs_per_s"], 2)
        report[label] = figures
    return report


def throughput() -> dict[str, Any]:
    """Runs/s and steps/s with 1 vs 16 units in flight, and their ratio."""
    return asyncio.run(_throughputs())


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

    print(json.dumps({"throughput": throughput(), "wall_time": ten_step_wall_time()}, indent=2))


if __name__ == "__main__":
    main()
