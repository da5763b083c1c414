"""Clocks for the executor: a manual one for tests, the real one for offline development."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Seconds since the epoch, as the executor sees them."""

    def now(self) -> float:
        """The current time."""
        ...


class RealClock:
    """Wall-clock time: sleeps last as long as they say."""

    def now(self) -> float:
        """The current time."""
        return time.time()


class ManualClock:
    """Time that moves only when a test moves it (starts at the real time of creation)."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start

    def now(self) -> float:
        """The current time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move forward by `seconds`."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds

    def advance_to(self, at: float) -> None:
        """Move forward to `at` (no-op if it is already past)."""
        self._now = max(self._now, at)
