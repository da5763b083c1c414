"""The SDK middleware that observes every call of every function, for the recorder.

Inngest calls the app once per step; each call yields one observation: the run's identity and
trigger (from the event), the step this call reported (id → opcode, so a replayed step is never
counted twice), and the run's status when the call ended it. The SQL upsert folds a run's
observations into one row. Anything going wrong here is logged and swallowed: monitoring never
fails a function.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
from typing import Any

import inngest
from inngest._internal import server_lib

from inngest_app.monitoring.derive import ids, metadata, trigger_type
from inngest_app.monitoring.recorder import Recorder

logger = logging.getLogger(__name__)
DEFAULT_RETRIES = 4
FAILED_EVENT = "inngest/function.failed"
_NOT_STEPS = {server_lib.Opcode.STEP_ERROR, server_lib.Opcode.PLANNED}
_OP_NAMES = {
    server_lib.Opcode.STEP_RUN: "StepRun",
    server_lib.Opcode.STEP_FAILED: "StepRun",  # it ran (and failed for good): billed all the same
    server_lib.Opcode.SLEEP: "Sleep",
    server_lib.Opcode.WAIT_FOR_EVENT: "WaitForEvent",
    server_lib.Opcode.INVOKE: "InvokeFunction",
}


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def _final(error: Exception, attempt: int, retries: int | None) -> bool:
    if isinstance(error, inngest.NonRetriableError):
        return True
    return attempt + 1 >= (DEFAULT_RETRIES if retries is None else retries) + 1


def monitoring_middleware(recorder: Recorder) -> type[inngest.Middleware]:
    """A middleware class bound to `recorder` (the SDK instantiates it per request)."""

    class MonitoringMiddleware(inngest.Middleware):
        def __init__(self, client: inngest.Inngest, raw_request: object) -> None:
            super().__init__(client, raw_request)
            self._base: dict[str, Any] | None = None
            self._call_started = time.time()
            self._attempt = 0
            self._retries: int | None = None
            self._event_ts: float | None = None
            self._memoized = 0
            self._sent_events = False

        async def before_send_events(self, events: list[inngest.Event]) -> None:
            self._sent_events = True  # step.send_event reports itself as a StepRun

        async def transform_input(
            self, ctx: Any, function: inngest.Function[Any], steps: inngest.StepMemos
        ) -> None:
            try:
                event = ctx.event
                fn_id = function.id
                if event.name == FAILED_EVENT and function.on_failure_fn_id:
                    fn_id = function.on_failure_fn_id
                    self._retries = 0
                else:
                    self._retries = function._opts.retries
                data = event.data
                self._attempt = ctx.attempt
                self._memoized = steps.size
                self._event_ts = event.ts / 1000 if event.ts else None
                self._base = {
                    "run_id": ctx.run_id,
                    "function_id": fn_id,
                    "function_name": function.name,
                    "event_id": event.id or None,
                    "event_name": event.name,
                    "trigger_type": trigger_type(event.name, data),
                    "attempt": ctx.attempt,
                    "metadata": metadata(event.name, data),
                    **ids(data),
                }
            except Exception:  # never in the function's way
                logger.exception("monitoring: could not read the call's context")
                self._base = None

        async def transform_output(self, result: inngest.TransformOutputResult) -> None:
            if self._base is None:
                return
            try:
                recorder.record(self._observe(result))
            except Exception:
                logger.exception("monitoring: could not record the call")

        def _observe(self, result: inngest.TransformOutputResult) -> dict[str, Any]:
            assert self._base is not None  # noqa: S101 (checked by the caller)
            now = time.time()
            observation = {
                **self._base,
                "status": "started",
                "steps": {},
                "steps_floor": self._memoized,
                "started_at": _iso(self._call_started),
                "observed_at": _iso(now),
            }
            metrics, fn_id = recorder.metrics, self._base["function_id"]
            if result.error is not None:
                metrics.failures.labels(fn_id).inc()
                observation["error_message"] = (
                    str(result.error)[:2000] or type(result.error).__name__
                )
                observation["error_stack"] = "".join(traceback.format_exception(result.error))[
                    -4000:
                ]
            if result.step is not None:
                op = result.step.op
                if op not in _NOT_STEPS:
                    kind = _OP_NAMES.get(op, str(op.value))
                    if kind == "StepRun" and self._sent_events:
                        kind = "SendEvent"
                    # The SDK reports the user's id, repeated in loops: its position among the
                    # run's steps (the memo count) makes the key unique yet stable on retries.
                    observation["steps"] = {f"{self._memoized}:{result.step.id}": kind}
                    observation["steps_floor"] = self._memoized + 1
                    metrics.steps.labels(fn_id, kind).inc()
                return observation
            if result.error is None:
                observation["status"] = "completed"
            elif _final(result.error, self._attempt, self._retries):
                observation["status"] = "failed"
            if observation["status"] != "started":
                metrics.runs.labels(fn_id, observation["status"]).inc()
                if self._event_ts:
                    metrics.duration.labels(fn_id).observe(max(0.0, now - self._event_ts))
            return observation

    return MonitoringMiddleware
