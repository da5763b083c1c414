"""Scheduling and flow control: runs created (`start`), when each run's next call is due, and
what may start now.

Flow control (see `flow.py`) acts at three points: when an event triggers a function
(debounce, batching: `_trigger`), when a run is scheduled (rate limit, idempotency, singleton:
`schedule`), and when a unit is due (throttle on a run's first call, concurrency on every call:
`_launch_due`; timeouts: `_expire`). Calls to make are a lazy heap of (due - priority,
creation order, version, run id): an entry whose version is not the run's current one is stale.
"""

from __future__ import annotations

import heapq
from typing import Any

from inngest_app.testing.core import Held
from inngest_app.testing.flow import IDEMPOTENCY_PERIOD_S, Bucket, key_of, priority_of
from inngest_app.testing.machine import RunMachine
from inngest_app.testing.runs import (
    CANCELLED_ERROR,
    INVOKE_TIMEOUT_ERROR,
    FlowReason,
    Pending,
    Run,
    new_ulid,
)


class Scheduling(RunMachine):
    """The queue of calls, the timers, and flow control."""

    def _trigger(self, fn_id: str, event: dict[str, Any]) -> None:
        """`event` triggers `fn_id`: debounce it, batch it, or schedule a run for it."""
        flow, now = self.registry.flow(fn_id), self.clock.now()
        if flow.debounce is not None:
            key = (fn_id, key_of(flow.debounce.key, event))
            held = self._debounces.get(key)
            if held is not None and held.due <= now:  # its timer fired before this event
                del self._debounces[key]
                self._release_debounce(held)
                held = None
            if held is None:
                held = self._debounces[key] = Held(fn_id, [event], first_at=now, due=now)
            else:
                held.superseded.append(str(held.events[0]["id"]))
                held.events = [event]
            held.due = now + flow.debounce.period_s
            if flow.debounce.timeout_s is not None:
                held.due = min(held.due, held.first_at + flow.debounce.timeout_s)
            return
        batch = flow.batch
        if batch is not None and (
            batch.condition is None or batch.condition.matches({"event": event})
        ):
            key = (fn_id, key_of(batch.key, event))
            if (full := self._batches.get(key)) is not None and full.due <= now:
                del self._batches[key]
                self._release_batch(full, "timeout")
            held = self._batches.setdefault(
                key, Held(fn_id, [], first_at=now, due=now + batch.timeout_s)
            )
            held.events.append(event)
            if len(held.events) >= batch.max_size:
                del self._batches[key]
                self._release_batch(held, "full")
            return
        self.schedule(fn_id, [event])

    def _release_batch(self, held: Held, why: str) -> None:
        run = self.schedule(held.fn_id, held.events)
        run.note("batched", self.clock.now(), f"{len(held.events)} events ({why})")

    def _release_debounce(self, held: Held) -> None:
        run = self.schedule(held.fn_id, held.events)
        superseded = ", ".join(held.superseded) or "none"
        run.note("debounced", self.clock.now(), f"superseded events: {superseded}")

    def schedule(self, fn_id: str, events: list[dict[str, Any]]) -> Run:
        """A run of `fn_id` for `events` (the first is `ctx.event`), unless the rate limit,
        idempotency or singleton skip it: then a run in status "skipped" that records why."""
        flow, now, event = self.registry.flow(fn_id), self.clock.now(), events[0]
        if flow.rate_limit is not None:
            rate = flow.rate_limit
            if not self._rate.admit((fn_id, key_of(rate.key, event)), rate, now):
                return self._skip(
                    fn_id, events, "rate_limited", f"{rate.limit} per {rate.period_s:g}s"
                )
        if flow.idempotency is not None:
            key = (fn_id, flow.idempotency.key({"event": event}))
            seen = self._idempotency.get(key)
            if seen is not None and now - seen < IDEMPOTENCY_PERIOD_S:
                return self._skip(fn_id, events, "idempotency", f"key {key[1]!r} already ran")
            self._idempotency[key] = now
        if flow.singleton is not None:
            singleton_key = key_of(flow.singleton.key, event)
            running = [
                r
                for r in self._active.values()
                if r.function_id == fn_id and r.singleton_key == singleton_key and not r.done
            ]
            if running and flow.singleton.mode == "skip":
                return self._skip(
                    fn_id, events, "singleton", f"run {running[0].run_id} is unfinished"
                )
            for other in running:
                self._cancel(other, "singleton", "cancelled for a newer run")
        return self.start(fn_id, event, events=events)

    def _skip(
        self, fn_id: str, events: list[dict[str, Any]], reason: FlowReason, detail: str
    ) -> Run:
        now = self.clock.now()
        self._sequence += 1
        run = Run(
            run_id=new_ulid(),
            function_id=fn_id,
            event=events[0],
            events=list(events),
            status="skipped",
            started_at=now,
            ended_at=now,
            order=self._sequence,
        )
        run.note(reason, now, detail)
        self._runs[run.run_id] = run
        return run

    def _upcoming(self) -> float | None:
        """The earliest time at which something is scheduled (runs, debounces, batches)."""
        dues = [due for run in self._active.values() if (due := run.next_due) is not None]
        dues += [held.due for held in (*self._debounces.values(), *self._batches.values())]
        return min(dues, default=None)

    def _expire(self) -> None:
        now = self.clock.now()
        for key, held in list(self._debounces.items()):
            if held.due <= now:
                del self._debounces[key]
                self._release_debounce(held)
        for key, held in list(self._batches.items()):
            if held.due <= now:
                del self._batches[key]
                self._release_batch(held, "timeout")
        for run in list(self._timed.values()):
            if run.done:
                continue
            if run.start_deadline is not None and run.start_deadline <= now:
                self._cancel(run, "timed_out", "not started within timeouts.start")
                continue
            if run.finish_deadline is not None and run.finish_deadline <= now:
                self._cancel(run, "timed_out", "not finished within timeouts.finish")
                continue
            for item in list(run.pending.values()):
                if run.done or item.kind == "step" or item.due is None or item.due > now:
                    continue
                if item.kind == "invoke":
                    self._resolve(run, item.step_id, {"error": dict(INVOKE_TIMEOUT_ERROR)})
                else:  # a sleep that ended, or a wait that timed out
                    self._resolve(run, item.step_id, None)

    def _cancel(self, run: Run, reason: FlowReason, detail: str) -> None:
        run.note(reason, self.clock.now(), detail)
        self._finish(run, "cancelled", error=dict(CANCELLED_ERROR))

    @staticmethod
    def _next_unit(run: Run) -> tuple[float, Pending | None] | None:
        """The run's earliest scheduled unit: a planned step, or the function body."""
        best: tuple[float, Pending | None] | None = None
        for item in run.pending.values():
            if item.kind == "step" and item.due is not None:
                if best is None or item.due < best[0]:
                    best = (item.due, item)
        if not run.pending and run.due is not None:
            if best is None or run.due < best[0]:
                best = (run.due, None)
        return best

    def _track(self, run: Run) -> None:
        """Queue the run's next call and note its timers, after anything changed them."""
        version = self._versions.get(run.run_id, 0) + 1
        self._versions[run.run_id] = version
        unit = None if run.done or run.in_flight else self._next_unit(run)
        if unit is not None:  # `priority.run` moves a run's start up the queue
            jump = run.priority_s if run.first_call_at is None else 0.0
            heapq.heappush(self._queue, (unit[0] - jump, run.order, version, run.run_id))
        timed = not run.done and (
            run.start_deadline is not None
            or run.finish_deadline is not None
            or any(p.kind != "step" and p.due is not None for p in run.pending.values())
        )
        if timed:
            self._timed[run.run_id] = run
        else:
            self._timed.pop(run.run_id, None)

    def _launch_due(self, budget: int) -> int:
        """Start calls for due units, in queue order, while slots allow; return how many."""
        free = self.max_in_flight - len(self._tasks)
        if free <= 0:
            return 0
        now = self.clock.now()
        launched, later = 0, []
        while self._queue and launched < free:
            entry = heapq.heappop(self._queue)
            run = self._runs[entry[3]]
            if run.done or run.in_flight or self._versions.get(run.run_id) != entry[2]:
                continue  # stale
            unit = self._next_unit(run)
            if unit is None:
                continue
            due, item = unit
            if due > now:
                later.append(entry)  # queued ahead by its priority, but not due yet
                continue
            full = [b for b in run.buckets if self._slots.get(b, 0) >= self._limit(run, b)]
            if full:
                run.note("concurrency_limited", now, "/".join(full[0]))
                later.append(entry)
                continue
            if run.first_call_at is None and item is None and not self._throttle_admits(run, now):
                continue  # re-queued for when the throttle admits it
            if launched >= budget:
                heapq.heappush(self._queue, entry)
                raise RuntimeError("runs did not settle within the call budget (max_calls)")
            self._launch(run, item, now)
            launched += 1
        for entry in later:
            heapq.heappush(self._queue, entry)
        return launched

    def _limit(self, run: Run, bucket: Bucket) -> int:
        flow = self.registry.flow(run.function_id)
        for limit, own in zip(flow.concurrency, run.buckets, strict=False):
            if own == bucket:
                return limit.limit
        return 1 << 30

    def _throttle_admits(self, run: Run, now: float) -> bool:
        """Whether the throttle lets the run start now; if not, it is due when it would."""
        throttle = self.registry.flow(run.function_id).throttle
        if throttle is None:
            return True
        key = (run.function_id, key_of(throttle.key, run.event))
        allow_at = self._throttle.admit(key, throttle, now)
        if allow_at is None:
            return True
        run.due = allow_at
        detail = f"{throttle.limit} per {throttle.period_s:g}s, burst {throttle.burst}"
        run.note("throttled", now, detail)
        self._refresh(run)
        return False

    def start(
        self,
        fn_id: str,
        event: dict[str, Any],
        parent: tuple[str, str] | None = None,
        *,
        events: list[dict[str, Any]] | None = None,
    ) -> Run:
        """A new run of `fn_id` for `event` (and a batch's `events`), due now."""
        now, flow = self.clock.now(), self.registry.flow(fn_id)
        self._sequence += 1
        run = Run(
            run_id=new_ulid(),
            function_id=fn_id,
            event=event,
            events=list(events or [event]),
            due=now,
            parent=parent,
            started_at=now,
            order=self._sequence,
            priority_s=priority_of(flow, event),
            buckets=tuple(limit.bucket(fn_id, event) for limit in flow.concurrency),
        )
        if flow.start_timeout_s is not None:
            run.start_deadline = now + flow.start_timeout_s
        if flow.singleton is not None:
            run.singleton_key = key_of(flow.singleton.key, event)
        self._runs[run.run_id] = run
        self._active[run.run_id] = run
        self.guard.started(run.run_id, run.events)
        self._track(run)
        self._wake.set()
        return run
