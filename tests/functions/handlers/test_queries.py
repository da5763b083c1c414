"""`execute-query`'s handler alone: a fake repository, a fake source client, a fake step context."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import inngest
import pytest

from functions.queries.events import QUERY_REQUESTED
from functions.queries.execute import execute_handler
from inngest_app.queries.fetch import RateLimited
from inngest_app.queries.slices import handover_event_id
from inngest_app.queries.sources import Page
from inngest_app.repos.queries import Claim, HandOver, Query, StoredPage
from inngest_app.settings import Settings
from tests.fakes import fake_context, step_of

QUERY_ID = uuid.UUID("7f1c0e52-1111-4c6a-9a43-3f5d2b1e0a01")
CONFIG = {
    "source": {
        "kind": "http",
        "url": "https://api.acme.test/items",
        "results_path": "items",
        "row_key": "id",
        "pagination": {"style": "page", "size": 2},
    },
    "page_delay_s": 2,
}
CREATED = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
# a query as `query_create` stores it, before any run
QUERY_ROW: dict[str, Any] = {
    "id": QUERY_ID,
    "user_id": "user-1",
    "config": CONFIG,
    "run_id": None,
    "pages_completed": 0,
    "rows_inserted": 0,
    "next_cursor": None,
    "max_pages": 100,
    "last_error": None,
    "error_code": None,
    "retriable": False,
    "resume_after": None,
    "created_at": CREATED,
    "updated_at": CREATED,
    "completed_at": None,
}


class FakeQueries:
    """The query's row in memory, changed as the SQL functions would."""

    def __init__(self, *, status: str = "pending", max_rows: int = 1000) -> None:
        row = {**QUERY_ROW, "status": status, "max_rows": max_rows}
        self.query = Query.model_validate(row)
        self.pages: list[tuple[int, int, bool]] = []  # (page, rows kept, done)
        self.paused: list[str] = []

    def _set(self, **changes: Any) -> Query:
        self.query = self.query.model_copy(update=changes)
        return self.query

    async def claim(self, query_id: uuid.UUID, run_id: str) -> Claim:
        if self.query.status != "pending":
            return Claim(claimed=False, query=self.query)
        return Claim(claimed=True, query=self._set(status="running", run_id=run_id))

    async def store_page(
        self,
        query_id: uuid.UUID,
        run_id: str,
        *,
        page: int,
        rows: list[Any],
        next_cursor: Any,
        done: bool,
    ) -> StoredPage:
        self.pages.append((page, len(rows), done))
        state = self._set(
            pages_completed=page,
            rows_inserted=self.query.rows_inserted + len(rows),
            next_cursor=next_cursor,
            status="completed" if done else "running",
        )
        return StoredPage(stored=True, inserted=len(rows), query=state)

    async def hand_over(self, query_id: uuid.UUID, run_id: str, *, pages: int) -> HandOver:
        return HandOver(handed_over=True, token=f"token-{pages}", query=self._set(status="pending"))

    async def pause(self, query_id: uuid.UUID, run_id: str, **fields: Any) -> None:
        self.paused.append(fields["code"])
        self._set(status="paused")

    async def fail(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"the query failed: {kwargs}")


class FakeSource:
    """Full pages of two rows forever; `limited` pages answer 429 with `retry_after_s`."""

    def __init__(self, *, limited: dict[int, float] | None = None) -> None:
        self.cursors: list[Any] = []
        self.limited = dict(limited or {})

    async def fetch(self, source: Any, cursor: Any, **kwargs: Any) -> Page:
        self.cursors.append(cursor)
        if cursor in self.limited:
            raise RateLimited(self.limited.pop(cursor))
        rows = [{"key": f"{cursor}-{i}", "row": {"id": f"{cursor}-{i}"}} for i in range(2)]
        return Page(rows=rows, next_cursor=cursor + 1)


async def _run(
    repo: FakeQueries, source: FakeSource, settings: Settings, **data: Any
) -> tuple[dict[str, Any], inngest.Context, list[inngest.Event]]:
    sent: list[inngest.Event] = []

    async def send(event: inngest.Event) -> list[str]:
        sent.append(event)
        return [event.id]

    ctx = fake_context(QUERY_REQUESTED, {"queryId": str(QUERY_ID), **data}, run_id="run-a")
    result = await execute_handler(
        ctx,
        repo=repo,
        settings=settings,
        client=source,
        send=send,  # type: ignore[arg-type]
    )
    return result, ctx, sent


async def test_a_run_hands_over_before_its_slice_could_overflow() -> None:
    repo, source = FakeQueries(), FakeSource()
    # 24 steps: room for 3 pages (fetch + delay each) and the hand-over in the worst case
    result, ctx, sent = await _run(repo, source, Settings(inngest_dev=True, query_slice_steps=24))

    assert result == {"status": "handed_over", "pages": 3, "rows": 6}
    step = step_of(ctx)
    assert step.ids == [
        "claim",
        "fetch-page-1",
        "delay-after-page-1",
        "fetch-page-2",
        "delay-after-page-2",
        "fetch-page-3",
        "delay-after-page-3",
        "hand-over-after-page-3",
    ]
    assert [s for _, s in step.sleeps] == [dt.timedelta(seconds=2)] * 3
    assert source.cursors == [1, 2, 3]
    assert [(e.name, e.id, dict(e.data)) for e in sent] == [
        (
            QUERY_REQUESTED,
            handover_event_id(QUERY_ID, 3),
            {"query_id": str(QUERY_ID), "userId": "user-1", "handover": "token-3"},
        )
    ]


async def test_max_rows_ends_on_the_page_that_reaches_it_and_keeps_no_row_past_it() -> None:
    repo, source = FakeQueries(max_rows=3), FakeSource()
    result, ctx, sent = await _run(repo, source, Settings(inngest_dev=True))

    assert result == {"status": "completed", "pages": 2, "rows": 3}
    assert repo.pages == [(1, 2, False), (2, 1, True)]
    assert step_of(ctx).ids == ["claim", "fetch-page-1", "delay-after-page-1", "fetch-page-2"]
    assert sent == []


async def test_a_long_rate_limit_pauses_a_query_that_does_not_auto_resume() -> None:
    repo, source = FakeQueries(), FakeSource(limited={2: 600.0})
    result, ctx, _ = await _run(repo, source, Settings(inngest_dev=True))

    assert result["status"] == "paused" and result["page"] == 2
    assert repo.paused == ["rate_limited"]
    assert step_of(ctx).ids == ["claim", "fetch-page-1", "delay-after-page-1", "fetch-page-2"]


async def test_a_query_not_pending_is_skipped_without_a_fetch() -> None:
    repo, source = FakeQueries(status="completed"), FakeSource()
    result, ctx, _ = await _run(repo, source, Settings(inngest_dev=True))

    assert result == {"status": "completed", "skipped": "query is not pending"}
    assert step_of(ctx).ids == ["claim"] and source.cursors == []


@pytest.mark.parametrize("data", [{}, {"queryId": "not-a-uuid"}])
async def test_an_event_without_a_valid_query_id_is_not_retried(data: dict[str, Any]) -> None:
    ctx = fake_context(QUERY_REQUESTED, data)
    with pytest.raises(inngest.NonRetriableError, match="query_id|queryId"):
        await execute_handler(
            ctx,
            repo=FakeQueries(),  # type: ignore[arg-type]
            settings=Settings(inngest_dev=True),
            client=FakeSource(),  # type: ignore[arg-type]
            send=lambda e: None,  # type: ignore[arg-type,return-value]
        )
    assert step_of(ctx).ids == []
