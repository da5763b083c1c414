"""`app/ping`'s handler alone: a fake pings repository and a fake step context."""

from __future__ import annotations

import datetime as dt

import inngest
import pytest

from functions.ping import PING, ping_handler
from inngest_app.repos.pings import PingRecord
from tests.fakes import fake_context, step_of

AT = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


class FakePings:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, str]] = []

    async def record(self, *, run_id: str, step: str, message: str) -> PingRecord:
        self.records.append((run_id, step, message))
        return PingRecord(run_id=run_id, step=step, message=message, recorded_at=AT)


async def test_ping_records_around_its_sleep() -> None:
    repo = FakePings()
    ctx = fake_context(PING, {"message": "hi", "pause_s": 2.5}, run_id="run-p")
    result = await ping_handler(ctx, repo=repo)  # type: ignore[arg-type]

    assert step_of(ctx).ids == ["record-ping", "pause", "record-pong"]
    assert step_of(ctx).sleeps == [("pause", dt.timedelta(seconds=2.5))]
    assert repo.records == [("run-p", "ping", "hi"), ("run-p", "pong", "hi")]
    assert result["message"] == "hi"
    assert (result["ping"]["step"], result["pong"]["step"]) == ("ping", "pong")


@pytest.mark.parametrize("data", [{"message": ""}, {"pause_s": -1}, {"pause_s": 3601}])
async def test_a_bad_ping_is_not_retried_and_records_nothing(data: dict[str, object]) -> None:
    repo = FakePings()
    ctx = fake_context(PING, data)
    with pytest.raises(inngest.NonRetriableError):
        await ping_handler(ctx, repo=repo)  # type: ignore[arg-type]
    assert repo.records == [] and step_of(ctx).ids == []
