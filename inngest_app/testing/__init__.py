"""A protocol-faithful stand-in for the Inngest Dev Server, for tests and offline development.

`TestExecutor` accepts the SDK's registration and events over HTTP, starts runs for matching
event and cron triggers, and drives each run by calling the served app with (optionally signed)
POSTs exactly as Inngest does: memoized steps, `ctx`, opcodes, retries, sleeps on a controllable
clock, waits, invokes, cancellation and the `inngest/function.*` system events. It is NOT a
production engine: flow control (throttle, concurrency, rate limits, debounce, batching,
priority, singleton, idempotency keys) belongs to Inngest's queue and is only visible here in the
registration payload (`executor.functions`), where tests assert it.
"""

from inngest_app.testing.clock import Clock, ManualClock, RealClock
from inngest_app.testing.executor import Run, StepRecord, TestExecutor

__all__ = ["Clock", "ManualClock", "RealClock", "Run", "StepRecord", "TestExecutor"]
