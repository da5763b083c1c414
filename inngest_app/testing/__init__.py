"""A protocol-faithful stand-in for the Inngest Dev Server, for tests and offline development.

`TestExecutor` accepts the SDK's registration and events over HTTP, starts runs for matching
event triggers (names, `prefix*` wildcards, CEL expressions) and for cron ticks, and drives each
run by calling the served app with (optionally signed) POSTs exactly as Inngest does: memoized
steps, `ctx`, every opcode the Python SDK emits except `AIGateway` (and the JS SDK's for steps,
sleeps, parallel steps, waits and `sendEvent`), retries with `Retry-After` and
`X-Inngest-No-Retry`,
sleeps on a controllable clock, waits, invokes, cancellation and the
`inngest/function.{failed,cancelled,finished}` system events. Runs are driven concurrently
(`max_in_flight` calls at once, units of one run in order), with the flow control the
registration asks for (`flow.py`: concurrency, throttle, rateLimit, debounce, batchEvents,
idempotency, singleton, priority, timeouts); `Run.reasons` and the REST API say why a run was
delayed, skipped or cancelled.

It is NOT a production engine. Not emulated: `use_api` (payloads are always sent inline);
parallel steps of one run are called one after the other rather than at once, and race-mode
groups wait for every step; cron `jitter`; no persistence: state lives in memory.
"""

from inngest_app.testing.clock import Clock, ManualClock, RealClock
from inngest_app.testing.executor import TestExecutor
from inngest_app.testing.runs import Reason, Run, RunStatus, StepRecord

__all__ = [
    "Clock",
    "ManualClock",
    "RealClock",
    "Reason",
    "Run",
    "RunStatus",
    "StepRecord",
    "TestExecutor",
]
