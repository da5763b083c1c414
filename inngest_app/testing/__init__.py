"""A protocol-faithful stand-in for the Inngest Dev Server, for tests and offline development.

`TestExecutor` accepts the SDK's registration and events over HTTP, starts runs for matching
event triggers (names, `prefix*` wildcards, CEL-subset expressions) and for cron ticks, and
drives each run by calling the served app with (optionally signed) POSTs exactly as Inngest
does: memoized steps, `ctx`, every opcode the Python SDK emits except `AIGateway`, retries with
`Retry-After` and `X-Inngest-No-Retry`, sleeps on a controllable clock, waits, invokes,
cancellation and the `inngest/function.{failed,cancelled,finished}` system events.

It is NOT a production engine. Not emulated: flow control (throttle, concurrency, rate limits,
debounce, batching, priority, singleton, idempotency keys, function timeouts) belongs to
Inngest's queue and is only visible in the registration payload (`executor.functions`), where
tests assert it; `use_api` (payloads are always sent inline); parallel steps run one after the
other (deterministically) rather than at once, and race-mode groups wait for every step;
no persistence: state lives in memory.
"""

from inngest_app.testing.clock import Clock, ManualClock, RealClock
from inngest_app.testing.executor import TestExecutor
from inngest_app.testing.runs import Run, RunStatus, StepRecord

__all__ = ["Clock", "ManualClock", "RealClock", "Run", "RunStatus", "StepRecord", "TestExecutor"]
