"""Event validation, completion and the ids derived from the SDK's seed header."""

from __future__ import annotations

import pytest

from inngest_app.testing.events import check_event, complete_event, seeded_id
from inngest_app.testing.runs import new_ulid, parse_duration, parse_time


@pytest.mark.parametrize(
    "event",
    [[], {"data": {}}, {"name": ""}, {"name": "a/b", "data": "x"}, {"name": "inngest/x"}],
)
def test_bad_or_reserved_events_are_refused(event: object) -> None:
    with pytest.raises(ValueError):
        check_event(event)


def test_the_platform_may_send_reserved_names() -> None:
    check_event({"name": "inngest/function.failed", "data": {}}, internal=True)


def test_missing_fields_are_filled_and_given_ones_kept() -> None:
    filled = complete_event({"name": "a/b"}, now_ms=1000)
    assert filled["data"] == {} and filled["ts"] == 1000 and len(filled["id"]) == 26
    kept = complete_event({"name": "a/b", "id": "x", "ts": 5, "data": {"k": 1}}, now_ms=1000)
    assert kept == {"name": "a/b", "id": "x", "ts": 5, "data": {"k": 1}}


def test_seeded_ids_are_deterministic_per_index() -> None:
    seed = "1700000000000,AAECAwQFBgcICQ=="
    assert seeded_id(seed, 0) == seeded_id(seed, 0) != seeded_id(seed, 1)
    assert seeded_id("garbage", 0) is None and seeded_id(None, 0) is None
    assert complete_event({"name": "a/b"}, now_ms=1, seed=seed)["id"] == seeded_id(seed, 0)


def test_ulids_sort_by_time() -> None:
    assert new_ulid(1000) < new_ulid(2000)
    assert new_ulid(0, 0) == "0" * 26


def test_durations_and_times() -> None:
    assert parse_duration("1h30m") == 5400 and parse_duration(2500) == 2.5
    assert parse_duration(None) is None
    with pytest.raises(ValueError):
        parse_duration("soon")
    assert parse_time("2026-01-01T00:00:00.000Z") == parse_time("2026-01-01T00:00:00")
