"""The manual clock, the mapping of the app's wall-clock times, and retry backoff."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from inngest_app.testing.clock import (
    ManualClock,
    RealClock,
    default_backoff,
    exponential_backoff,
    no_backoff,
)


def test_the_manual_clock_moves_only_forward_and_only_when_told() -> None:
    clock = ManualClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    start = clock.now()
    clock.advance(30)
    clock.advance_to(start + 10)  # the past: no change
    assert clock.now() == start + 30
    clock.advance_to(dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    assert clock.now() == start + 86400
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.advance_to(dt.datetime(2027, 1, 1))  # naive: ambiguous


def test_wall_clock_times_keep_their_distance_from_now_on_a_manual_clock() -> None:
    clock = ManualClock()
    clock.advance(86400)
    sent = time.time()
    in_an_hour = sent + 3600  # what the app computes for a one-hour sleep
    assert clock.from_wall(in_an_hour, sent) == clock.now() + 3600
    assert RealClock().from_wall(in_an_hour, sent) == in_an_hour


def test_backoff_is_free_on_a_manual_clock_and_exponential_with_a_cap_otherwise() -> None:
    assert default_backoff(ManualClock()) is no_backoff
    backoff = exponential_backoff(base_s=2, cap_s=10)
    assert [backoff(n) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 10, 10]
    assert default_backoff(RealClock())(1) > 0
