"""Clocks and retry backoff for the executor: a manual clock for tests, the real one for dev.

The served app computes sleep targets and `Retry-After` dates from its own wall clock. The
executor maps those absolute times onto its clock with `from_wall(at, wall_now)`, where
`wall_now` is the wall-clock time that corresponds to the clock's `now()` (when the call that
reported them was sent): identity for `RealClock`; for `ManualClock`, the same distance from
`now()`, so a 30-minute sleep takes 30 minutes of manual time even after the test has jumped a
day ahead.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Protocol

Backoff = Callable[[int], float]
"""Seconds to wait before retry number `attempt` (1 for the first retry)."""


class Clock(Protocol):
    """Seconds since the epoch, as the executor sees them."""

    def now(self) -> float:
        """The current time."""
        ...

    def from_wall(self, at: float, wall_now: float) -> float:
        """The time on this clock of `at`, a time the app read from its wall clock, given the
        wall-clock time `wall_now` that stands for this clock's `now()`."""
        ...


class RealClock:
    """Wall-clock time: sleeps last as long as they say."""

    def now(self) -> float:
        """The current time."""
        return time.time()

    def from_wall(self, at: float, wall_now: float) -> float:
        """Wall-clock times are this clock's times."""
        return at


class ManualClock:
    """Time that moves only when a test moves it (it starts at the real time of creation)."""

    def __init__(self, start: float | dt.datetime | None = None) -> None:
        if isinstance(start, dt.datetime):
            start = _timestamp(start)
        self._now = time.time() if start is None else start

    def now(self) -> float:
        """The current time."""
        return self._now

    def from_wall(self, at: float, wall_now: float) -> float:
        """As far from `now()` as `at` is from `wall_now`."""
        return self._now + (at - wall_now)

    def advance(self, seconds: float) -> None:
        """Move forward by `seconds`."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds

    def advance_to(self, at: float | dt.datetime) -> None:
        """Move forward to `at` (unix seconds or an aware datetime); a past time changes nothing."""
        target = _timestamp(at) if isinstance(at, dt.datetime) else at
        self._now = max(self._now, target)


def _timestamp(at: dt.datetime) -> float:
    if at.tzinfo is None:
        raise ValueError("use an aware datetime (e.g. tzinfo=datetime.UTC)")
    return at.timestamp()


def no_backoff(attempt: int) -> float:
    """Retry at once: the default on a `ManualClock`, where retries should cost no time."""
    return 0.0


def exponential_backoff(base_s: float = 2.0, cap_s: float = 300.0) -> Backoff:
    """`base_s * 2**(attempt-1)`, capped at `cap_s`: Inngest's shape, shorter for development."""

    def backoff(attempt: int) -> float:
        return float(min(base_s * 2 ** max(attempt - 1, 0), cap_s))

    return backoff


def default_backoff(clock: Clock) -> Backoff:
    """No backoff on a manual clock; exponential backoff on any other."""
    return no_backoff if isinstance(clock, ManualClock) else exponential_backoff()
