"""Following the app's answer to a call: the opcodes of a 206, a 200's output, an error.

Each opcode changes the run: a step's result is memoized, a planned step queued, a sleep, a
wait or an invoke becomes something the run waits on; a step error is retried (`machine`). The
platform limits are checked on the way (`limits.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inngest_app.testing import calls
from inngest_app.testing.events import complete_event
from inngest_app.testing.limits import LimitExceeded
from inngest_app.testing.runs import (
    FUNCTION_INVOKED,
    Pending,
    Run,
    StepRecord,
    memo_error,
    parse_duration,
    parse_time,
)
from inngest_app.testing.scheduling import Scheduling


class Opcodes(Scheduling):
    """What an answer of the app does to its run."""

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
