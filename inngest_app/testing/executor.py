"""`TestExecutor`: Inngest's side of the protocol over real HTTP, for tests and offline dev.

It serves, on one origin like the Dev Server on :8288, the API the SDK calls (`POST
/fn/register`, `POST /e/{key}`) and a read-only slice of the REST API (`GET
/v1/events/{id}/runs`, `GET /v1/runs/{id}`), and drives runs by calling the served app. See the
package docstring for what is emulated and what is not. In a test:

    executor = TestExecutor(clock=ManualClock())
    async with executor, serve_asgi(executor.asgi) as executor_url:
        client = inngest.Inngest(app_id="app", is_production=False,
                                 api_base_url=executor_url, event_api_base_url=executor_url)
        async with serve_asgi(make_app(client)) as app_url:
            await executor.sync(f"{app_url}/api/inngest")
            [event_id] = await executor.send({"name": "app/ping", "data": {}})
            run = await executor.wait_for(lambda r: r.event["id"] == event_id)
            assert run.status == "completed", run.error
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inngest_app.testing import rest, viewer
from inngest_app.testing.clock import Backoff, Clock, ManualClock, default_backoff
from inngest_app.testing.engine import DEFAULT_MAX_IN_FLIGHT, Engine
from inngest_app.testing.events import check_event, complete_event
from inngest_app.testing.limits import Limits, event_refusal
from inngest_app.testing.runs import (
    SCHEDULED_TIMER,
    Run,
    RunStatus,
    parse_duration,
)
from inngest_app.testing.signing import accepted_authorizations, sign

__all__ = ["TestExecutor", "parse_duration"]

logger = logging.getLogger(__name__)


class TestExecutor(Engine):
    """Inngest's executor and event API for one or more served apps.

    `signing_key` switches to cloud mode: calls are signed (`X-Inngest-Signature`) and the
    registration must carry the hashed key. `event_key`, when set, is required on `/e/{key}`.
    `limits` are Inngest's platform limits (`limits.py`; Inngest Cloud's by default), lowered by
    tests. `backoff(attempt)` is the delay before a retry (default: none on a `ManualClock`,
    exponential otherwise); `Retry-After` overrides it. `max_in_flight` bounds the calls under
    way at once (each of a different run): 1 performs units one at a time, deterministically,
    the default on a `ManualClock`; 16 by default on any other clock (offline mode).
    """

    __test__ = False  # not a pytest class

    def __init__(
        self,
        *,
        signing_key: str | None = None,
        event_key: str | None = None,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        http: httpx.AsyncClient | None = None,
        call_timeout_s: float = 60.0,
        max_in_flight: int | None = None,
        limits: Limits | None = None,
    ) -> None:
        clock = clock or ManualClock()
        if max_in_flight is None:
            max_in_flight = 1 if isinstance(clock, ManualClock) else DEFAULT_MAX_IN_FLIGHT
        super().__init__(
            signing_key=signing_key,
            clock=clock,
            backoff=backoff or default_backoff(clock),
            http=http,
            call_timeout_s=call_timeout_s,
            max_in_flight=max_in_flight,
            limits=limits,
        )
        self.event_key = event_key
        self._lock = asyncio.Lock()
        self.asgi = Starlette(
            routes=[
                Route("/fn/register", self._register, methods=["POST"]),
                Route("/e/{key}", self._ingest, methods=["POST"]),
                *rest.routes(self),  # GET /v1/runs/{id}, /v1/events/{id}/runs
                Route("/health", self._health, methods=["GET"]),
                *viewer.routes(self),  # GET /: the run viewer
            ],
            lifespan=self._lifespan,
        )

    async def __aenter__(self) -> TestExecutor:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        yield
        await self.aclose()

    # --- the HTTP API the SDK talks to --------------------------------------------------------

    async def _health(self, _: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "kind": "inngest-app test executor"})

    async def _register(self, request: Request) -> JSONResponse:
        if self.signing_key is not None and (
            request.headers.get("authorization") not in accepted_authorizations(self.signing_key)
        ):
            return JSONResponse({"error": "invalid signing key"}, status_code=401)
        try:
            self.registry.register(json.loads(await request.body()))
        except (ValueError, AttributeError) as exc:
            return JSONResponse({"error": f"invalid registration: {exc}"}, status_code=400)
        return JSONResponse({"ok": True, "modified": True})

    async def _ingest(self, request: Request) -> JSONResponse:
        key = request.path_params["key"]
        if self.event_key is not None and not hmac.compare_digest(key, self.event_key):
            return JSONResponse({"error": "event key not found", "status": 401}, status_code=401)
        try:
            payload = json.loads(await request.body())
            items = payload if isinstance(payload, list) else [payload]
            for event in items:
                check_event(event)
        except ValueError as exc:
            return JSONResponse({"error": str(exc), "status": 400}, status_code=400)
        for event in items:  # all or nothing, as the event API takes a batch
            if (too_large := event_refusal(event, self.guard.limits)) is not None:
                return JSONResponse({"error": too_large, "status": 413}, status_code=413)
        seed = request.headers.get("x-inngest-event-id-seed")
        ids = [self.accept(event, seed=seed, index=i) for i, event in enumerate(items)]
        return JSONResponse({"ids": ids, "status": 200})

    # --- the test API -----------------------------------------------------------------------

    async def sync(self, app_url: str) -> httpx.Response:
        """`PUT` the app's serve URL, so its SDK registers its functions here; its answer.
        With a signing key the PUT is signed, as Inngest Cloud signs the syncs it starts."""
        headers = {}
        if self.signing_key is not None:
            headers = {"X-Inngest-Signature": sign(b"", self.signing_key, int(time.time()))}
        return await self._client().put(app_url, headers=headers, timeout=30)

    async def send(
        self, events: Mapping[str, Any] | Iterable[Mapping[str, Any]], *, internal: bool = False
    ) -> list[str]:
        """Accept events as `POST /e/{key}` would; return their ids.

        `internal=True` lets a test send reserved `inngest/` events (e.g. to start a failure
        handler directly)."""
        items = [events] if isinstance(events, Mapping) else list(events)
        for event in items:
            check_event(event, internal=internal)
            if not internal and (too_large := event_refusal(event, self.guard.limits)):
                raise ValueError(too_large)
        return [self.accept(event, internal=internal) for event in items]

    def runs(self, function_id: str | None = None, event_name: str | None = None) -> list[Run]:
        """Runs in creation order, filtered by function id (composite, or the bare `<fn>`
        suffix) and by the name of the triggering event. Events that flow control skipped
        (rate limit, idempotency, singleton) are here as runs in status "skipped"."""
        return [
            run
            for run in self._runs.values()
            if (
                function_id is None
                or run.function_id == function_id
                or run.function_id.endswith(f"-{function_id}")
            )
            and (event_name is None or run.event.get("name") == event_name)
        ]

    def run(self, run_id: str) -> Run:
        """One run by id (`KeyError` if unknown)."""
        return self._runs[run_id]

    async def fire_cron(self, function_id: str) -> Run:
        """Start a run of a cron-triggered function now, as its schedule would: the event is
        `inngest/scheduled.timer` with `data = {"cron": <schedule>}`."""
        fn_id = self.registry.resolve(function_id)
        cron = self.registry.cron(fn_id)
        if cron is None:
            raise ValueError(f"{fn_id} has no cron trigger")
        now = self.clock.now()
        event = complete_event(
            {"name": SCHEDULED_TIMER, "data": {"cron": cron}}, now_ms=int(now * 1000)
        )
        self.events.append(event)
        return self.schedule(fn_id, [event])

    async def run_until_idle(self, *, advance_clock: bool = True, max_calls: int = 10_000) -> int:
        """Perform all due work; return the number of calls made to apps (up to
        `max_in_flight` at once; it returns once none is in flight).

        With `advance_clock` (and a `ManualClock`), whenever nothing is due it moves the clock
        to the next sleep end, wait or invoke timeout, or retry, and goes on until no run has
        anything scheduled. `advance_clock=False` stops at the first thing in the future, so a
        test can look at a sleeping or waiting run mid-flight."""
        async with self._lock:
            return await self.drive(advance_clock=advance_clock, max_calls=max_calls)

    async def wait_for(
        self,
        target: str | Callable[[Run], bool],
        *,
        status: RunStatus | None = None,
        # A budget checked between calls, never by cancelling one: a call cut off mid-flight
        # would strand its run, which `asyncio.timeout()` around this method could do.
        timeout: float = 10.0,  # noqa: ASYNC109
        advance_clock: bool = True,
    ) -> Run:
        """Drive runs until the run `target` (a run id, or the first run matching a predicate)
        reaches `status` (any terminal status when None), and return it.

        It stops as soon as the status is reached, before the clock moves on, so waiting for
        "sleeping" or "waiting" works with `advance_clock` too. `timeout` is in real seconds;
        `TimeoutError` names every run's status."""
        if isinstance(target, str) and target not in self._runs:
            raise KeyError(f"no run {target!r}")

        def found() -> Run | None:
            candidates = (
                [self._runs[target]]
                if isinstance(target, str)
                else [r for r in list(self._runs.values()) if target(r)]
            )
            reached = [r for r in candidates if (r.done if status is None else r.status == status)]
            return reached[0] if reached else None

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            async with self._lock:
                await self.drive(
                    advance_clock=advance_clock,
                    max_calls=10_000,
                    stop=lambda: found() is not None,
                    deadline=deadline,
                )
            run = found()
            if run is not None:
                return run
            if loop.time() >= deadline:
                states = ", ".join(f"{r.function_id}={r.status}" for r in self._runs.values())
                raise TimeoutError(f"no run reached {status or 'an end'} in {timeout}s: {states}")
            await asyncio.sleep(0.01)

    async def run_forever(self, *, tick_s: float = 0.05, advance_clock: bool = False) -> None:
        """Keep performing due work until cancelled (offline mode, or a background task in a
        test that drives the executor through its HTTP API only)."""
        while True:
            try:
                await self.run_until_idle(advance_clock=advance_clock)
            except Exception:  # keep serving: one bad run must not stop the loop
                logger.exception("executor loop error")
            await asyncio.sleep(tick_s)
