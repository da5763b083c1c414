"""The test executor: Inngest's side of the protocol, over real HTTP (see the package docstring).

Lifecycle of a run: an event (or `fire_cron`) creates a `Run` due now. `run_until_idle()` calls
every due run's function URL; the answer decides what comes next (memoize a step and call
again, sleep until a time, wait for an event, invoke another function, retry after a backoff,
finish or fail). With a `ManualClock`, when nothing is due, it moves the clock to the next due
time, so sleeps and retries take no real time in tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
import secrets
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inngest_app.testing.clock import Clock, ManualClock
from inngest_app.testing.expressions import evaluate
from inngest_app.testing.signing import canonical_json, hashed_signing_key, sign

logger = logging.getLogger(__name__)

DEFAULT_RETRIES = 4  # the platform's default when a function sets none
SYSTEM_PREFIX = "inngest/"
FAILED = "inngest/function.failed"
FINISHED = "inngest/function.finished"
CANCELLED = "inngest/function.cancelled"
INVOKED = "inngest/function.invoked"
CRON = "inngest/scheduled.timer"
TERMINAL = frozenset({"completed", "failed", "cancelled"})
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float | None) -> float | None:
    """Seconds in an Inngest duration (`"30s"`, `"1h30m"`, or milliseconds as a number)."""
    if text is None:
        return None
    if isinstance(text, int | float):
        return float(text) / 1000
    parts = _DURATION.findall(text)
    if not parts:
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(n) * _UNIT_S[unit] for n, unit in parts)


def parse_time(text: str) -> float:
    """Unix seconds of an ISO-8601 time (a trailing Z allowed)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def new_id() -> str:
    """A ULID-shaped identifier (time-ordered prefix, random suffix)."""
    return f"{int(time.time() * 1000):012X}{secrets.token_hex(7).upper()}"


@dataclass
class StepRecord:
    """One opcode the app reported for a run."""

    step_id: str
    name: str | None
    op: str
    attempt: int
    error: dict[str, Any] | None = None


@dataclass
class Run:
    """A function run and everything that happened to it."""

    run_id: str
    function_id: str
    event: dict[str, Any]
    status: str = "queued"  # queued|running|sleeping|waiting|invoking|retrying + TERMINAL
    steps: dict[str, Any] = field(default_factory=dict)
    stack: list[str] = field(default_factory=list)
    step_log: list[StepRecord] = field(default_factory=list)
    attempt: int = 0
    retries: int = 0  # failed attempts that were retried, over the whole run
    calls: int = 0
    output: Any = None
    error: dict[str, Any] | None = None
    due: float | None = None
    planned: list[str] = field(default_factory=list)
    disable_immediate: bool = False
    wait: dict[str, Any] | None = None  # {step_id, event, if}
    parent: tuple[str, str] | None = None  # (run id, step id) of an invoking run

    @property
    def done(self) -> bool:
        """Whether the run reached a terminal state."""
        return self.status in TERMINAL

    def step_names(self, op: str | None = "StepRun") -> list[str]:
        """User-facing ids of the steps reported with `op` (all ops when None), in order."""
        return [r.name or r.step_id for r in self.step_log if op is None or r.op == op]


class TestExecutor:
    """Inngest's executor and event API for one or more served apps.

    `signing_key` switches to cloud mode: outgoing calls are signed and registration must carry
    the hashed key. `event_key`, when set, is required on `/e/{key}`.
    """

    __test__ = False  # not a pytest class

    def __init__(
        self,
        *,
        signing_key: str | None = None,
        event_key: str | None = None,
        clock: Clock | None = None,
        http: httpx.AsyncClient | None = None,
        backoff: Callable[[int], float] | None = None,
    ) -> None:
        self.signing_key = signing_key
        self.event_key = event_key
        self.clock: Clock = clock or ManualClock()
        self._http = http
        self._owns_http = False
        self._backoff = backoff or (lambda attempt: 0.0)
        self.functions: dict[str, dict[str, Any]] = {}
        self.registrations: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self._seen_ids: set[str] = set()
        self._runs: dict[str, Run] = {}
        self._lock = asyncio.Lock()
        self.asgi = Starlette(
            routes=[
                Route("/fn/register", self._register, methods=["POST"]),
                Route("/e/{key}", self._ingest, methods=["POST"]),
                Route("/health", self._health, methods=["GET"]),
            ],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        yield
        await self.aclose()

    # --- the HTTP API the SDK talks to ----------------------------------------------------

    async def _health(self, _: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "kind": "inngest-app test executor"})

    async def _register(self, request: Request) -> JSONResponse:
        if self.signing_key is not None:
            # The spec keeps the "signkey-<env>-" prefix; SDK 0.5 sends the bare hash. Accept both.
            hashed = hashed_signing_key(self.signing_key)
            accepted = {f"Bearer {hashed}", f"Bearer {hashed.rsplit('-', 1)[-1]}"}
            if request.headers.get("authorization") not in accepted:
                return JSONResponse({"error": "invalid signing key"}, status_code=401)
        try:
            body = json.loads(await request.body())
            functions = body["functions"]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "malformed registration"}, status_code=400)
        app = body.get("appname") or body.get("appName")
        for fn_id in [k for k, v in self.functions.items() if v.get("_app") == app]:
            del self.functions[fn_id]
        for config in functions:
            self.functions[config["id"]] = {**config, "_app": app, "_url": body.get("url")}
        self.registrations.append(body)
        return JSONResponse({"ok": True, "modified": True})

    async def _ingest(self, request: Request) -> JSONResponse:
        if self.event_key is not None and request.path_params["key"] != self.event_key:
            return JSONResponse({"error": "unknown event key"}, status_code=401)
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        items = payload if isinstance(payload, list) else [payload]
        if not all(isinstance(e, dict) and isinstance(e.get("name"), str) for e in items):
            return JSONResponse({"error": "each event needs a name"}, status_code=400)
        if any(e["name"].startswith(SYSTEM_PREFIX) for e in items):
            return JSONResponse({"error": "inngest/ event names are reserved"}, status_code=400)
        ids = [self._accept(event) for event in items]
        return JSONResponse({"ids": ids, "status": 200})

    # --- the test API ---------------------------------------------------------------------

    async def sync(self, app_url: str) -> httpx.Response:
        """`PUT` the app's serve URL, so its SDK registers its functions here."""
        async with self._client() as http:
            return await http.put(app_url)

    async def send(self, events: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[str]:
        """Accept events as the event API would; return their ids."""
        items = [events] if isinstance(events, Mapping) else list(events)
        return [self._accept(dict(e)) for e in items]

    def runs(self, function_id: str | None = None, event_name: str | None = None) -> list[Run]:
        """Runs in creation order, filtered by function id (composite or bare suffix) or event."""
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
        """One run by id."""
        return self._runs[run_id]

    async def fire_cron(self, function_id: str) -> Run:
        """Start a run of a cron-triggered function now, as its schedule would."""
        fn_id, config = self._function(function_id)
        cron = next((t["cron"] for t in config["triggers"] if "cron" in t), None)
        if cron is None:
            raise ValueError(f"{fn_id} has no cron trigger")
        event = self._complete_event({"name": CRON, "data": {"cron": cron}})
        self.events.append(event)
        return self._start(fn_id, event)

    async def run_until_idle(self, *, advance_clock: bool = True, max_calls: int = 5000) -> None:
        """Call every due run until none is due. With `advance_clock` (and a ManualClock), move
        time to the next sleep, wait timeout or retry whenever nothing is due right now."""
        async with self._lock:
            calls = 0
            while True:
                due = self._due()
                if due:
                    for run in due:
                        self._wake(run)
                        await self._advance(run)
                        calls += 1
                    if calls > max_calls:
                        raise RuntimeError(f"runs did not settle within {max_calls} calls")
                    continue
                pending = [r.due for r in self._runs.values() if not r.done and r.due is not None]
                if not (advance_clock and pending and isinstance(self.clock, ManualClock)):
                    return
                self.clock.advance_to(min(pending))

    # --- events and runs ------------------------------------------------------------------

    def _complete_event(self, event: dict[str, Any]) -> dict[str, Any]:
        event = dict(event)
        event["id"] = event.get("id") or new_id()
        event.setdefault("data", {})
        event["ts"] = event.get("ts") or int(self.clock.now() * 1000)
        return event

    def _accept(self, event: dict[str, Any]) -> str:
        event = self._complete_event(event)
        if event["id"] in self._seen_ids:
            return str(event["id"])  # deduplicated: accepted, starts nothing
        self._seen_ids.add(event["id"])
        self.events.append(event)
        self._cancel_matching(event)
        self._resume_waiting(event)
        for fn_id, config in list(self.functions.items()):
            if self._triggers(config, event):
                self._start(fn_id, event)
        return str(event["id"])

    def _triggers(self, config: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
        for trigger in config.get("triggers", []):
            name = trigger.get("event")
            if name is None:
                continue
            if name == event["name"] or (
                name.endswith("*") and event["name"].startswith(name[:-1])
            ):
                expression = trigger.get("expression")
                if expression is None or evaluate(expression, {"event": event}):
                    return True
        return False

    def _function(self, function_id: str) -> tuple[str, dict[str, Any]]:
        for fn_id, config in self.functions.items():
            if fn_id == function_id or fn_id.endswith(f"-{function_id}"):
                return fn_id, config
        raise KeyError(f"no registered function {function_id!r}")

    def _start(
        self, fn_id: str, event: dict[str, Any], parent: tuple[str, str] | None = None
    ) -> Run:
        run = Run(
            run_id=new_id(), function_id=fn_id, event=event, due=self.clock.now(), parent=parent
        )
        self._runs[run.run_id] = run
        return run

    def _due(self) -> list[Run]:
        now = self.clock.now()
        return [r for r in self._runs.values() if not r.done and r.due is not None and r.due <= now]

    def _cancel_matching(self, event: Mapping[str, Any]) -> None:
        for run in list(self._runs.values()):
            if run.done:
                continue
            config = self.functions.get(run.function_id, {})
            for cancel in config.get("cancel") or []:
                if cancel.get("event") != event["name"]:
                    continue
                expression = cancel.get("if")
                env = {"event": run.event, "async": event}
                if expression is None or evaluate(expression, env):
                    self._finish(
                        run, "cancelled", error={"name": "Error", "message": "function cancelled"}
                    )
                    break

    def _resume_waiting(self, event: Mapping[str, Any]) -> None:
        for run in list(self._runs.values()):
            if run.status != "waiting" or run.wait is None or run.wait["event"] != event["name"]:
                continue
            expression = run.wait.get("if")
            if expression is None or evaluate(expression, {"event": run.event, "async": event}):
                self._memoize(run, run.wait["step_id"], dict(event))
                run.wait = None

    # --- driving a run --------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=60)
            self._owns_http = True
        return _Borrowed(self._http)  # type: ignore[return-value]

    async def aclose(self) -> None:
        """Close the HTTP client the executor opened for itself (an injected one stays open)."""
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    def _max_attempts(self, run: Run) -> int:
        config = self.functions.get(run.function_id, {})
        retries = config.get("steps", {}).get("step", {}).get("retries", {}).get("attempts")
        return (DEFAULT_RETRIES if retries is None else int(retries)) + 1

    def _url(self, run: Run, step_id: str) -> str:
        config = self.functions[run.function_id]
        url = str(config["steps"]["step"]["runtime"]["url"])
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        query["fnId"], query["stepId"] = run.function_id, step_id
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    async def _advance(self, run: Run) -> None:
        step_id = run.planned[0] if run.planned else "step"
        run.status, run.due = "running", None
        body = canonical_json(
            {
                "event": run.event,
                "events": [run.event],
                "steps": run.steps,
                "ctx": {
                    "run_id": run.run_id,
                    "attempt": run.attempt,
                    "max_attempts": self._max_attempts(run),
                    "disable_immediate_execution": run.disable_immediate,
                    "use_api": False,
                    "stack": {"stack": list(run.stack), "current": len(run.stack)},
                },
                "use_api": False,
                "version": 2,
            }
        )
        headers = {
            "Content-Type": "application/json",
            "X-Inngest-Server-Kind": "cloud" if self.signing_key else "dev",
        }
        if self.signing_key:
            headers["X-Inngest-Signature"] = sign(body, self.signing_key, int(time.time()))
        run.calls += 1
        try:
            async with self._client() as http:
                response = await http.post(self._url(run, step_id), content=body, headers=headers)
        except httpx.TransportError as exc:
            self._function_error(
                run,
                {"name": type(exc).__name__, "message": str(exc)},
                no_retry=False,
                retry_after=None,
            )
            return
        status, payload, response_headers = await _unwrap(response)
        if status == 200:
            self._finish(run, "completed", output=payload)
        elif status == 206 and isinstance(payload, list):
            for op in payload:
                self._apply(run, op, response_headers, targeted=step_id != "step")
            if run.status == "running":
                run.status, run.due = "queued", self.clock.now()
        elif status in (400, 500) and isinstance(payload, dict) and "message" in payload:
            self._function_error(
                run,
                payload,
                no_retry=response_headers.get("x-inngest-no-retry") == "true",
                retry_after=response_headers.get("retry-after"),
            )
        else:
            self._finish(
                run,
                "failed",
                error={
                    "name": "ExecutorError",
                    "message": f"app refused the call: HTTP {status} {str(payload)[:200]}",
                },
            )

    def _apply(
        self, run: Run, op: dict[str, Any], headers: Mapping[str, str], *, targeted: bool
    ) -> None:
        kind, step_id = op.get("op"), op.get("id", "")
        run.step_log.append(
            StepRecord(
                step_id=step_id,
                name=op.get("displayName") or op.get("name"),
                op=str(kind),
                attempt=run.attempt,
                error=op.get("error"),
            )
        )
        if targeted and run.planned and run.planned[0] == step_id and kind != "StepError":
            run.planned.pop(0)
        if kind == "StepRun":
            self._memoize(run, step_id, {"data": op.get("data")})
        elif kind == "StepFailed":
            self._memoize(run, step_id, {"error": op.get("error")})
        elif kind == "StepError":
            run.attempt += 1
            no_retry = headers.get("x-inngest-no-retry") == "true"
            if no_retry or run.attempt >= self._max_attempts(run):
                if targeted and run.planned and run.planned[0] == step_id:
                    run.planned.pop(0)
                self._memoize(run, step_id, {"error": op.get("error")})
            else:
                run.retries += 1
                run.status = "retrying"
                run.due = self._retry_at(run, headers.get("retry-after"))
        elif kind == "StepPlanned":
            if step_id not in run.planned:
                run.planned.append(step_id)
            run.disable_immediate = True
        elif kind == "Sleep":
            run.status, run.due = "sleeping", parse_time(op["name"])
            run.wait = {"step_id": step_id, "event": None}
        elif kind == "WaitForEvent":
            opts = op.get("opts") or {}
            timeout = parse_duration(opts.get("timeout"))
            run.status = "waiting"
            run.due = None if timeout is None else self.clock.now() + timeout
            run.wait = {"step_id": step_id, "event": op.get("name"), "if": opts.get("if")}
        elif kind == "InvokeFunction":
            opts = op.get("opts") or {}
            payload = opts.get("payload") or {}
            target, _ = self._function(opts["function_id"])
            event = self._complete_event({"name": INVOKED, "data": payload.get("data") or {}})
            run.status, run.due = "invoking", None
            self._start(target, event, parent=(run.run_id, step_id))
        else:
            self._finish(
                run,
                "failed",
                error={"name": "ExecutorError", "message": f"unsupported opcode {kind!r}"},
            )

    def _wake(self, run: Run) -> None:
        """A sleep that is over, or a wait that timed out, is memoized as null."""
        if run.status in ("sleeping", "waiting") and run.wait is not None:
            step_id, run.wait = run.wait["step_id"], None
            self._memoize(run, step_id, None)

    def _memoize(self, run: Run, step_id: str, value: Any) -> None:
        run.steps[step_id] = value
        run.stack.append(step_id)
        run.attempt = 0
        run.status, run.due = "queued", self.clock.now()

    def _retry_at(self, run: Run, retry_after: str | None) -> float:
        now = self.clock.now()
        at = now + self._backoff(run.attempt)
        if retry_after:
            try:
                at = max(at, now + float(retry_after))
            except ValueError:
                at = max(at, parse_time(retry_after))
        return at

    def _function_error(
        self, run: Run, error: dict[str, Any], *, no_retry: bool, retry_after: str | None
    ) -> None:
        run.step_log.append(
            StepRecord(step_id="", name=None, op="FunctionError", attempt=run.attempt, error=error)
        )
        run.attempt += 1
        if no_retry or run.attempt >= self._max_attempts(run):
            self._finish(run, "failed", error=error)
            return
        run.retries += 1
        run.status, run.due = "retrying", self._retry_at(run, retry_after)

    def _finish(
        self, run: Run, status: str, *, output: Any = None, error: dict[str, Any] | None = None
    ) -> None:
        run.status, run.due, run.output, run.error = status, None, output, error
        run.planned.clear()
        if run.parent is not None:
            parent = self._runs.get(run.parent[0])
            if parent is not None and not parent.done:
                memo = {"data": output} if status == "completed" else {"error": error}
                self._memoize(parent, run.parent[1], memo)
        if (
            str(run.event.get("name", "")).startswith(SYSTEM_PREFIX)
            and run.event["name"] != INVOKED
            and run.event["name"] != CRON
        ):
            return  # no system events about handlers of system events: no feedback loops
        base = {"function_id": run.function_id, "run_id": run.run_id, "event": run.event}
        if status == "failed":
            self._emit(FAILED, {**base, "error": error})
        elif status == "cancelled":
            self._emit(CANCELLED, {**base, "error": error})
        finished = {**base, "result": output} if status == "completed" else {**base, "error": error}
        self._emit(FINISHED, finished)

    def _emit(self, name: str, data: dict[str, Any]) -> None:
        self._accept({"name": name, "data": data})


class _Borrowed:
    """An injected client used as a context manager without closing it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def __aenter__(self) -> httpx.AsyncClient:
        return self._client

    async def __aexit__(self, *_: object) -> None:
        return None


async def _unwrap(response: httpx.Response) -> tuple[int, Any, dict[str, str]]:
    """Status, decoded body and lower-cased headers; a streamed (201) answer is unwrapped."""
    headers = {k.lower(): v for k, v in response.headers.items()}
    try:
        payload = response.json()
    except ValueError:
        return response.status_code, response.text, headers
    if response.status_code == 201 and isinstance(payload, dict) and "status" in payload:
        inner = {k.lower(): v for k, v in (payload.get("headers") or {}).items()}
        body = payload.get("body")
        try:
            body = json.loads(body) if isinstance(body, str) else body
        except ValueError:
            pass
        return int(payload["status"]), body, inner
    return response.status_code, payload, headers
