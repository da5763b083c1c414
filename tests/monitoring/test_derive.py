"""Pure derivations: trigger type and ids from whatever the event carries."""

from __future__ import annotations

from typing import Any

import pytest

from inngest_app.monitoring.derive import ids, metadata, trigger_type
from inngest_app.monitoring.stats import StatsParameterError, parse_stats_query


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("inngest/scheduled.timer", {"cron": "0 * * * *"}, "scheduled"),
        ("stripe/invoice.paid", {}, "webhook"),
        ("stripe/invoice.paid", {"triggerType": "test"}, "test"),
        ("app/ping", {"triggerType": "polling"}, "polling"),
        ("app/ping", {"triggerType": "nonsense"}, "event"),
        ("app/ping", None, "event"),
        ("app/ping", ["not", "a", "dict"], "event"),
    ],
)
def test_trigger_type(name: str, data: Any, expected: str) -> None:
    assert trigger_type(name, data) == expected


def test_ids_follow_the_naming_conventions_and_ignore_odd_shapes() -> None:
    assert ids({"userId": "u1", "workflowId": 7, "runId": "r9"}) == {
        "user_id": "u1",
        "workflow_id": "7",
        "execution_id": "r9",
    }
    assert ids({"user_id": "u2", "executionId": "e1"})["execution_id"] == "e1"
    assert ids({"userId": {"nested": 1}, "workflowId": True, "executionId": None}) == {
        "user_id": None,
        "workflow_id": None,
        "execution_id": None,
    }
    assert ids("garbage") == {"user_id": None, "workflow_id": None, "execution_id": None}
    assert metadata("inngest/scheduled.timer", {"cron": "*/5 * * * *"}) == {"cron": "*/5 * * * *"}


def test_stats_parameters() -> None:
    import datetime as dt

    now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    query = parse_stats_query({"startDate": "2026-11-01", "endDate": "2026-11-21"}, now=now)
    assert query.start == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert query.end == dt.datetime(2026, 11, 22, tzinfo=dt.UTC)  # endDate includes its day
    for params, name in [
        ({"startDate": "yesterday"}, "startDate"),
        ({"limit": "5"}, "limit"),
        ({"startDate": "2026-11-10", "endDate": "2026-11-01"}, "startDate"),
    ]:
        with pytest.raises(StatsParameterError, match=f"^{name}"):
            parse_stats_query(params, now=now)
