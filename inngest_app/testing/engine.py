"""The executor's engine: registered functions, accepted events and the runs they drive.

A run is a set of units of work, each due at a time on the executor's clock: the function body
(called with `stepId=step`), planned steps (called with `stepId=<hashed id>`), and things the
executor resolves itself (a sleep's end, a wait's event or timeout, an invoked run's result).
`drive()` performs due units one at a time, in order of due time then run creation, so runs are
deterministic; with a `ManualClock` it moves time to the next due unit when nothing is due now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from inngest_app.testing import calls
from inngest_app.testing.clock import Backoff, Clock, ManualClock
from inngest_app.testing.events import DEDUP_WINDOW_S, check_event, complete_event
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
    Pending,
    Run,
    RunStatus,
    StepRecord,
    memo_error,
    new_ulid,
    parse_duration,
)


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
    ) -> None:
        self.signing_key = signing_key
        self.clock = clock
        self.backoff = backoff
        self.call_timeout_s = call_timeout_s
        self.registry = Registry()
        self.events: list[dict[str, Any]] = []
        self._http = http
        self._owns_http = http is None
        self._runs: dict[str, Run] = {}
        self._seen: dict[str, float] = {}
        self._in_flight: Run | None = None

    @property
    def functions(self) -> dict[str, dict[str, Any]]:
        """Registered function configs by composite id, exactly as the SDK sent them."""
        return self.registry.functions

    @property
    def registrations(self) -> list[dict[str, Any]]:
        """Every registration body received, in order."""
        return self.registry.registrations

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
            self.start(fn_id, completed)
        return event_id

    def _cancel_matching(self, event: Mapping[str, Any]) -> None:
        now = self.clock.now()
        for run in list(self._runs.values()):
            age_s = now - run.started_at
            if not run.done and self.registry.cancels(run.function_id, run.event, event, age_s):
                self._finish(run, "cancelled", error=dict(CANCELLED_ERROR))

    def _resume_waiting(self, event: Mapping[str, Any]) -> None:
        for run in list(self._runs.values()):
            for item in list(run.pending.values()):
                if run.done or item.kind != "wait" or item.event != event["name"]:
                    continue
                env = {"event": run.event, "async": event}
                if item.condition and not self.registry.expression(item.condition).matches(env):
                    continue
                self._resolve(run, item.step_id, dict(event))

    # --- runs -------------------------------------------------------------------------------

    def start(
        self, fn_id: str, event: dict[str, Any], parent: tuple[str, str] | None = None
    ) -> Run:
        """A new run of `fn_id` for `event`, due now."""
        now = self.clock.now()
        run = Run(
            run_id=new_ulid(),
            function_id=fn_id,
            event=event,
            events=[event],
            due=now,
            parent=parent,
            started_at=now,
        )
        self._runs[run.run_id] = run
        return run

    async def drive(
        self, *, advance_clock: bool, max_calls: int, stop: Callable[[], bool] | None = None
    ) -> int:
        """Perform due units until none is due (or `stop()` holds); return the calls made."""
        made = 0
        while not (stop and stop()):
            self._expire()
            unit = self._next_unit()
            if unit is not None:
                if made >= max_calls:
                    raise RuntimeError(f"runs did not settle within {max_calls} calls")
                await self._call(*unit)
                made += 1
                continue
            upcoming = [
                due
                for run in self._runs.values()
                if not run.done and (due := run.next_due) is not None
            ]
            if not (advance_clock and upcoming and isinstance(self.clock, ManualClock)):
                break
            self.clock.advance_to(min(upcoming))
        return made

    def _expire(self) -> None:
        now = self.clock.now()
        for run in list(self._runs.values()):
            for item in list(run.pending.values()):
                if run.done or item.kind == "step" or item.due is None or item.due > now:
                    continue
                if item.kind == "invoke":
                    self._resolve(run, item.step_id, {"error": dict(INVOKE_TIMEOUT_ERROR)})
                else:  # a sleep that ended, or a wait that timed out
                    self._resolve(run, item.step_id, None)

    def _next_unit(self) -> tuple[Run, Pending | None] | None:
        now = self.clock.now()
        best: tuple[float, int, Run, Pending | None] | None = None
        for order, run in enumerate(self._runs.values()):
            if run.done:
                continue
            units: list[tuple[float, Pending | None]] = [
                (p.due, p) for p in run.pending.values() if p.kind == "step" and p.due is not None
            ]
            if not run.pending and run.due is not None:
                units.append((run.due, None))
            for due, item in units:
                if due <= now and (best is None or (due, order) < best[:2]):
                    best = (due, order, run, item)
        return None if best is None else (best[2], best[3])

    async def _call(self, run: Run, item: Pending | None) -> None:
        runtime_url = self.registry.url(run.function_id)
        if runtime_url is None:
            message = f"function {run.function_id} is no longer registered"
            self._finish(run, "failed", error={"name": "ExecutorError", "message": message})
            return
        step_id, attempt = (item.step_id, item.attempt) if item else ("step", run.attempt)
        if item is not None:
            item.due = None
        else:
            run.due = None
        run.status, run.calls, self._in_flight = "running", run.calls + 1, run
        max_attempts = self.registry.max_attempts(run.function_id)
        body = calls.request_body(run, attempt=attempt, max_attempts=max_attempts)
        url = calls.call_url(runtime_url, run.function_id, step_id)
        headers = calls.request_headers(body, self.signing_key)
        answer: calls.Answer | None = None
        try:
            answer = await calls.post(self._client(), url, body, headers, self.call_timeout_s)
        except httpx.RequestError as exc:  # unreachable, reset, timed out: retriable
            error = {"name": type(exc).__name__, "message": str(exc) or repr(exc)}
        except httpx.InvalidURL as exc:
            error = {"name": "ExecutorError", "message": f"cannot call {url!r}: {exc}"}
            self._finish(run, "failed", error=error)
        finally:
            self._in_flight = None
        if run.done or (item is not None and run.pending.get(item.step_id) is not item):
            return  # cancelled while the call was in flight: the answer is dropped
        if answer is None:
            self._unit_failed(run, item, error)
        else:
            self._handle(run, item, answer)
        self._refresh(run)

    def _handle(self, run: Run, item: Pending | None, answer: calls.Answer) -> None:
        if answer.status == 200:
            self._finish(run, "completed", output=answer.body)
        elif answer.status == 206 and isinstance(answer.body, list):
            try:
                self._apply(run, item, answer)
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
            if kind == "StepRun":
                self._memoize(run, step_id, {"data": op.get("data")})
            elif kind == "StepFailed" or final_error:
                self._memoize(run, step_id, {"error": memo_error(error)})
            elif kind == "StepError":
                self._schedule_retry(run, item, name or step_id, attempt, answer)
            elif kind == "StepPlanned":
                if step_id not in run.pending and step_id not in run.steps:
                    run.pending[step_id] = Pending(step_id, name, "step", due=now)
                run.disable_immediate = True
            elif kind == "Sleep":
                wake = answer.app_time(str(op["name"]), self.clock)
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

    def _memoize(self, run: Run, step_id: str, value: Any) -> None:
        run.steps[step_id] = value
        run.stack.append(step_id)
        run.pending.pop(step_id, None)

    def _resolve(self, run: Run, step_id: str, value: Any) -> None:
        """Settle a sleep, wait or invoke outside a call; call the body again when all settled."""
        self._memoize(run, step_id, value)
        if not run.pending and run.due is None:
            run.attempt, run.due = 0, self.clock.now()
        self._refresh(run)

    def _refresh(self, run: Run) -> None:
        if run.done or run is self._in_flight:
            return
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
        run.pending.clear()
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
            self._http = httpx.AsyncClient(timeout=self.call_timeout_s)
        return self._http

    async def aclose(self) -> None:
        """Close the HTTP client the executor opened for itself (an injected one stays open)."""
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None
