"""A run's timeline for the run viewer: when it queued, why it waited (the reasons flow control
recorded), and each step as a bar (start and duration from the run's start, attempt).

Times come from the executor's own history: a step's call (sent, answered), a sleep's, wait's or
invoke's report until it settled (or now, while it is pending).
"""

from __future__ import annotations

from typing import Any

from inngest_app.testing.runs import Run, StepRecord

# reported when a call landed; they last until the executor settles them
WAITING_OPS = {"Sleep": "sleep", "WaitForEvent": "wait for event", "InvokeFunction": "invoke"}
CALL_OPS = {
    "StepRun": "step.run",
    "StepError": "error",
    "StepFailed": "failed",
    "FunctionError": "function error",
    "Refused": "refused",
}
REASONS = {
    "throttled": "throttled",
    "rate_limited": "rate limited (skipped)",
    "debounced": "debounced",
    "batched": "batched",
    "timed_out": "timed out",
    "singleton": "singleton",
    "idempotency": "idempotency (skipped)",
    "concurrency_limited": "waited for a concurrency slot",
}


def _ms(seconds: float) -> int:
    return round(max(0.0, seconds) * 1000)


def timeline(run: Run, *, now: float) -> dict[str, Any]:
    """The run's span, its queue time and reasons, and its steps as bars in report order."""
    end = run.ended_at if run.ended_at is not None else now
    queued_until = run.first_call_at if run.first_call_at is not None else end
    bars = [_bar(run, record, now=now) for record in run.step_log if _shown(record)]
    return {
        "startedAt": run.started_at,
        "durationMs": _ms(end - run.started_at),
        "queuedMs": _ms(queued_until - run.started_at),
        "reasons": [
            {
                "reason": r.reason,
                "label": REASONS.get(r.reason, r.reason),
                "detail": r.detail,
                "atMs": _ms(r.at - run.started_at),
            }
            for r in run.reasons
        ],
        "bars": bars,
    }


def _shown(record: StepRecord) -> bool:
    return record.op in CALL_OPS or record.op in WAITING_OPS


def _bar(run: Run, record: StepRecord, *, now: float) -> dict[str, Any]:
    name = record.name or record.step_id or "(function body)"
    if record.op in WAITING_OPS:
        settled = run.settled_at.get(record.step_id)
        pending = settled is None and not run.done
        until = settled if settled is not None else (now if pending else run.ended_at or now)
        start, kind = record.answered_at, WAITING_OPS[record.op]
    else:
        start, until, kind, pending = record.sent_at, record.answered_at, CALL_OPS[record.op], False
    return {
        "name": name,
        "kind": kind,
        "op": record.op,
        "ok": record.ok,
        "attempt": record.attempt + 1,  # of its unit of work: retries are attempt - 1
        "startMs": _ms(start - run.started_at),
        "durationMs": _ms(until - start),
        "waiting": record.op in WAITING_OPS,
        "pending": pending,
    }
