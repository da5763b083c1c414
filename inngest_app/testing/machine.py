"""The run state machine: how a run's steps settle and how the run ends.

A unit of work (the function body or a planned step) that failed is retried after a backoff or
at `Retry-After`, until its attempts run out; an answer outside the protocol fails the run at
once, as does going over a platform limit. A step settles when its value is memoized; a run ends
once (`_finish`): it leaves the active runs, resolves the step of a run that invoked it, and
emits `inngest/function.{failed,cancelled,finished}` unless a system event started it.
"""

from __future__ import annotations

from typing import Any

from inngest_app.testing import calls
from inngest_app.testing.core import EngineCore
from inngest_app.testing.limits import LimitExceeded
from inngest_app.testing.runs import (
    FUNCTION_CANCELLED,
    FUNCTION_FAILED,
    FUNCTION_FINISHED,
    FUNCTION_UNIT,
    QUIET_TRIGGERS,
    Pending,
    Run,
    RunStatus,
    StepRecord,
    memo_error,
)


class RunMachine(EngineCore):
    """Retries, failures, settled steps and the end of a run."""

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
