"""Stripe webhook: server-side latency and sustained deliveries/s, with nothing lost.

Three processes on loopback: the app under uvicorn, against a migrated embedded Postgres; the
project's test executor under uvicorn, whose event API receives what the webhook sends (no app is
synced with it, so no function runs compete for the machine) and counts every id it is sent; and
this one, the load generator (httpx). A pure-ASGI wrapper around the app times each
request inside the server (first byte received by the app → last byte of the answer), and serves
a bare `200` endpoint, `/__bench/ok`, as the baseline: same process, same uvicorn, same client,
same body, no work. Phases:

1. latency: deliveries one at a time (signed fixture events, each with its own id), then the same
   number of baseline calls, each side reported as p50/p99 of the server-side times;
2. throughput: many deliveries with several in flight, some of them redeliveries of an earlier
   event (same id, signed again, as Stripe does): deliveries/s over the wall time;
3. accounting: for every event id, the number of deliveries answered 200 equals the number of
   times the event API received that id; any difference is a lost or duplicated hand-over.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import socket
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx

from bench.pg import migrated_database
from inngest_app.stripe.signature import sign

SECRET = "whsec_bench_0123456789abcdef"
FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "fixtures"
    / "stripe"
    / "events"
    / "customer.subscription.updated.json"
)
WARMUP = 200
LATENCY_CALLS = 2000
THROUGHPUT_CALLS = 6000
CONCURRENCY = 16
REDELIVERY_EVERY = 10  # one delivery in ten repeats an earlier event

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TimingApp:
    """Times each HTTP request inside the server; serves the baseline and the samples."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.samples: dict[str, list[float]] = defaultdict(list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        if path == "/__bench/samples":
            body = json.dumps(self.samples).encode()
            self.samples = defaultdict(list)
            await _respond(send, body)
            return
        if path == "/__bench/ok":
            while (await receive()).get("more_body"):
                pass
            await _respond(send, b'{"received": true}')
            self.samples[path].append(time.perf_counter() - started)
            return

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.samples[path].append(time.perf_counter() - started)

        await self.app(scope, receive, timed_send)


async def _respond(send: Send, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _serve(dsn: str, event_api: str, port: int) -> None:
    """The server process: the real app, wrapped, under uvicorn."""
    import uvicorn

    from inngest_app.app import create_app
    from inngest_app.settings import Settings

    settings = Settings(
        inngest_dev=True,
        inngest_base_url=event_api,
        database_url=dsn,
        stripe_webhook_secret=SECRET,
        log_level="WARNING",  # one INFO line per delivery would measure the terminal
        db_pool_min=4,
        db_pool_max=10,
    )
    app = TimingApp(create_app(settings))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Load:
    """Signed deliveries of one fixture event, each with its own id (or a repeated one)."""

    def __init__(self) -> None:
        self.template = json.loads(FIXTURE.read_text())
        self.accepted: Counter[str] = Counter()
        self.refused: Counter[int] = Counter()
        self._n = 0

    def new_id(self) -> str:
        self._n += 1
        return f"evt_bench_{os.getpid()}_{self._n:07d}"

    def delivery(self, event_id: str) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({**self.template, "id": event_id})
        return body.encode(), {
            "Stripe-Signature": sign(body, SECRET),
            "Content-Type": "application/json",
        }

    async def deliver(self, client: httpx.AsyncClient, event_id: str, path: str) -> None:
        body, headers = self.delivery(event_id)
        response = await client.post(path, content=body, headers=headers)
        if response.status_code == 200:
            if path == "/api/stripe/webhook":
                self.accepted[event_id] += 1
        else:
            self.refused[response.status_code] += 1


async def _latency(client: httpx.AsyncClient, load: Load, path: str, calls: int) -> list[float]:
    await client.get("/__bench/samples")
    for _ in range(calls):
        await load.deliver(client, load.new_id(), path)
    samples: dict[str, list[float]] = (await client.get("/__bench/samples")).json()
    return samples.get(path, [])


async def _throughput(client: httpx.AsyncClient, load: Load) -> tuple[float, list[float], int]:
    await client.get("/__bench/samples")
    plan: list[str] = []
    for i in range(THROUGHPUT_CALLS):
        if i % REDELIVERY_EVERY == REDELIVERY_EVERY - 1:
            plan.append(plan[i // 2])  # an earlier event, delivered again
        else:
            plan.append(load.new_id())
    queue = iter(plan)

    async def worker() -> None:
        for event_id in queue:
            await load.deliver(client, event_id, "/api/stripe/webhook")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    wall = time.perf_counter() - started
    samples: dict[str, list[float]] = (await client.get("/__bench/samples")).json()
    redeliveries = len(plan) - len(set(plan))
    return THROUGHPUT_CALLS / wall, samples.get("/api/stripe/webhook", []), redeliveries


async def _wait_until_up(
    client: httpx.AsyncClient, url: str = "/healthz?ready=1", seconds: float = 30
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if (await client.get(url)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def _measure(dsn: str, event_api_url: str) -> None:
    port = _free_port()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(dsn, event_api_url, port), daemon=True
    )
    server.start()
    try:
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=30, limits=limits
        ) as client:
            await _wait_until_up(client)
            await _wait_until_up(client, f"{event_api_url}/health")
            load = Load()
            await _latency(client, load, "/api/stripe/webhook", WARMUP)
            await _latency(client, load, "/__bench/ok", WARMUP)
            hook = await _latency(client, load, "/api/stripe/webhook", LATENCY_CALLS)
            base = await _latency(client, load, "/__bench/ok", LATENCY_CALLS)
            rate, loaded, redeliveries = await _throughput(client, load)
            base_rate = await _baseline_rate(client, load)
            report = (await client.get(f"{event_api_url}/__bench/received")).json()
    finally:
        server.terminate()
        server.join(10)

    got: Counter[str] = Counter(report["received"])
    kept: list[str] = report["kept"]
    lost = sum(max(0, n - got.get(i, 0)) for i, n in load.accepted.items())
    extra = sum(max(0, got.get(i, 0) - load.accepted.get(i, 0)) for i in got)
    print(f"{os.cpu_count()} CPUs shared by the app, the executor, Postgres and the load generator")
    print(f"server-side latency, one delivery at a time ({LATENCY_CALLS} each, ms):")
    print(f"  webhook   p50 {_pct(hook, 0.5):6.2f}  p99 {_pct(hook, 0.99):6.2f}")
    print(f"  bare 200  p50 {_pct(base, 0.5):6.2f}  p99 {_pct(base, 0.99):6.2f}  (baseline)")
    print(f"  webhook cost over baseline at p50: {_pct(hook, 0.5) - _pct(base, 0.5):.2f} ms")
    print(f"sustained, {CONCURRENCY} in flight, {THROUGHPUT_CALLS} deliveries:")
    print(
        f"  webhook   {rate:8.0f} deliveries/s  (p50 {_pct(loaded, 0.5):.2f} ms, "
        f"p99 {_pct(loaded, 0.99):.2f} ms server-side, {redeliveries} redeliveries)"
    )
    print(f"  bare 200  {base_rate:8.0f} requests/s  (baseline; ratio {rate / base_rate:.2f})")
    print(
        f"accounting: {sum(load.accepted.values())} accepted, refused {dict(load.refused) or 0}, "
        f"event API received {sum(got.values())}: lost {lost}, extra {extra}"
    )
    print(f"  the executor kept {len(kept)} events under {len(set(kept))} distinct ids")
    print(f"target p50 < 5 ms: {'met' if _pct(hook, 0.5) < 5 else 'NOT met'}")


async def _baseline_rate(client: httpx.AsyncClient, load: Load) -> float:
    queue = iter(range(THROUGHPUT_CALLS))

    async def worker() -> None:
        for _ in queue:
            await load.deliver(client, "evt_baseline", "/__bench/ok")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return THROUGHPUT_CALLS / (time.perf_counter() - started)


class EventCounter:
    """Wraps the executor's ASGI app and counts every event id POSTed to its event API
    (redeliveries included, which the executor then drops by id)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.received: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/e/"):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        try:
            events = json.loads(body)
            for event in events if isinstance(events, list) else [events]:
                self.received[str(event.get("id"))] += 1
        except (ValueError, AttributeError):
            pass
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return {"type": "http.disconnect"}
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _serve_event_api(port: int) -> None:
    """The event API process: the test executor, counting what it receives."""
    import uvicorn

    from inngest_app.testing import TestExecutor

    # No app is synced with it: events are accepted (and deduplicated) but start no runs.
    executor = TestExecutor()
    counter = EventCounter(executor.asgi)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/__bench/received":
            kept = [e["id"] for e in executor.events]
            body = json.dumps({"received": counter.received, "kept": kept}).encode()
            await _respond(send, body)
            return
        await counter(scope, receive, send)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> None:
    """Run the benchmark and print its report."""
    port = _free_port()
    event_api = multiprocessing.get_context("spawn").Process(
        target=_serve_event_api, args=(port,), daemon=True
    )
    event_api.start()
    try:
        with migrated_database() as dsn:
            asyncio.run(_measure(dsn, f"http://127.0.0.1:{port}"))
    finally:
        event_api.terminate()
        event_api.join(10)
