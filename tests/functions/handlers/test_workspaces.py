"""The workspace handlers alone: a fake repository and a fake step context, slices made small."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import inngest
import pytest

from functions.workspaces.changes import repository_change_handler
from functions.workspaces.cleanup import cleanup_handler
from functions.workspaces.fan_out import fan_out_handler
from inngest_app.github.events import DISCOVER
from inngest_app.repos.workspaces import RepositoryState
from inngest_app.workspaces.events import (
    AGGREGATE,
    CLEANUP,
    FAN_OUT,
    RECOMPUTE,
    REPOSITORY_CHANGE,
)
from tests.fakes import fake_context, step_of

# a cron tick a few seconds after midnight: its day's yesterday is the day aggregated
TICK = dt.datetime(2026, 3, 1, 0, 0, 5, tzinfo=dt.UTC)
WORKSPACES = sorted(uuid.UUID(int=i * 7919) for i in range(1, 6))
WS = uuid.UUID("00000000-0000-4000-8000-00000000000a")


class FakeWorkspaces:
    """Workspace ids in order, and rows past retention to delete."""

    def __init__(self, *, expired: int = 0, state: RepositoryState | None = None) -> None:
        self.expired = expired
        self.state = state
        self.cleanup_days: list[dt.date] = []

    async def ids_page(self, *, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        return [w for w in WORKSPACES if after is None or w > after][:limit]

    async def cleanup_batch(self, *, today: dt.date, limit: int) -> int:
        self.cleanup_days.append(today)
        deleted = min(limit, self.expired)
        self.expired -= deleted
        return deleted

    async def repository_state(self, **names: Any) -> RepositoryState:
        assert self.state is not None
        return self.state


async def _fan_out(ctx: inngest.Context) -> dict[str, Any]:
    """The fan-out over `WORKSPACES`, 2 a page, 2 pages a run, a 3-day window."""
    repo = FakeWorkspaces()
    return await fan_out_handler(ctx, repo=repo, batch=2, pages=2, trailing_days=3)  # type: ignore[arg-type]


async def test_the_fan_out_sends_each_workspace_once_and_hands_over_after_its_pages() -> None:
    ctx = fake_context("inngest/scheduled.timer", ts=TICK)
    result = await _fan_out(ctx)

    assert result == {"date": "2026-02-28", "workspaces": 4}
    step = step_of(ctx)
    assert step.ids == [
        "list-workspaces-0",
        "fan-out-0",
        "list-workspaces-1",
        "fan-out-1",
        "hand-over",
    ]
    aggregations = [e for _, batch in step.sent[:2] for e in batch]
    assert [(e.name, e.id, dict(e.data)) for e in aggregations] == [
        (
            AGGREGATE,
            f"aggregate-{ws}-2026-02-28",
            {"workspaceId": str(ws), "date": "2026-02-28", "days": 3},
        )
        for ws in WORKSPACES[:4]
    ]
    (handover,) = step.sent[2][1]
    assert (handover.name, handover.id) == (
        FAN_OUT,
        f"aggregate-fan-out-2026-02-28-{WORKSPACES[3]}",
    )

    # the continuation goes on after the last workspace sent, for the same day
    follow = fake_context(FAN_OUT, dict(handover.data), ts=TICK + dt.timedelta(days=1))
    more = await _fan_out(follow)
    assert more == {"date": "2026-02-28", "workspaces": 1}
    assert [e.data["workspaceId"] for e in step_of(follow).events()] == [str(WORKSPACES[4])]
    assert step_of(follow).ids == ["list-workspaces-0", "fan-out-0"]


async def test_cleanup_works_in_batches_and_hands_over_with_a_deterministic_id() -> None:
    repo = FakeWorkspaces(expired=7)
    ctx = fake_context(CLEANUP, {"today": "2026-03-01", "round": 4})
    result = await cleanup_handler(ctx, repo=repo, batch=3, batches=2)  # type: ignore[arg-type]

    assert result == {"deleted": 6, "batches": 2, "today": "2026-03-01"}
    step = step_of(ctx)
    assert step.ids == ["delete-batch-0", "delete-batch-1", "hand-over"]
    (handover,) = step.events()
    assert (handover.name, handover.id, dict(handover.data)) == (
        CLEANUP,
        "cleanup-2026-03-01-5",
        {"today": "2026-03-01", "round": 5},
    )
    assert repo.cleanup_days == [dt.date(2026, 3, 1)] * 2


async def test_an_added_repository_never_captured_is_discovered_then_recomputed() -> None:
    state = RepositoryState(known=False, captured=False, owner="octo", name="hello")
    ctx = fake_context(
        REPOSITORY_CHANGE,
        {
            "workspaceId": str(WS),
            "action": "added",
            "repository": {"owner": "octo", "name": "hello"},
        },
    )
    result = await repository_change_handler(ctx, repo=FakeWorkspaces(state=state))  # type: ignore[arg-type]

    assert result == {"workspaceId": str(WS), "discovered": True}
    step = step_of(ctx)
    assert step.ids == ["repository-state", "discover-repository", "request-recompute"]
    assert [(e.name, dict(e.data)) for e in step.events()] == [
        (DISCOVER, {"repository": {"owner": "octo", "name": "hello"}}),
        (RECOMPUTE, {"workspaceId": str(WS)}),
    ]


async def test_a_change_naming_no_repository_is_not_retried() -> None:
    ctx = fake_context(REPOSITORY_CHANGE, {"workspaceId": str(WS), "action": "removed"})
    with pytest.raises(inngest.NonRetriableError, match="repositoryId or repository"):
        await repository_change_handler(ctx, repo=FakeWorkspaces())  # type: ignore[arg-type]
    assert step_of(ctx).ids == []
