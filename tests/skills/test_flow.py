"""skill-execute's flow-control numbers: the start timeout covers the allowance's backlog, and
the idempotency key tells a resend from a duplicate."""

from __future__ import annotations

import datetime as dt

import pytest

from inngest_app.skills.flow import (
    IDEMPOTENCY,
    START_MARGIN,
    execute_event_id,
    start_timeout,
    throttle_backlog,
)
from inngest_app.testing.expressions import compile_expression


@pytest.mark.parametrize(
    ("allowance", "minutes"), [(1, 0), (10, 1), (11, 1), (12, 2), (100, 10), (101, 10), (250, 25)]
)
def test_the_backlog_is_when_the_last_run_of_a_full_burst_starts(
    allowance: int, minutes: int
) -> None:
    # 10 a minute with burst 1: run n (from 0) starts at 6 n seconds
    assert throttle_backlog(allowance) == dt.timedelta(minutes=minutes)
    last_start_s = (allowance - 1) * 6
    assert throttle_backlog(allowance).total_seconds() >= last_start_s


def test_the_start_timeout_is_the_backlog_plus_a_margin() -> None:
    assert START_MARGIN == dt.timedelta(minutes=5)
    assert start_timeout(100) == dt.timedelta(minutes=15)
    assert start_timeout(60) == dt.timedelta(minutes=11)
    assert start_timeout(1) == dt.timedelta(minutes=5)


def test_the_idempotency_key_includes_the_resend_number() -> None:
    key = compile_expression(IDEMPOTENCY, frozenset({"event"})).key

    def of(data: dict[str, object]) -> str:
        return key({"event": {"data": data}})

    assert of({"runId": "r1", "resend": 0}) == of({"runId": "r1"}) == "r1:0"
    assert of({"runId": "r1", "resend": 1}) == "r1:1"
    assert of({"runId": "r2", "resend": 1}) != of({"runId": "r1", "resend": 1})


def test_event_ids_per_send() -> None:
    assert execute_event_id("r1", 0) == "skill-execute-r1"
    assert execute_event_id("r1", 2) == "skill-execute-r1-2"
