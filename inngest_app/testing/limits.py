"""Inngest's platform limits, enforced by the executor as Inngest Cloud enforces them.

Inngest documents (usage limits): at most 1,000 steps a run, 4 MB returned by one step, 32 MB of
run state (events, step outputs, function output), events of at most 256 KiB (3 MiB on paid
plans), sleeps of at most a year (7 days on the free plan). A run over a limit fails at once,
without retries, with the error Inngest gives (`error` "<name>: <message>", `name`, `message`);
an event over the size is refused by the event API. Every limit is a field of `Limits`, so a
test can lower it instead of producing 1,000 steps or 32 MB.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MB = 1024 * 1024
DAY_S = 86_400.0

# Inngest's own names and texts (inngest/inngest pkg/execution/state, executor.go); the
# executor-only ones (no Inngest text is public) follow the same shape.
STEPS_EXCEEDED = "InngestErrFunctionOverflowed"
STATE_EXCEEDED = "InngestErrStateOverflowed"
OUTPUT_EXCEEDED = "InngestErrStepOutputTooLarge"
SLEEP_EXCEEDED = "InngestErrSleepTooLong"


@dataclass(frozen=True)
class Limits:
    """The limits a run and an event must keep within (Inngest Cloud's defaults)."""

    max_steps: int = 1000
    max_step_output_bytes: int = 4 * MB
    max_state_bytes: int = 32 * MB
    max_event_bytes: int = 256 * 1024
    max_sleep_s: float = 365 * DAY_S


class LimitExceeded(Exception):
    """A run went over a limit: it fails with `error`, without retries."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.error: dict[str, Any] = {
            "error": f"{name}: {message}",
            "name": name,
            "message": message,
        }
        self.step: tuple[str, str | None] | None = None  # (hashed id, name) of the step at fault

    def at(self, step_id: str, name: str | None) -> LimitExceeded:
        """This error, naming the step that went over the limit."""
        self.step = (step_id, name)
        return self


def size_of(value: Any) -> int:
    """Bytes of `value` as JSON (compact, UTF-8), as the platform stores it."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def event_refusal(event: Mapping[str, Any], limits: Limits) -> str | None:
    """Why the event API refuses `event` for its size, or None."""
    size = size_of(event)
    if size > limits.max_event_bytes:
        return f"event too large: {size} bytes is over the limit of {limits.max_event_bytes} bytes"
    return None


@dataclass
class RunBudget:
    """What one run has used of the limits: its state bytes (its steps are the executor's)."""

    state_bytes: int = 0


@dataclass
class Guard:
    """The limits, and each run's use of them (by run id)."""

    limits: Limits = field(default_factory=Limits)
    budgets: dict[str, RunBudget] = field(default_factory=dict)

    def started(self, run_id: str, events: list[dict[str, Any]]) -> None:
        """A run starts with its events as state."""
        self.budgets[run_id] = RunBudget(state_bytes=sum(size_of(e) for e in events))

    def ended(self, run_id: str) -> None:
        """A run ended: forget its budget."""
        self.budgets.pop(run_id, None)

    def new_step(self, run_id: str, steps_so_far: int) -> None:
        """One more distinct step for a run that has `steps_so_far`: the 1,001st fails it."""
        limit = self.limits.max_steps
        if steps_so_far + 1 > limit:
            message = f"The function run exceeded the step limit of {limit} steps."
            raise LimitExceeded(STEPS_EXCEEDED, message)

    def output(self, run_id: str, value: Any, *, step: bool) -> None:
        """A step's (or the function's, `step=False`) output joins the run's state."""
        size = size_of(value)
        if step and size > self.limits.max_step_output_bytes:
            limit = self.limits.max_step_output_bytes
            message = f"step output size is greater than the limit: {size} > {limit} bytes"
            raise LimitExceeded(OUTPUT_EXCEEDED, message)
        self.state(run_id, size)

    def state(self, run_id: str, size: int) -> None:
        """`size` more bytes of state (a step output, a wait's event, the function's output)."""
        budget = self.budgets.setdefault(run_id, RunBudget())
        limit = self.limits.max_state_bytes
        if budget.state_bytes + size > limit:
            message = f"The function run exceeded the state size limit of {limit} bytes."
            raise LimitExceeded(STATE_EXCEEDED, message)
        budget.state_bytes += size

    def sleep(self, seconds: float) -> None:
        """A sleep (or `sleep_until`) of `seconds` from now (whole seconds: the SDK's end time is
        measured from when the call was sent, a few milliseconds past the sleep it asked)."""
        limit = self.limits.max_sleep_s
        if int(seconds) > limit:
            message = f"The sleep of {seconds:.0f}s exceeds the maximum of {limit:.0f}s."
            raise LimitExceeded(SLEEP_EXCEEDED, message)
