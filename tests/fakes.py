"""A fake step context for calling a function's handler directly: no executor, no Postgres.

`FakeStep.run` calls the step's function at once and returns its output through a JSON round
trip (as the platform memoizes it); every step id, sleep and sent event is recorded in order.
A step listed in `give_up` fails as a step whose retries are spent does (`inngest.StepError`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import inngest


class FakeStep:
    """Records what a handler asks of `ctx.step`, in order."""

    def __init__(self, *, give_up: Mapping[str, str] | None = None) -> None:
        self.ids: list[str] = []
        self.sleeps: list[tuple[str, dt.timedelta | dt.datetime]] = []
        self.sent: list[tuple[str, list[inngest.Event]]] = []
        self.give_up = dict(give_up or {})

    def _enter(self, step_id: str) -> None:
        if step_id in self.ids:  # the platform would memoize the second under the first's id
            raise AssertionError(f"step id {step_id!r} used twice in one run")
        self.ids.append(step_id)

    async def run(self, step_id: str, handler: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Call the step's function now; its output as the platform would hand it back."""
        self._enter(step_id)
        if step_id in self.give_up:
            raise inngest.StepError(self.give_up[step_id], "Error", None)
        return json.loads(json.dumps(await handler(*args)))

    async def sleep(self, step_id: str, duration: dt.timedelta | int) -> None:
        """Record a sleep (milliseconds as the SDK takes them, or a timedelta)."""
        self._enter(step_id)
        if isinstance(duration, int):
            duration = dt.timedelta(milliseconds=duration)
        self.sleeps.append((step_id, duration))

    async def sleep_until(self, step_id: str, until: dt.datetime) -> None:
        """Record a sleep until a moment."""
        self._enter(step_id)
        self.sleeps.append((step_id, until))

    async def send_event(
        self, step_id: str, events: inngest.Event | list[inngest.Event]
    ) -> list[str]:
        """Record the events sent; their ids back, as the platform answers."""
        self._enter(step_id)
        batch = events if isinstance(events, list) else [events]
        self.sent.append((step_id, batch))
        return [e.id or f"{step_id}-{i}" for i, e in enumerate(batch)]

    def events(self) -> list[inngest.Event]:
        """Every event sent, across steps, in order."""
        return [e for _, batch in self.sent for e in batch]


def fake_context(
    name: str,
    data: Mapping[str, Any] | None = None,
    *,
    ts: dt.datetime | None = None,
    run_id: str = "run-1",
    attempt: int = 0,
    step: FakeStep | None = None,
) -> inngest.Context:
    """A context for the event `name` with `data` (sent at `ts`), whose step is a `FakeStep`."""
    millis = int(ts.timestamp() * 1000) if ts else 0
    event = inngest.Event(name=name, data=dict(data or {}), ts=millis, id=f"evt-{run_id}")
    return inngest.Context(
        attempt=attempt,
        event=event,
        events=[event],
        group=None,  # type: ignore[arg-type]
        job_id=None,
        logger=logging.getLogger("tests.fakes"),
        request_id=None,
        run_id=run_id,
        step=step or FakeStep(),  # type: ignore[arg-type]
    )


def step_of(ctx: inngest.Context) -> FakeStep:
    """The fake step of a context made by `fake_context`."""
    step = ctx.step
    assert isinstance(step, FakeStep)
    return step
