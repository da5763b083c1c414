"""skill-execute's flow control, as plain numbers: every run the hourly allowance accepts can
start before `timeouts.start` cancels it, and a resend is a new send while a duplicate is not.

A user may queue `SKILL_RUNS_PER_HOUR` runs at once; the throttle starts `THROTTLE_PER_MINUTE`
of them a minute, so the last one waits `ceil(allowance / per minute)` minutes. The start timeout
is that backlog plus `START_MARGIN` (slow first steps, clock skew); the stuck-run monitor waits
as long before it calls a queued run lost and sends it again.
"""

from __future__ import annotations

import datetime as dt
import math

THROTTLE_PER_MINUTE = 10
THROTTLE_BURST = 1  # the SDK's default: starts beyond the rate wait (never dropped)
CONCURRENCY_PER_USER = 10
START_MARGIN = dt.timedelta(minutes=5)
FINISH_TIMEOUT = dt.timedelta(minutes=10)
# one Inngest run per (run, resend number): the monitor's resend is a new send, a duplicate of
# any one send is not; events without `resend` (older senders) count as the first send
IDEMPOTENCY = "event.data.runId + ':' + string(has(event.data.resend) ? event.data.resend : 0)"


def throttle_backlog(runs_per_hour: int, *, per_minute: int = THROTTLE_PER_MINUTE) -> dt.timedelta:
    """How long the last of `runs_per_hour` runs queued at once waits for the throttle."""
    return dt.timedelta(minutes=math.ceil(max(runs_per_hour - 1, 0) / per_minute))


def start_timeout(runs_per_hour: int) -> dt.timedelta:
    """`timeouts.start` for an hourly allowance: its whole throttle backlog, plus a margin."""
    return throttle_backlog(runs_per_hour) + START_MARGIN


def execute_event_id(run_id: object, resend: int) -> str:
    """The `skill.execute` event id of a run's `resend`-th send (0: the API's own send)."""
    return f"skill-execute-{run_id}" if resend == 0 else f"skill-execute-{run_id}-{resend}"
