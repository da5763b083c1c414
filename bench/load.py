"""Load figures of the whole stack: steps/s with 1 and 2 uvicorn workers, step latency, memory.

The stack of the soak suite (`tests/load/stack.py`): the app under `uvicorn --workers N`, the
project's executor with 16 calls in flight, a Postgres cluster of its own, loopback stand-ins.
For each worker count, the mixed workload of `tests/load/scenarios.py` (pings, Stripe payments and
subscription updates through the signed webhook, paged queries through the query API) at two
sizes, each checked for lost or doubled effects like the soak tests. Reported per run:

- steps/s: calls the executor made to the app (one step, or one function-body call, each) per
  second of wall time from the first event to the last run terminal; the 2/1-worker ratio;
- p50/p99 step latency: each call from request sent to answer read, as the executor sees it;
- peak RSS per worker (VmHWM) and the growth from the small to the large size;
- CPU seconds per process over the run (the executor + load generator in this process, each
  worker, Postgres), which says what bounds the throughput on this machine.

`python -m bench load` (sizes: `LOAD_BENCH_SIZES=500,2000`, workers: `LOAD_BENCH_WORKERS=1,2`).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import psutil

from tests.load.scenarios import Sizes, mixed_load
from tests.load.stack import Stack, start_stack


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def _postgres_cpu_s(stack: Stack) -> float:
    try:
        pid = int((stack.pg.data / "postmaster.pid").read_text().split()[0])
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except (OSError, ValueError, psutil.Error):
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.Error:
            continue
    return total


def _cpu(stack: Stack) -> dict[str, float]:
    me = psutil.Process().cpu_times()
    used = {"executor_and_load": me.user + me.system, "postgres": _postgres_cpu_s(stack)}
    for i, (_, seconds) in enumerate(sorted(stack.app.cpu_s().items())):
        used[f"worker_{i}"] = seconds
    return used


async def _one(stack: Stack, events: int) -> dict[str, Any]:
    sizes = Sizes.soak()
    first = len(stack.transport.samples)
    cpu_before = _cpu(stack)
    outcome = await mixed_load(stack, sizes, events=events)
    cpu_after = _cpu(stack)
    latencies = [s[1] for s in stack.transport.samples[first:]]
    if outcome.problems:
        raise AssertionError(f"load run lost or doubled effects: {outcome.problems}")
    wall = outcome.wall_s
    return {
        "events": outcome.events,
        "runs": outcome.runs,
        "steps": outcome.steps,
        "wall_s": round(wall, 1),
        "steps_per_s": round(outcome.steps_per_s, 1),
        "step_latency_ms": {
            "p50": round(_pct(latencies, 0.5), 1),
            "p99": round(_pct(latencies, 0.99), 1),
            "mean": round(statistics.fmean(latencies) * 1000, 1) if latencies else 0.0,
        },
        "peak_rss_mb_per_worker": [round(v, 1) for v in stack.app.peak_rss_mb().values()],
        "cpu_share": {
            k: round((cpu_after.get(k, 0.0) - cpu_before.get(k, 0.0)) / wall, 2) for k in cpu_after
        },
        "cpu_ms_per_step": {
            k: round((cpu_after.get(k, 0.0) - cpu_before.get(k, 0.0)) * 1000 / outcome.steps, 2)
            for k in cpu_after
        },
    }


async def _measure(workers: int, event_sizes: list[int]) -> dict[str, Any]:
    async with start_stack(workers=workers) as stack:
        await mixed_load(stack, Sizes.soak(), events=40)  # warm-up: imports, pools, JIT caches
        runs = [await _one(stack, n) for n in event_sizes]
    return {"workers": workers, "runs": runs}


def main() -> None:
    """Print the figures (JSON) and the ratios."""
    sizes = [int(n) for n in os.environ.get("LOAD_BENCH_SIZES", "500,2000").split(",")]
    worker_counts = [int(n) for n in os.environ.get("LOAD_BENCH_WORKERS", "1,2").split(",")]
    started = time.monotonic()
    results = [asyncio.run(_measure(w, sizes)) for w in worker_counts]
    by_workers = {r["workers"]: r["runs"] for r in results}
    summary: dict[str, Any] = {"results": results}
    if 1 in by_workers and 2 in by_workers:
        summary["ratio_2_over_1_workers_steps_per_s"] = [
            round(two["steps_per_s"] / one["steps_per_s"], 2)
            for one, two in zip(by_workers[1], by_workers[2], strict=True)
        ]
    for workers, runs in by_workers.items():
        if len(runs) >= 2:
            small, large = runs[0], runs[-1]
            summary[f"growth_{workers}w_{small['events']}_to_{large['events']}"] = {
                "steps_per_s": round(large["steps_per_s"] / small["steps_per_s"], 2),
                "p99_ms": round(
                    large["step_latency_ms"]["p99"] / max(small["step_latency_ms"]["p99"], 0.1),
                    2,
                ),
                "peak_rss_mb": [
                    round(b - a, 1)
                    for a, b in zip(
                        small["peak_rss_mb_per_worker"],
                        large["peak_rss_mb_per_worker"],
                        strict=False,
                    )
                ],
            }
    summary["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    summary["bench_wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(summary, indent=2))
    out = os.environ.get("LOAD_BENCH_OUT")
    if out:
        Path(out).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
