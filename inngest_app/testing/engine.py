"""The executor's engine: registered functions, accepted events and the runs they drive.

A run is a set of units of work, each due at a time on the executor's clock: the function body
(called with `stepId=step`), planned steps (called with `stepId=<hashed id>`), and things the
executor resolves itself (a sleep's end, a wait's event or timeout, an invoked run's result).
`drive()` performs due units in order of due time (less `priority.run`), then run creation:
up to `max_in_flight` calls at once, each of a different run (the units of one run stay in
order), within the functions' concurrency limits; `max_in_flight=1` performs them one at a
time, deterministically. With a `ManualClock` it moves time to the next due unit, timer or
deadline when nothing is due now and no call is in flight.

Flow control (see `flow.py`) acts at three points: when an event triggers a function
(debounce, batching), when a run is scheduled (rate limit, idempotency, singleton), and when a
unit is due (throttle on a run's first call, concurrency on every call, timeouts).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from inngest_app.testing import calls
from inngest_app.testing.clock import Backoff, Clock, ManualClock
from inngest_app.testing.events import DEDUP_WINDOW_S, check_event, complete_event
from inngest_app.testing.flow import (
    IDEMPOTENCY_PERIOD_S,
    Bucket,
    Gcra,
    Windows,
    key_of,
    priority_of,
)
from inngest_app.testing.limits import Guard, LimitExceeded, Limits
from inngest_app.testing.registry import Registry
from inngest_app.testing.runs import (
    CANCELLED_ERROR,
    FUNCTION_CANCELLED,
    FUNCTION_FAILED,
    FUNCTION_FINISHED,
    FUNCTION_INVOKED,
    FUNCTION_UNIT,
    INVOKE_TIMEOUT_ERROR,
    QUIET_TRIGGERS,
    FlowReason,
    Pending,
    Run,
    RunStatus,
    StepRecord,
    memo_error,
    new_ulid,
    parse_duration,
    parse_time,
)

DEFAULT_MAX_IN_FLIGHT = 16


@dataclass
class _Held:
    """Events a debounce or a batch holds for a function (and key) until it fires."""

    fn_id: str
    events: list[dict[str, Any]]
    first_at: float
    due: float
    superseded: list[str] = field(default_factory=list)  # debounce: replaced event ids


class Engine:
    """Functions, events and runs; the HTTP surface and test API live in `TestExecutor`."""

    def __init__(
        self,
        *,
        signing_key: str | None,
        clock: Clock,
        backoff: Backoff,
        http: httpx.AsyncClient | None,
        call_timeout_s: float,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        limits: Limits | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.guard = Guard(limits or Limits())  # Inngest's platform limits (`limits.py`)
        self.signing_key = signing_key
        self.clock = clock
        self.backoff = backoff
        self.call_timeout_s = call_timeout_s
        self.max_in_flight = max_in_flight
        self.registry = Registry()
        self.events: list[dict[str, Any]] = []
        self._http = http
        self._owns_http = http is None
        self._runs: dict[str, Run] = {}
        self._active: dict[str, Run] = {}  # unfinished runs, in creation order
        # Calls to make, as a lazy heap of (due - priority, creation order, version, run id):
        # an entry whose version is not the run's current one is stale and skipped.
        self._queue: list[tuple[float, int, int, str]] = []
        self._versions: dict[str, int] = {}
        self._timed: dict[str, Run] = {}  # unfinished runs with a timer or a deadline
        self._seen: dict[str, float] = {}
        self._sequence = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._errors: list[BaseException] = []
        self._wake = asyncio.Event()  # set when a call lands or new work arrives
        self._slots: dict[Bucket, int] = {}  # concurrency slots in use
        self._throttle = Gcra()
        self._rate = Windows()
        self._idempotency: dict[tuple[str, str], float] = {}
        self._debounces: dict[tuple[str, str], _Held] = {}
        self._batches: dict[tuple[str, str], _Held] = {}

    @property
    def functions(self) -> dict[str, dict[str, Any]]:
        """Registered function configs by composite id, exactly as the SDK sent them."""
        return self.registry.functions

    @property
    def registrations(self) -> list[dict[str, Any]]:
        """Every registration body received, in order."""
        return self.registry.registrations

    @property
    def in_flight(self) -> int:
        """Calls to apps under way right now."""
        return len(self._tasks)

    # --- events -----------------------------------------------------------------------------

    def accept(
        self,
        event: Mapping[str, Any],
        *,
        internal: bool = False,
        seed: str | None = None,
        index: int = 0,
    ) -> str:
        """Take one event: cancel, resume and start runs; return its id.

        An id seen in the last 24 h is accepted again but starts nothing (deduplication).
        `seed` is the SDK's `X-Inngest-Event-Id-Seed` header: an event without an id gets one
        derived from it and its `index`, so a send the SDK retries is deduplicated too."""
        check_event(event, internal=internal)
        now = self.clock.now()
        completed = complete_event(event, now_ms=int(now * 1000), seed=seed, index=index)
        event_id = str(completed["id"])
        seen = self._seen.get(event_id)
        if seen is not None and now - seen < DEDUP_WINDOW_S:
            return event_id
        self._seen[event_id] = now
        self.events.append(completed)
        self._cancel_matching(completed)
        self._resume_waiting(completed)
        for fn_id in self.registry.triggered_by(completed):
            self._trigger(fn_id, completed)
        self._wake.set()
        return event_id

    def _cancel_matching(self, event: Mapping[str, Any]) -> None:
        now = self.clock.now()
        for run in list(self._active.values()):
            age_s = now - run.started_at
            if not run.done and self.registry.cancels(run.function_id, run.event, event, age_s):
                self._finish(run, "cancelled", error=dict(CANCELLED_ERROR))

    def _resume_waiting(self, event: Mapping[str, Any]) -> None:
        for run in list(self._active.values()):
            for item in list(run.pending.values()):
                if run.done or item.kind != "wait" or item.event != event["name"]:
                    continue
                env = {"event": run.event, "async": event}
                if item.condition and not self.registry.expression(item.condition).matches(env):
                    continue
                self._resolve(run, item.step_id, dict(event))

    def _trigger(self, fn_id: str, event: dict[str, Any]) -> None:
        """`event` triggers `fn_id`: debounce it, batch it, or schedule a run for it."""
        flow, now = self.registry.flow(fn_id), self.clock.now()
        if flow.debounce is not None:
            key = (fn_id, key_of(flow.debounce.key, event))
            held = self._debounces.get(key)
            if held is not None and held.due <= now:  # its timer fired before this event
                del self._debounces[key]
                self._release_debounce(held)
                held = None
            if held is None:
                held = self._debounces[key] = _Held(fn_id, [event], first_at=now, due=now)
            else:
                held.superseded.append(str(held.events[0]["id"]))
                held.events = [event]
            held.due = now + flow.debounce.period_s
            if flow.debounce.timeout_s is not None:
                held.due = min(held.due, held.first_at + flow.debounce.timeout_s)
            return
        batch = flow.batch
        if batch is not None and (
            batch.condition is None or batch.condition.matches({"event": event})
        ):
            key = (fn_id, key_of(batch.key, event))
            if (full := self._batches.get(key)) is not None and full.due <= now:
                del self._batches[key]
                self._release_batch(full, "timeout")
            held = self._batches.setdefault(
                key, _Held(fn_id, [], first_at=now, due=now + batch.timeout_s)
            )
            held.events.append(event)
            if len(held.events) >= batch.max_size:
                del self._batches[key]
                self._release_batch(held, "full")
            return
        self.schedule(fn_id, [event])

    def _release_batch(self, held: _Held, why: str) -> None:
        run = self.schedule(held.fn_id, held.events)
        run.note("batched", self.clock.now(), f"{len(held.events)} events ({why})")

    def _release_debounce(self, held: _Held) -> None:
        run = self.schedule(held.fn_id, held.events)
        superseded = ", ".join(held.superseded) or "none"
        run.note("debounced", self.clock.now(), f"superseded events: {superseded}")

    # --- runs -------------------------------------------------------------------------------

    def schedule(self, fn_id: str, events: list[dict[str, Any]]) -> Run:
        """A run of `fn_id` for `events` (the first is `ctx.event`), unless the rate limit,
        idempotency or singleton skip it: then a run in status "skipped" that records why."""
        flow, now, event = self.registry.flow(fn_id), self.clock.now(), events[0]
        if flow.rate_limit is not None:
            rate = flow.rate_limit
            if not self._rate.admit((fn_id, key_of(rate.key, event)), rate, now):
                return self._skip(
                    fn_id, events, "rate_limited", f"{rate.limit} per {rate.period_s:g}s"
                )
        if flow.idempotency is not None:
            key = (fn_id, flow.idempotency.key({"event": event}))
            seen = self._idempotency.get(key)
            if seen is not None and now - seen < IDEMPOTENCY_PERIOD_S:
                return self._skip(fn_id, events, "idempotency", f"key {key[1]!r} already ran")
            self._idempotency[key] = now
        if flow.singleton is not None:
            singleton_key = key_of(flow.singleton.key, event)
            running = [
                r
                for r in self._active.values()
                if r.function_id == fn_id and r.singleton_key == singleton_key and not r.done
            ]
            if running and flow.singleton.mode == "skip":
                return self._skip(
                    fn_id, events, "singleton", f"run {running[0].run_id} is unfinished"
                )
            for other in running:
                self._cancel(other, "singleton", "cancelled for a newer run")
        return self.start(fn_id, event, events=events)

    def cancel_run(self, run_id: str) -> Run:
        """Cancel an unfinished run as a cancel-on event would (`KeyError` if unknown; a
        finished run is left as it is)."""
        run = self._runs[run_id]
        if not run.done:
            self._finish(run, "cancelled", error=dict(CANCELLED_ERROR))
            self._wake.set()
        return run

    def rerun(self, run_id: str) -> Run:
        """A new run of the same function with the same event(s) (`KeyError` if unknown)."""
        old = self._runs[run_id]
        return self.start(old.function_id, old.event, events=old.events)

    def invoke(self, function_id: str, data: dict[str, Any]) -> Run:
        """Start `function_id` (composite or bare) with `data`, as `step.invoke` or the Dev
        Server's Invoke button would: an `inngest/function.invoked` event."""
        fn_id, now = self.registry.resolve(function_id), self.clock.now()
        event = complete_event(
            {"name": FUNCTION_INVOKED, "data": {**data, "_inngest": {"fn_id": fn_id}}},
            now_ms=int(now * 1000),
        )
        self._seen[event["id"]] = now
        self.events.append(event)
        return self.start(fn_id, event)

    def _skip(
        self, fn_id: str, events: list[dict[str, Any]], reason: FlowReason, detail: str
    ) -> Run:
        now = self.clock.now()
        self._sequence += 1
        run = Run(
            run_id=new_ulid(),
            function_id=fn_id,
            event=events[0],
            events=list(events),
            status="skipped",
            started_at=now,
            ended_at=now,
            order=self._sequence,
        )
        run.note(reason, now, detail)
        self._runs[run.run_id] = run
        return run

    def start(
        self,
        fn_id: str,
        event: dict[str, Any],
        parent: tuple[str, str] | None = None,
        *,
        events: list[dict[str, Any]] | None = None,
    ) -> Run:
        """A new run of `fn_id` for `event` (and a batch's `events`), due now."""
        now, flow = self.clock.now(), self.registry.flow(fn_id)
        self._sequence += 1
        run = Run(
            run_id=new_ulid(),
            function_id=fn_id,
            event=event,
            events=list(events or [event]),
            due=now,
            parent=parent,
            started_at=now,
            order=self._sequence,
            priority_s=priority_of(flow, event),
            buckets=tuple(limit.bucket(fn_id, event) for limit in flow.concurrency),
        )
        if flow.start_timeout_s is not None:
            run.start_deadline = now + flow.start_timeout_s
        if flow.singleton is not None:
            run.singleton_key = key_of(flow.singleton.key, event)
        self._runs[run.run_id] = run
        self._active[run.run_id] = run
        self.guard.started(run.run_id, run.events)
        self._track(run)
        self._wake.set()
        return run

    async def drive(
        self,
        *,
        advance_clock: bool,
        max_calls: int,
        stop: Callable[[], bool] | None = None,
        deadline: float | None = None,
    ) -> int:
        """Perform due units until none is due and no call is in flight, `stop()` holds, or
        the event loop's time reaches `deadline`; return the calls started."""
        made = 0
        loop = asyncio.get_running_loop()
        while True:
            self._raise_errors()
            if stop is not None and stop():
                break
            self._wake.clear()
            self._expire()
            made += self._launch_due(max_calls - made)
            if self._tasks:
                if stop is not None and stop():
                    break
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), remaining)
                continue
            upcoming = self._upcoming()
            if not (advance_clock and upcoming is not None and isinstance(self.clock, ManualClock)):
                break
            if upcoming <= self.clock.now():
                break  # nothing can make progress at this time (defensive)
            self.clock.advance_to(upcoming)
        self._raise_errors()
        return made

    def _raise_errors(self) -> None:
        if self._errors:
            error = self._errors.pop(0)
            self._errors.clear()
            raise error

    def _upcoming(self) -> float | None:
        """The earliest time at which something is scheduled (runs, debounces, batches)."""
        dues = [due for run in self._active.values() if (due := run.next_due) is not None]
        dues += [held.due for held in (*self._debounces.values(), *self._batches.values())]
        return min(dues, default=None)

    def _expire(self) -> None:
        now = self.clock.now()
        for key, held in list(self._debounces.items()):
            if held.due <= now:
                del self._debounces[key]
                self._release_debounce(held)
        for key, held in list(self._batches.items()):
            if held.due <= now:
                del self._batches[key]
                self._release_batch(held, "timeout")
        for run in list(self._timed.values()):
            if run.done:
                continue
            if run.start_deadline is not None and run.start_deadline <= now:
                self._cancel(run, "timed_out", "not started within timeouts.start")
                continue
            if run.finish_deadline is not None and run.finish_deadline <= now:
                self._cancel(run, "timed_out", "not finished within timeouts.finish")
                continue
            for item in list(run.pending.values()):
                if run.done or item.kind == "step" or item.due is None or item.due > now:
                    continue
                if item.kind == "invoke":
                    self._resolve(run, item.step_id, {"error": dict(INVOKE_TIMEOUT_ERROR)})
                else:  # a sleep that ended, or a wait that timed out
                    self._resolve(run, item.step_id, None)

    def _cancel(self, run: Run, reason: FlowReason, detail: str) -> None:
        run.note(reason, self.clock.now(), detail)
        self._finish(run, "cancelled", error=dict(CANCELLED_ERROR))

    @staticmethod
    def _next_unit(run: Run) -> tuple[float, Pending | None] | None:
        """The run's earliest scheduled unit: a planned step, or the function body."""
        best: tuple[float, Pending | None] | None = None
        for item in run.pending.values():
            if item.kind == "step" and item.due is not None:
                if best is None or item.due < best[0]:
                    best = (item.due, item)
        if not run.pending and run.due is not None:
            if best is None or run.due < best[0]:
                best = (run.due, None)
        return best

    def _track(self, run: Run) -> None:
        """Queue the run's next call and note its timers, after anything changed them."""
        version = self._versions.get(run.run_id, 0) + 1
        self._versions[run.run_id] = version
        unit = None if run.done or run.in_flight else self._next_unit(run)
        if unit is not None:  # `priority.run` moves a run's start up the queue
            jump = run.priority_s if run.first_call_at is None else 0.0
            heapq.heappush(self._queue, (unit[0] - jump, run.order, version, run.run_id))
        timed = not run.done and (
            run.start_deadline is not None
            or run.finish_deadline is not None
            or any(p.kind != "step" and p.due is not None for p in run.pending.values())
        )
        if timed:
            self._timed[run.run_id] = run
        else:
            self._timed.pop(run.run_id, None)

    def _launch_due(self, budget: int) -> int:
        """Start calls for due units, in queue order, while slots allow; return how many."""
        free = self.max_in_flight - len(self._tasks)
        if free <= 0:
            return 0
        now = self.clock.now()
        launched, later = 0, []
        while self._queue and launched < free:
            entry = heapq.heappop(self._queue)
            run = self._runs[entry[3]]
            if run.done or run.in_flight or self._versions.get(run.run_id) != entry[2]:
                continue  # stale
            unit = self._next_unit(run)
            if unit is None:
                continue
            due, item = unit
            if due > now:
                later.append(entry)  # queued ahead by its priority, but not due yet
                continue
            full = [b for b in run.buckets if self._slots.get(b, 0) >= self._limit(run, b)]
            if full:
                run.note("concurrency_limited", now, "/".join(full[0]))
                later.append(entry)
                continue
            if run.first_call_at is None and item is None and not self._throttle_admits(run, now):
                continue  # re-queued for when the throttle admits it
            if launched >= budget:
                heapq.heappush(self._queue, entry)
                raise RuntimeError("runs did not settle within the call budget (max_calls)")
            self._launch(run, item, now)
            launched += 1
        for entry in later:
            heapq.heappush(self._queue, entry)
        return launched

    def _limit(self, run: Run, bucket: Bucket) -> int:
        flow = self.registry.flow(run.function_id)
        for limit, own in zip(flow.concurrency, run.buckets, strict=False):
            if own == bucket:
                return limit.limit
        return 1 << 30

    def _throttle_admits(self, run: Run, now: float) -> bool:
        """Whether the throttle lets the run start now; if not, it is due when it would."""
        throttle = self.registry.flow(run.function_id).throttle
        if throttle is None:
            return True
        key = (run.function_id, key_of(throttle.key, run.event))
        allow_at = self._throttle.admit(key, throttle, now)
        if allow_at is None:
            return True
        run.due = allow_at
        detail = f"{throttle.limit} per {throttle.period_s:g}s, burst {throttle.burst}"
        run.note("throttled", now, detail)
        self._refresh(run)
        return False

    def _launch(self, run: Run, item: Pending | None, now: float) -> None:
        for bucket in run.buckets:
            self._slots[bucket] = self._slots.get(bucket, 0) + 1
        if item is not None:
            item.due = None
        else:
            run.due = None
        if run.first_call_at is None:
            run.first_call_at, run.start_deadline = now, None
            finish = self.registry.flow(run.function_id).finish_timeout_s
            if finish is not None:
                run.finish_deadline = now + finish
        run.status, run.calls, run.in_flight = "running", run.calls + 1, True
        self._track(run)  # out of the queue while in flight; its finish deadline is a timer
        task = asyncio.create_task(self._call(run, item))
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._landed(done, run))

    def _landed(self, task: asyncio.Task[None], run: Run) -> None:
        self._tasks.discard(task)
        for bucket in run.buckets:
            left = self._slots.get(bucket, 0) - 1
            if left > 0:
                self._slots[bucket] = left
            else:
                self._slots.pop(bucket, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            self._errors.append(error)
        self._wake.set()

    async def _call(self, run: Run, item: Pending | None) -> None:
        runtime_url = self.registry.url(run.function_id)
        if runtime_url is None:
            run.in_flight = False
            message = f"function {run.function_id} is no longer registered"
            self._finish(run, "failed", error={"name": "ExecutorError", "message": message})
            return
        step_id, attempt = (item.step_id, item.attempt) if item else ("step", run.attempt)
        max_attempts = self.registry.max_attempts(run.function_id)
        body = calls.request_body(run, attempt=attempt, max_attempts=max_attempts)
        url = calls.call_url(runtime_url, run.function_id, step_id)
        headers = calls.request_headers(body, self.signing_key)
        answer: calls.Answer | None = None
        logged, sent_at = len(run.step_log), self.clock.now()
        try:
            answer = await calls.post(self._client(), url, body, headers, self.call_timeout_s)
        except httpx.RequestError as exc:  # unreachable, reset, timed out: retriable
            error = {"name": type(exc).__name__, "message": str(exc) or repr(exc)}
        except httpx.InvalidURL as exc:
            error = {"name": "ExecutorError", "message": f"cannot call {url!r}: {exc}"}
            self._finish(run, "failed", error=error)
        finally:
            run.in_flight = False
        if run.done or (item is not None and run.pending.get(item.step_id) is not item):
            self._refresh(run)
            return  # cancelled while the call was in flight: the answer is dropped
        if answer is None:
            self._unit_failed(run, item, error)
        else:
            self._handle(run, item, answer)
        for record in run.step_log[logged:]:  # the viewer's timeline
            record.sent_at, record.answered_at = sent_at, self.clock.now()
        self._refresh(run)

    def _handle(self, run: Run, item: Pending | None, answer: calls.Answer) -> None:
        if answer.status == 200:
            try:
                self.guard.output(run.run_id, answer.body, step=False)
            except LimitExceeded as exc:
                self._over_limit(run, item, exc)
                return
            self._finish(run, "completed", output=answer.body)
        elif answer.status == 206 and isinstance(answer.body, list):
            try:
                self._apply(run, item, answer)
            except LimitExceeded as exc:
                self._over_limit(run, item, exc)
            except (ValueError, KeyError, TypeError) as exc:
                message = f"cannot follow the app's answer {answer.body!r:.300}: {exc}"
                self._finish(run, "failed", error={"name": "ExecutorError", "message": message})
        elif (error := answer.function_error) is not None:
            self._unit_failed(run, item, error, answer)
        else:
            self._refused(run, item, answer)

    def _apply(self, run: Run, item: Pending | None, answer: calls.Answer) -> None:
        """Follow the opcodes of a 206 answer."""
        now, attempt = self.clock.now(), item.attempt if item else run.attempt
        max_attempts = self.registry.max_attempts(run.function_id)
        for op in answer.body:
            kind, step_id = str(op["op"]), str(op["id"])
            name = op.get("displayName") or (
                None if kind in ("Sleep", "WaitForEvent") else op.get("name")
            )
            error = op.get("error") if isinstance(op.get("error"), dict) else None
            run.step_log.append(StepRecord(step_id, name, kind, attempt, error))
            final_error = kind == "StepError" and (answer.no_retry or attempt + 1 >= max_attempts)
            if kind != "StepError" or final_error:
                self._count_step(run, step_id, name)
            if kind == "StepRun":
                self._memoize_within(run, step_id, name, {"data": op.get("data")})
            elif kind == "StepFailed" or final_error:
                self._memoize_within(run, step_id, name, {"error": memo_error(error)})
            elif kind == "StepError":
                self._schedule_retry(run, item, name or step_id, attempt, answer)
            elif kind == "StepPlanned":
                if step_id not in run.pending and step_id not in run.steps:
                    run.pending[step_id] = Pending(step_id, name, "step", due=now)
                run.disable_immediate = True
            elif kind == "Sleep":
                wake = self._sleep_end(str(op["name"]), answer)
                try:
                    self.guard.sleep(wake - now)
                except LimitExceeded as exc:
                    raise exc.at(step_id, name) from None
                run.pending[step_id] = Pending(step_id, name, "sleep", due=wake)
            elif kind == "WaitForEvent":
                self._wait(run, step_id, name, str(op["name"]), op.get("opts") or {})
            elif kind == "InvokeFunction":
                self._invoke(run, step_id, name, op.get("opts") or {})
            else:
                raise ValueError(f"unsupported opcode {kind!r}")
        if item is not None and run.pending.get(item.step_id) is item and item.due is None:
            raise ValueError(f"the targeted step {item.name or item.step_id!r} was not reported")
        if item is None and run.due is None:
            run.attempt = 0  # the function body's unit of work succeeded
        if not run.pending and run.due is None:
            run.due = now

    def _sleep_end(self, target: str, answer: calls.Answer) -> float:
        """When a `Sleep` ends: the Python SDK sends an ISO time, the JS SDK a duration
        (`"1s"`, `"2h30m"`), measured from when the call that reported it was sent."""
        try:
            parse_time(target)
        except ValueError:
            seconds = parse_duration(target) or 0.0
            return self.clock.from_wall(answer.sent_at + seconds, answer.sent_at)
        return answer.app_time(target, self.clock)

    def _wait(
        self, run: Run, step_id: str, name: str | None, event: str, opts: Mapping[str, Any]
    ) -> None:
        condition = opts.get("if") or None
        if condition:
            self.registry.expression(condition)
        timeout = parse_duration(opts.get("timeout"))
        due = None if timeout is None else self.clock.now() + timeout
        run.pending[step_id] = Pending(
            step_id, name, "wait", due=due, event=event, condition=condition
        )

    def _invoke(self, run: Run, step_id: str, name: str | None, opts: Mapping[str, Any]) -> None:
        target, payload = str(opts.get("function_id")), opts.get("payload") or {}
        if target not in self.functions:
            message = f"could not find function {target!r} to invoke"
            self._memoize(run, step_id, {"error": {"name": "Error", "message": message}})
            return
        timeout = parse_duration(opts.get("timeout"))
        now = self.clock.now()
        meta: dict[str, Any] = {"fn_id": target, "correlation_id": f"{run.run_id}.{step_id}"}
        if name:
            meta["name"] = name
        if timeout is not None:
            meta["expire"] = int((now + timeout) * 1000)
        event: dict[str, Any] = {
            "name": FUNCTION_INVOKED,
            "data": {**(payload.get("data") or {}), "_inngest": meta},
        }
        if payload.get("v"):
            event["v"] = payload["v"]
        event = complete_event(event, now_ms=int(now * 1000))
        self._seen[event["id"]] = now
        self.events.append(event)
        child = self.start(target, event, parent=(run.run_id, step_id))
        due = None if timeout is None else now + timeout
        run.pending[step_id] = Pending(step_id, name, "invoke", due=due, child=child.run_id)

    def _schedule_retry(
        self, run: Run, item: Pending | None, unit: str, attempt: int, answer: calls.Answer | None
    ) -> None:
        run.retries += 1
        run.attempts[unit] = run.attempts.get(unit, 0) + 1
        now, backoff = self.clock.now(), self.backoff(attempt + 1)
        due = now + backoff if answer is None else answer.retry_time(self.clock, backoff)
        if item is not None:
            item.attempt, item.due = attempt + 1, due
        else:
            run.attempt, run.due = attempt + 1, due

    def _unit_failed(
        self,
        run: Run,
        item: Pending | None,
        error: dict[str, Any],
        answer: calls.Answer | None = None,
    ) -> None:
        """The function raised (HTTP 500; `answer`) or could not be reached: retry the unit
        unless the app said not to or attempts are exhausted; then fail the run."""
        no_retry = answer is not None and answer.no_retry
        attempt = item.attempt if item else run.attempt
        step_id, name = (item.step_id, item.name) if item else ("", None)
        run.step_log.append(StepRecord(step_id, name, "FunctionError", attempt, error))
        if no_retry or attempt + 1 >= self.registry.max_attempts(run.function_id):
            self._finish(run, "failed", error=error)
            return
        unit = (item.name or item.step_id) if item else FUNCTION_UNIT
        self._schedule_retry(run, item, unit, attempt, answer)

    def _refused(self, run: Run, item: Pending | None, answer: calls.Answer) -> None:
        """Any answer outside the protocol (401, 404, an SDK refusal...) fails the run at once."""
        body = answer.body
        detail = (body.get("message") or body.get("error")) if isinstance(body, dict) else body
        error: dict[str, Any] = {
            "name": "RefusedError",
            "message": f"the app refused the call: HTTP {answer.status}: {str(detail)[:300]}",
        }
        if isinstance(body, dict) and body.get("code"):
            error["code"] = body["code"]
        attempt = item.attempt if item else run.attempt
        step_id, name = (item.step_id, item.name) if item else ("", None)
        run.step_log.append(StepRecord(step_id, name, "Refused", attempt, error))
        self._finish(run, "failed", error=error)

    def _count_step(self, run: Run, step_id: str, name: str | None) -> None:
        """A step the run reports: a new one counts towards the step limit."""
        if step_id in run.steps or step_id in run.pending:
            return
        try:
            # memoized and pending steps are disjoint (memoizing one takes it out of pending)
            self.guard.new_step(run.run_id, len(run.steps) + len(run.pending))
        except LimitExceeded as exc:
            raise exc.at(step_id, name) from None

    def _memoize_within(self, run: Run, step_id: str, name: str | None, value: Any) -> None:
        """Memoize a step's result if it keeps the run within the output and state limits."""
        try:
            self.guard.output(run.run_id, value, step=True)
        except LimitExceeded as exc:
            raise exc.at(step_id, name) from None
        self._memoize(run, step_id, value)

    def _over_limit(self, run: Run, item: Pending | None, exc: LimitExceeded) -> None:
        """The run went over a platform limit: it fails at once, as on Inngest, and its history
        says which limit (a `LimitExceeded` record the viewer shows)."""
        attempt = item.attempt if item else run.attempt
        step_id, name = exc.step or ((item.step_id, item.name) if item else ("", None))
        run.step_log.append(StepRecord(step_id, name, "LimitExceeded", attempt, exc.error))
        self._finish(run, "failed", error=dict(exc.error))

    def _memoize(self, run: Run, step_id: str, value: Any) -> None:
        run.settled_at[step_id] = self.clock.now()
        run.steps[step_id] = value
        run.stack.append(step_id)
        run.pending.pop(step_id, None)

    def _resolve(self, run: Run, step_id: str, value: Any) -> None:
        """Settle a sleep, wait or invoke outside a call; call the body again when all settled."""
        if value is not None:  # a wait's event, an invoked run's output: state as well
            try:
                self.guard.output(run.run_id, value, step=False)
            except LimitExceeded as exc:
                item = run.pending.get(step_id)
                self._over_limit(run, None, exc.at(step_id, item.name if item else None))
                return
        self._memoize(run, step_id, value)
        if not run.pending and run.due is None:
            run.attempt, run.due = 0, self.clock.now()
        self._refresh(run)

    def _refresh(self, run: Run) -> None:
        if run.done or run.in_flight:
            return
        self._track(run)
        now = self.clock.now()
        kinds = {p.kind for p in run.pending.values()}
        due_now = any(
            p.kind == "step" and p.due is not None and p.due <= now for p in run.pending.values()
        ) or (not run.pending and run.due is not None and run.due <= now)
        if due_now:
            run.status = "queued"
        elif kinds & {"wait", "invoke"}:
            run.status = "waiting"
        elif "sleep" in kinds:
            run.status = "sleeping"
        else:
            run.status = "queued"  # a retry, due later (see `run.next_due`)

    def _finish(
        self,
        run: Run,
        status: RunStatus,
        *,
        output: Any = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        if run.done:
            return
        run.status, run.output, run.error = status, output, error
        run.due, run.ended_at = None, self.clock.now()
        run.start_deadline = run.finish_deadline = None
        run.pending.clear()
        self._active.pop(run.run_id, None)
        self.guard.ended(run.run_id)
        self._track(run)
        if run.parent is not None:
            parent = self._runs.get(run.parent[0])
            item = None if parent is None else parent.pending.get(run.parent[1])
            if parent is not None and item is not None and item.child == run.run_id:
                memo = {"data": output} if status == "completed" else {"error": memo_error(error)}
                self._resolve(parent, item.step_id, memo)
        if run.event.get("name") in QUIET_TRIGGERS:
            return
        base = {"function_id": run.function_id, "run_id": run.run_id, "event": run.event}
        if status == "failed":
            self._emit(FUNCTION_FAILED, {**base, "error": error})
        elif status == "cancelled":
            self._emit(FUNCTION_CANCELLED, {**base, "error": error, "events": run.events})
        finished: dict[str, Any] = {**base, "events": run.events}
        if status == "completed":
            finished["result"] = output
        else:
            finished["error"] = error
        if run.parent is not None:
            finished["correlation_id"] = f"{run.parent[0]}.{run.parent[1]}"
        self._emit(FUNCTION_FINISHED, finished)

    def _emit(self, name: str, data: dict[str, Any]) -> None:
        self.accept({"name": name, "data": data}, internal=True)

    # --- HTTP client --------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            # one kept-alive connection per call in flight: a bigger pool only costs lookups
            limits = httpx.Limits(
                max_connections=max(self.max_in_flight, 10),
                max_keepalive_connections=max(self.max_in_flight, 10),
            )
            self._http = httpx.AsyncClient(timeout=self.call_timeout_s, limits=limits)
        return self._http

    async def aclose(self) -> None:
        """Stop calls in flight and close the HTTP client the executor opened for itself (an
        injected one stays open)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None
