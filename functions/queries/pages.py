"""The step bodies of one query run: fetch a page and store it with its checkpoint (one SQL
call, so a crash between fetch and commit repeats the fetch and counts nothing twice), and hand
the query over to a fresh run."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import inngest

from functions.queries.events import QUERY_REQUESTED
from inngest_app.queries.fetch import (
    DEFAULT_PAUSE_S,
    SHORT_RETRY_AFTER_S,
    RateLimited,
    SourceClient,
)
from inngest_app.queries.slices import handover_event_id
from inngest_app.queries.sources import Source, SourceError
from inngest_app.repos.queries import QueriesRepo

MAX_SHORT_RATE_LIMIT_RETRIES = 2  # then a 429 pauses the query even if it asked for little


def now() -> dt.datetime:
    """The wall clock (a rate limit's resume time)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class PageRun:
    """What one run of a query fetches with, and where it stores."""

    repo: QueriesRepo
    client: SourceClient
    send: Callable[[inngest.Event], Awaitable[object]]
    query_id: uuid.UUID
    run_id: str
    attempt: int
    user_id: str | None
    source: Source
    authorization: str | None
    bound_hosts: frozenset[str] | None
    max_pages: int
    max_rows: int

    async def fetch_and_store(self, page: int, cursor: Any, rows_before: int) -> dict[str, Any]:
        """Fetch page `page` at `cursor` and store its rows (up to `max_rows` in all); a long
        rate limit pauses the query, a permanent source error fails it."""
        repo, query_id, run_id = self.repo, self.query_id, self.run_id
        try:
            fetched = await self.client.fetch(
                self.source,
                cursor,
                authorization=self.authorization,
                now=now(),
                bound_hosts=self.bound_hosts,
            )
        except RateLimited as limited:
            wait_s = limited.retry_after_s
            if (
                wait_s is not None
                and wait_s <= SHORT_RETRY_AFTER_S
                and self.attempt < MAX_SHORT_RATE_LIMIT_RETRIES
            ):
                raise inngest.RetryAfterError(
                    f"rate limited on page {page}", dt.timedelta(seconds=wait_s)
                ) from None
            resume_after = now() + dt.timedelta(seconds=wait_s or DEFAULT_PAUSE_S)
            await repo.pause(
                query_id,
                run_id,
                error=f"rate limited on page {page}",
                code="rate_limited",
                resume_after=resume_after,
            )
            return {"status": "paused", "resume_after": resume_after.isoformat()}
        except SourceError as exc:
            # a request over its total deadline may be resumed by hand; the rest is final
            await repo.fail(
                query_id,
                run_id,
                error=str(exc),
                code=exc.code,
                retriable=exc.code == "deadline",
            )
            raise inngest.NonRetriableError(f"page {page}: {exc}") from None
        # maxRows: the page that reaches it is the last, and rows past it are not kept
        remaining = self.max_rows - rows_before
        last = (
            fetched.next_cursor is None or page >= self.max_pages or len(fetched.rows) >= remaining
        )
        stored = await repo.store_page(
            query_id,
            run_id,
            page=page,
            rows=fetched.rows[:remaining],
            next_cursor=fetched.next_cursor,
            done=last,
        )
        state = stored.query
        if not stored.stored and stored.reason == "not running":
            return {"status": state.status}
        # on a replay ("already stored") the committed checkpoint is the truth
        return {
            "status": "stored",
            "done": state.status == "completed",
            "next_cursor": state.next_cursor,
            "inserted": stored.inserted,
            "rows": state.rows_inserted,
        }

    async def hand_over(self, pages_done: int) -> dict[str, Any]:
        """Hand the query over to a fresh run after `pages_done` pages (one continuation event,
        whose id a retried step repeats)."""
        handed = await self.repo.hand_over(self.query_id, self.run_id, pages=pages_done)
        if handed.handed_over:  # a retried step sends the same id: one continuation run
            continuation = {
                "query_id": str(self.query_id),
                "userId": self.user_id,
                "handover": handed.token,
            }
            await self.send(
                inngest.Event(
                    name=QUERY_REQUESTED,
                    id=handover_event_id(self.query_id, pages_done),
                    data=continuation,
                )
            )
        return {"handed_over": handed.handed_over, "status": handed.query.status}

    async def mark_failed(self, message: str) -> None:
        """The query failed (retriable): a page's retries are spent."""
        await self.repo.fail(
            self.query_id,
            self.run_id,
            error=message,
            code="source_unavailable",
            retriable=True,
        )
