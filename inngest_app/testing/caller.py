"""The HTTP calls to the app: one task per call in flight, its landing, and the client.

A call holds its run's concurrency slots while in flight; its answer goes to `opcodes`, a
failure to reach the app to the retries of `machine`. `calls.py` builds the request and reads
the answer.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from inngest_app.testing import calls
from inngest_app.testing.opcodes import Opcodes
from inngest_app.testing.runs import Pending, Run


class Caller(Opcodes):
    """Calls of due units to the app, up to `max_in_flight` at once."""

    def _launch(self, run: Run, item: Pending | None, now: float) -> None:
        for bucket in run.buckets:
            self._slots[bucket] = self._slots.get(bucket, 0) + 1
        if item is not None:
            item.due = None
        else:
            run.due = None
        if run.first_call_at is None:
            run.first_call_at, run.start_deadline = now, None
            finish = self.registry.flow(run.function_id).finish_timeout_s
            if finish is not None:
                run.finish_deadline = now + finish
        run.status, run.calls, run.in_flight = "running", run.calls + 1, True
        self._track(run)  # out of the queue while in flight; its finish deadline is a timer
        task = asyncio.create_task(self._call(run, item))
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._landed(done, run))

    def _landed(self, task: asyncio.Task[None], run: Run) -> None:
        self._tasks.discard(task)
        for bucket in run.buckets:
            left = self._slots.get(bucket, 0) - 1
            if left > 0:
                self._slots[bucket] = left
            else:
                self._slots.pop(bucket, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            self._errors.append(error)
        self._wake.set()

    async def _call(self, run: Run, item: Pending | None) -> None:
        runtime_url = self.registry.url(run.function_id)
        if runtime_url is None:
            run.in_flight = False
            message = f"function {run.function_id} is no longer registered"
            self._finish(run, "failed", error={"name": "ExecutorError", "message": message})
            return
        step_id, attempt = (item.step_id, item.attempt) if item else ("step", run.attempt)
        max_attempts = self.registry.max_attempts(run.function_id)
        body = calls.request_body(run, attempt=attempt, max_attempts=max_attempts)
        url = calls.call_url(runtime_url, run.function_id, step_id)
        headers = calls.request_headers(body, self.signing_key)
        answer: calls.Answer | None = None
        logged, sent_at = len(run.step_log), self.clock.now()
        try:
            answer = await calls.post(self._client(), url, body, headers, self.call_timeout_s)
        except httpx.RequestError as exc:  # unreachable, reset, timed out: retriable
            error = {"name": type(exc).__name__, "message": str(exc) or repr(exc)}
        except httpx.InvalidURL as exc:
            error = {"name": "ExecutorError", "message": f"cannot call {url!r}: {exc}"}
            self._finish(run, "failed", error=error)
        finally:
            run.in_flight = False
        if run.done or (item is not None and run.pending.get(item.step_id) is not item):
            self._refresh(run)
            return  # cancelled while the call was in flight: the answer is dropped
        if answer is None:
            self._unit_failed(run, item, error)
        else:
            self._handle(run, item, answer)
        for record in run.step_log[logged:]:  # the viewer's timeline
            record.sent_at, record.answered_at = sent_at, self.clock.now()
        self._refresh(run)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            # one kept-alive connection per call in flight: a bigger pool only costs lookups
            limits = httpx.Limits(
                max_connections=max(self.max_in_flight, 10),
                max_keepalive_connections=max(self.max_in_flight, 10),
            )
            self._http = httpx.AsyncClient(timeout=self.call_timeout_s, limits=limits)
        return self._http

    async def aclose(self) -> None:
        """Stop calls in flight and close the HTTP client the executor opened for itself (an
        injected one stays open)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None
