"""The buffered recorder: observations in memory, written in batches, never on a run's path.

Policy: `record()` only appends to a bounded buffer (the oldest observation is dropped, and
counted, when it is full). A background task writes up to `batch` observations in ONE statement
every `interval_s`, or at once when a full batch is waiting. If the database is down the batch
goes back to the buffer (so does one that takes longer than `write_timeout_s`), one warning is
logged for the whole outage, and writes are retried with a capped backoff; a line is logged when
they succeed again. `stop()` drains the buffer (within
`drain_timeout_s`), so a clean shutdown loses nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from inngest_app.monitoring.metrics import RunMetrics
from inngest_app.repos.executions import ExecutionsRepo

logger = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0


class Recorder:
    """Buffers observations and flushes them in batches (a `Lifecycle` of the app)."""

    def __init__(
        self,
        repo: Callable[[], ExecutionsRepo],
        metrics: RunMetrics,
        *,
        interval_s: float,
        batch: int,
        buffer_max: int,
        drain_timeout_s: float = 10.0,
        write_timeout_s: float = 10.0,
    ) -> None:
        self._repo = repo
        self.metrics = metrics
        self._interval_s, self._batch, self._max = interval_s, batch, buffer_max
        self._drain_timeout_s = drain_timeout_s
        self._write_timeout_s = write_timeout_s
        self._buffer: collections.deque[dict[str, Any]] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._outage = False
        self.dropped = 0
        self.written = 0
        metrics.track_buffer(lambda: len(self._buffer))

    @property
    def depth(self) -> int:
        """Observations waiting to be written."""
        return len(self._buffer)

    def record(self, observation: dict[str, Any]) -> None:
        """Queue one observation. Never blocks, never raises."""
        if len(self._buffer) >= self._max:
            self._buffer.popleft()
            self.dropped += 1
            self.metrics.dropped.inc()
        self._buffer.append(observation)
        if len(self._buffer) >= self._batch:
            self._wake.set()

    async def start(self) -> None:
        """Start the background flush loop."""
        self._task = asyncio.create_task(self._loop(), name="monitoring-recorder")

    async def stop(self) -> None:
        """Stop the loop and drain what is buffered."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        deadline = asyncio.get_running_loop().time() + self._drain_timeout_s
        while self._buffer and asyncio.get_running_loop().time() < deadline:
            if not await self.flush():
                await asyncio.sleep(0.2)
        if self._buffer:
            logger.error("monitoring: %d observations not written at shutdown", len(self._buffer))

    async def flush(self) -> bool:
        """Write one batch; False if the store refused it (the batch stays buffered)."""
        if not self._buffer:
            return True
        batch = [self._buffer.popleft() for _ in range(min(self._batch, len(self._buffer)))]
        try:
            # a write stuck on a half-dead connection must not stall the recorder
            await asyncio.wait_for(self._repo().record(batch), self._write_timeout_s)
        except Exception as exc:  # any store failure: keep the batch, say so once per outage
            # back at the front, in order; past the bound the oldest go, as in `record()`
            # (observations recorded while the write was pending are newer than the batch)
            self._buffer.extendleft(reversed(batch))
            while len(self._buffer) > self._max:
                self._buffer.popleft()
                self.dropped += 1
                self.metrics.dropped.inc()
            self.metrics.flush_failures.inc()
            if not self._outage:
                self._outage = True
                logger.warning(
                    "monitoring: cannot write run records (%s); buffering up to %d and retrying",
                    type(exc).__name__,
                    self._max,
                )
            return False
        self.written += len(batch)
        if self._outage:
            self._outage = False
            logger.warning("monitoring: writing run records again (%d buffered)", len(self._buffer))
        return True

    async def _loop(self) -> None:
        backoff = self._interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            self._wake.clear()
            ok = True
            while ok and self._buffer:
                ok = await self.flush()
                if len(self._buffer) < self._batch:
                    break
            backoff = self._interval_s if ok else min(MAX_BACKOFF_S, max(backoff * 2, 0.5))
