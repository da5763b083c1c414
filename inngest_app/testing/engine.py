"""The executor's engine: registered functions, accepted events and the runs they drive.

A run is a set of units of work, each due at a time on the executor's clock: the function body
(called with `stepId=step`), planned steps (called with `stepId=<hashed id>`), and things the
executor resolves itself (a sleep's end, a wait's event or timeout, an invoked run's result).
`drive()` performs due units in order of due time (less `priority.run`), then run creation:
up to `max_in_flight` calls at once, each of a different run (the units of one run stay in
order), within the functions' concurrency limits; `max_in_flight=1` performs them one at a
time, deterministically. With a `ManualClock` it moves time to the next due unit, timer or
deadline when nothing is due now and no call is in flight.

The engine is assembled from parts, each a module: `core` (the state they share),
`scheduling` (the queue, timers and flow control: `flow.py`'s options), `machine` (retries,
failures, settling and ending a run), `opcodes` (what an answer of the app does to its run) and
`caller` (the HTTP calls to the app). This module adds events coming in, runs starting, and
the loop that drives them (`drive`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from inngest_app.testing.caller import Caller
from inngest_app.testing.clock import ManualClock
from inngest_app.testing.core import DEFAULT_MAX_IN_FLIGHT
from inngest_app.testing.events import DEDUP_WINDOW_S, check_event, complete_event
from inngest_app.testing.runs import (
    CANCELLED_ERROR,
    FUNCTION_INVOKED,
    Run,
)

__all__ = ["DEFAULT_MAX_IN_FLIGHT", "Engine"]


class Engine(Caller):
    """Functions, events and runs; the HTTP surface and test API live in `TestExecutor`."""

    def accept(
        self,
        event: Mapping[str, Any],
        *,
        internal: bool = False,
        seed: str | None = None,
        index: int = 0,
    ) -> str:
        """Take one event: cancel, resume and start runs; return its id.

        An id seen in the last 24 h is accepted again but starts nothing (deduplication).
        `seed` is the SDK's `X-Inngest-Event-Id-Seed` header: an event without an id gets one
        derived from it and its `index`, so a send the SDK retries is deduplicated too."""
        check_event(event, internal=internal)
        now = self.clock.now()
        completed = complete_event(event, now_ms=int(now * 1000), seed=seed, index=index)
        event_id = str(completed["id"])
        seen = self._seen.get(event_id)
        if seen is not None and now - seen < DEDUP_WINDOW_S:
            return event_id
        self._seen[event_id] = now
        self.events.append(completed)
        self._cancel_matching(completed)
        self._resume_waiting(completed)
        for fn_id in self.registry.triggered_by(completed):
            self._trigger(fn_id, completed)
        self._wake.set()
        return event_id

    def _cancel_matching(self, event: Mapping[str, Any]) -> None:
        now = self.clock.now()
        for run in list(self._active.values()):
            age_s = now - run.started_at
            if not run.done and self.registry.cancels(run.function_id, run.event, event, age_s):
                self._finish(run, "cancelled", error=dict(CANCELLED_ERROR))

    def _resume_waiting(self, event: Mapping[str, Any]) -> None:
        for run in list(self._active.values()):
            for item in list(run.pending.values()):
                if run.done or item.kind != "wait" or item.event != event["name"]:
                    continue
                env = {"event": run.event, "async": event}
                if item.condition and not self.registry.expression(item.condition).matches(env):
                    continue
                self._resolve(run, item.step_id, dict(event))

    def cancel_run(self, run_id: str) -> Run:
        """Cancel an unfinished run as a cancel-on event would (`KeyError` if unknown; a
        finished run is left as it is)."""
        run = self._runs[run_id]
        if not run.done:
            self._finish(run, "cancelled", error=dict(CANCELLED_ERROR))
            self._wake.set()
        return run

    def rerun(self, run_id: str) -> Run:
        """A new run of the same function with the same event(s) (`KeyError` if unknown)."""
        old = self._runs[run_id]
        return self.start(old.function_id, old.event, events=old.events)

    def invoke(self, function_id: str, data: dict[str, Any]) -> Run:
        """Start `function_id` (composite or bare) with `data`, as `step.invoke` or the Dev
        Server's Invoke button would: an `inngest/function.invoked` event."""
        fn_id, now = self.registry.resolve(function_id), self.clock.now()
        event = complete_event(
            {"name": FUNCTION_INVOKED, "data": {**data, "_inngest": {"fn_id": fn_id}}},
            now_ms=int(now * 1000),
        )
        self._seen[event["id"]] = now
        self.events.append(event)
        return self.start(fn_id, event)

    async def drive(
        self,
        *,
        advance_clock: bool,
        max_calls: int,
        stop: Callable[[], bool] | None = None,
        deadline: float | None = None,
    ) -> int:
        """Perform due units until none is due and no call is in flight, `stop()` holds, or
        the event loop's time reaches `deadline`; return the calls started."""
        made = 0
        loop = asyncio.get_running_loop()
        while True:
            self._raise_errors()
            if stop is not None and stop():
                break
            self._wake.clear()
            self._expire()
            made += self._launch_due(max_calls - made)
            if self._tasks:
                if stop is not None and stop():
                    break
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), remaining)
                continue
            upcoming = self._upcoming()
            if not (advance_clock and upcoming is not None and isinstance(self.clock, ManualClock)):
                break
            if upcoming <= self.clock.now():
                break  # nothing can make progress at this time (defensive)
            self.clock.advance_to(upcoming)
        self._raise_errors()
        return made

    def _raise_errors(self) -> None:
        if self._errors:
            error = self._errors.pop(0)
            self._errors.clear()
            raise error

    def _emit(self, name: str, data: dict[str, Any]) -> None:
        self.accept({"name": name, "data": data}, internal=True)
