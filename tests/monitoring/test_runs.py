"""The runs API's pure parts: the cursor, the query model's bounds, cost per function."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from inngest_app.monitoring.runs import Cursor, RunsParameterError, parse_runs_query
from inngest_app.monitoring.stats import function_cost

NOW = dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC)


def test_a_cursor_round_trips_to_the_microsecond() -> None:
    cursor = Cursor(started_at=NOW + dt.timedelta(microseconds=7), run_id="01J|odd:id")
    token = cursor.encode()
    assert "=" not in token and "/" not in token and "+" not in token
    assert Cursor.decode(token) == cursor


@pytest.mark.parametrize(
    "token", ["", "!!", "bm9wZQ", Cursor(started_at=NOW, run_id="x").encode()[:-3]]
)
def test_a_foreign_cursor_is_refused_naming_it(token: str) -> None:
    with pytest.raises(RunsParameterError) as caught:
        Cursor.decode(token)
    assert caught.value.field == "cursor"


def test_the_window_defaults_and_dates() -> None:
    default = parse_runs_query([], now=NOW)
    assert (default.start, default.end, default.limit) == (NOW - dt.timedelta(days=30), NOW, 50)
    days = parse_runs_query([("from", "2026-12-01"), ("to", "2026-12-01")], now=NOW)
    assert days.start == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert days.end == dt.datetime(2026, 12, 2, tzinfo=dt.UTC)  # `to` as a date: its whole day
    naive = parse_runs_query([("to", "2026-12-01T10:00:00")], now=NOW)
    assert naive.end == dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    assert parse_runs_query([("functionId", ""), ("limit", "200")], now=NOW).function_id is None
    with pytest.raises(RunsParameterError, match="^from: the window may span at most 366 days"):
        parse_runs_query([("from", "2025-12-03"), ("to", "2026-12-04")], now=NOW)


def test_cost_per_function_uses_the_totals_formula_and_rounding() -> None:
    assert (
        function_cost(3, 2, cost_per_step=Decimal("0.0001"), cost_per_run=Decimal("0.01")) == 0.0203
    )
    assert function_cost(1, 0, cost_per_step=Decimal("0.00000049"), cost_per_run=Decimal(0)) == 0.0
    # to 6 decimals, a tie away from zero, as Postgres rounds the total
    assert (
        function_cost(5, 0, cost_per_step=Decimal("0.0000005"), cost_per_run=Decimal(0)) == 0.000003
    )
    assert (
        function_cost(3, 0, cost_per_step=Decimal("0.0000005"), cost_per_run=Decimal(0)) == 0.000002
    )
