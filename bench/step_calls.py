"""The cost of one signed step call as a run's memoized steps grow: 0, 100, 500 (and 200, the
default slice of a query run).

Through the app's own pieces: a cloud-mode client from `inngest_app.client.build_client` (which
applies the SDK patches of `inngest_app/sdk_memos.py` and `sdk_json.py`) served by
`inngest_app.serve.inngest_routes`, over ASGI in this process (no sockets: the figure is the
adapter's and the SDK's cost), the start-up heap frozen as `inngest_app.main` freezes it. Each
call is freshly signed, replays n memoized steps and runs step n+1 (206 StepRun). The baseline
is the same app with the SDK's own functions put back, measured in alternating rounds in the
same run. Wall and CPU time (this process's) are both reported: on a shared machine CPU time
moves less. The ratio of interest is cost(500) / cost(0), target <= 3.

Five kinds of memo (`_output`): `plain` (`{"page": i, "rows": 20}`, the issue's measure), and
what real step outputs also hold: floats, integral floats, text in other scripts, and `rich`
(all of them, an emoji, quotes, markup, a newline), so the figures also cover bodies the
canonical form must write as the SDK's `jcs` does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import statistics
import time
from typing import Any

import httpx
import inngest
from starlette.applications import Starlette

from inngest_app import sdk_memos
from inngest_app.client import build_client
from inngest_app.heap import freeze_startup_heap
from inngest_app.serve import inngest_routes
from inngest_app.settings import Settings
from inngest_app.testing.signing import cloud_headers, step_call

SIGNING_KEY = "signkey-prod-" + "d4" * 32
MEMOS = (0, 100, 200, 500)
ROUNDS = 7
CALLS = 40
FN = "steps"


def _app() -> tuple[Starlette, str]:
    settings = Settings(
        inngest_dev=False,
        inngest_signing_key=SIGNING_KEY,
        inngest_event_key="bench",
        inngest_serve_origin="http://bench",
        inngest_api_base_url="http://127.0.0.1:9",
        inngest_event_api_base_url="http://127.0.0.1:9",
    )
    client = build_client(settings)

    @client.create_function(fn_id=FN, trigger=inngest.TriggerEvent(event="bench/steps"))
    async def steps(ctx: inngest.Context) -> int:
        total = 0
        for i in range(max(MEMOS) + 1):

            async def one(i: int = i) -> dict[str, int]:
                return {"page": i, "rows": 20}

            total += (await ctx.step.run(f"fetch-page-{i}", one))["rows"]
        return total

    return Starlette(routes=inngest_routes(client, [steps])), f"{client.app_id}-{FN}"


PAYLOADS = ("plain", "floats", "integral", "text", "rich")


def _output(payload: str, i: int) -> dict[str, Any]:
    """Page i's output: `plain` ints; `floats` a non-integral float; `integral` an integral
    one (RFC 8785 writes it without `.0`); `text` other scripts; `rich` all of these and an
    emoji, quotes, markup and a newline."""
    output: dict[str, Any] = {"page": i, "rows": 20}
    if payload == "floats":
        output["score"] = i / 7
    elif payload == "integral":
        output["total"] = float(i)
    elif payload == "text":
        output["title"] = f"Réparer «{i}» 日本語のテスト"
    elif payload == "rich":
        output |= {
            "title": f"Fix 🐛 #{i} in café’s “parser” <b>&</b>\nnext line",
            "score": i / 7,
            "cost_usd": 0.0,
        }
    return output


def _body(memoized: int, payload: str = "plain") -> bytes:
    memos = {
        hashlib.sha1(f"fetch-page-{i}".encode()).hexdigest(): {"data": _output(payload, i)}  # noqa: S324
        for i in range(memoized)
    }
    event = {"name": "bench/steps", "data": {"query_id": "q"}, "id": "e1", "ts": 1}
    return step_call(event, run_id="run-1", steps=memos)


async def _per_call_ms(http: httpx.AsyncClient, fn_id: str, body: bytes) -> tuple[float, float]:
    """(wall, CPU) ms per call over CALLS calls (CPU time: this process's, less exposed than
    wall time to what else the machine runs)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(CALLS):
        headers = cloud_headers(body, SIGNING_KEY, int(time.time()))
        response = await http.post(
            f"/api/inngest?fnId={fn_id}&stepId=step", content=body, headers=headers
        )
        if response.status_code != 206:
            raise RuntimeError(f"unexpected {response.status_code}: {response.text[:300]}")
    wall = (time.perf_counter() - started) * 1000 / CALLS
    return wall, (time.process_time() - cpu_started) * 1000 / CALLS


async def measure() -> dict[str, Any]:
    """Median ms per call at each memo count and payload, patched and with the SDK's own
    functions."""
    app, fn_id = _app()
    freeze_startup_heap()  # as `inngest_app.main` does once the app is built
    bodies = {(p, n): _body(n, p) for p in PAYLOADS for n in MEMOS}
    Samples = dict[tuple[str, int], list[tuple[float, float]]]
    samples: dict[str, Samples] = {"patched": {}, "sdk": {}}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        for body in bodies.values():  # warm-up
            await _per_call_ms(http, fn_id, body)
        for r in range(ROUNDS):
            for variant in ("sdk", "patched") if r % 2 else ("patched", "sdk"):
                if variant == "sdk":
                    sdk_memos.unpatch_step_memos()
                else:
                    sdk_memos.patch_step_memos()
                for key, body in bodies.items():
                    ms = await _per_call_ms(http, fn_id, body)
                    samples[variant].setdefault(key, []).append(ms)
    sdk_memos.patch_step_memos()
    report: dict[str, Any] = {}
    for payload in PAYLOADS:
        figures: dict[str, Any] = {}
        report[payload] = figures
        for clock, name in ((0, "wall"), (1, "cpu")):
            medians = {
                v: {n: statistics.median(x[clock] for x in d[(payload, n)]) for n in MEMOS}
                for v, d in samples.items()
            }
            figures[f"{name}_ms_per_signed_call"] = {
                v: {str(n): round(ms, 2) for n, ms in m.items()} for v, m in medians.items()
            }
            for n in (500, 200):
                figures[f"{name}_ratio_{n}_over_0"] = {
                    v: round(m[n] / m[0], 2) for v, m in medians.items()
                }
            figures[f"{name}_speedup_at_500"] = round(
                medians["sdk"][500] / medians["patched"][500], 1
            )
    report["target"] = (
        "plain: patched ratio_500_over_0 <= 3; the other payloads are reported (larger "
        "bodies, floats through the parser's hook; see docs/benchmarks.md)"
    )
    return report


def main() -> None:
    """Print the figures."""
    print(json.dumps(asyncio.run(measure()), indent=2))


if __name__ == "__main__":
    main()
