"""Queries and their result rows."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel

from inngest_app.store import Transport

QueryStatus = Literal["pending", "running", "paused", "completed", "failed", "cancelled"]
TERMINAL = frozenset({"completed", "failed", "cancelled"})


class Query(BaseModel):
    """A query's state: its config, progress and checkpoint."""

    id: uuid.UUID
    user_id: str
    config: dict[str, Any]
    status: QueryStatus
    run_id: str | None
    pages_completed: int
    rows_inserted: int
    next_cursor: Any
    max_pages: int
    max_rows: int
    last_error: str | None
    error_code: str | None
    retriable: bool
    resume_after: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None


class Claim(BaseModel):
    """Result of the compare-and-set that lets one run own a query."""

    claimed: bool
    query: Query


class StoredPage(BaseModel):
    """Result of storing one page: `stored` is false for a replay or a query no longer running."""

    stored: bool
    inserted: int = 0
    reason: str | None = None
    query: Query


class HandOver(BaseModel):
    """Result of handing a running query to the next run: the token that run claims it with."""

    handed_over: bool
    token: str
    query: Query


class ResultRow(BaseModel):
    """One stored row."""

    id: int
    key: str
    page: int
    row: Any


class ResultsPage(BaseModel):
    """Rows after a keyset position, and the position to continue from."""

    rows: list[ResultRow]
    next: int | None


class Resumed(BaseModel):
    """Result of a capped resume: `limited` when the user is at the running-queries cap."""

    resumed: bool
    limited: bool
    query: Query | None


def _maybe(model: type[Query], value: Any) -> Query | None:
    return None if value is None else model.model_validate(value)


class QueriesRepo:
    """Every data operation on queries, each one SQL function (one transaction)."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def create(
        self, *, user_id: str, config: dict[str, Any], max_pages: int, max_rows: int
    ) -> Query:
        """A new pending query."""
        row = await self._t.call(
            "query_create",
            {
                "p_user_id": user_id,
                "p_config": config,
                "p_max_pages": max_pages,
                "p_max_rows": max_rows,
            },
        )
        return Query.model_validate(row)

    async def create_limited(
        self,
        *,
        user_id: str,
        config: dict[str, Any],
        max_pages: int,
        max_rows: int,
        max_active: int,
    ) -> Query | None:
        """A new pending query, or None when `user_id` already has `max_active` pending or
        running ones (counted and inserted under a per-user lock)."""
        result = await self._t.call(
            "query_create_limited",
            {
                "p_user_id": user_id,
                "p_config": config,
                "p_max_pages": max_pages,
                "p_max_rows": max_rows,
                "p_max_active": max_active,
            },
        )
        return Query.model_validate(result["query"]) if result["created"] else None

    async def resume_limited(self, query_id: uuid.UUID, *, max_active: int) -> Resumed:
        """`resume`, unless the query's user already has `max_active` pending or running ones."""
        args = {"p_id": query_id, "p_max_active": max_active}
        return Resumed.model_validate(await self._t.call("query_resume_limited", args))

    async def get(self, query_id: uuid.UUID) -> Query | None:
        """The query, or None."""
        return _maybe(Query, await self._t.call("query_get", {"p_id": query_id}))

    async def claim(self, query_id: uuid.UUID, run_id: str) -> Claim:
        """Take a pending query for `run_id` (idempotent for the same run)."""
        return Claim.model_validate(
            await self._t.call("query_claim", {"p_id": query_id, "p_run_id": run_id})
        )

    async def hand_over(self, query_id: uuid.UUID, run_id: str, *, pages: int) -> HandOver:
        """Leave the query running but owned by a hand-over token (for the run that continues
        it after `pages` pages); idempotent for the same run and checkpoint."""
        args = {"p_id": query_id, "p_run_id": run_id, "p_pages": pages}
        return HandOver.model_validate(await self._t.call("query_hand_over", args))

    async def claim_handed(self, query_id: uuid.UUID, run_id: str, *, token: str) -> Claim:
        """The continuation run takes a handed-over query (idempotent for the same run)."""
        args = {"p_id": query_id, "p_run_id": run_id, "p_token": token}
        return Claim.model_validate(await self._t.call("query_claim_handed", args))

    async def store_page(
        self,
        query_id: uuid.UUID,
        run_id: str,
        *,
        page: int,
        rows: list[dict[str, Any]],
        next_cursor: Any,
        done: bool,
    ) -> StoredPage:
        """Rows `[{"key", "row"}]` and the checkpoint, atomically; a replayed page counts once."""
        result = await self._t.call(
            "query_store_page",
            {
                "p_id": query_id,
                "p_run_id": run_id,
                "p_page": page,
                "p_rows": rows,
                "p_next_cursor": next_cursor,
                "p_done": done,
            },
        )
        return StoredPage.model_validate(result)

    async def complete(self, query_id: uuid.UUID, run_id: str) -> Query | None:
        """Mark the query completed (only while this run holds it)."""
        args = {"p_id": query_id, "p_run_id": run_id}
        return _maybe(Query, await self._t.call("query_complete", args))

    async def pause(
        self, query_id: uuid.UUID, run_id: str, *, error: str, code: str, resume_after: dt.datetime
    ) -> Query | None:
        """Pause on a rate limit until `resume_after`."""
        args = {
            "p_id": query_id,
            "p_run_id": run_id,
            "p_error": error,
            "p_code": code,
            "p_resume_after": resume_after,
        }
        return _maybe(Query, await self._t.call("query_pause", args))

    async def unpause(self, query_id: uuid.UUID, run_id: str) -> Query | None:
        """The same run takes a paused query back (auto-resume)."""
        args = {"p_id": query_id, "p_run_id": run_id}
        return _maybe(Query, await self._t.call("query_unpause", args))

    async def fail(
        self, query_id: uuid.UUID, run_id: str | None, *, error: str, code: str, retriable: bool
    ) -> Query | None:
        """Mark failed; `retriable` says whether the user may resume it."""
        args = {
            "p_id": query_id,
            "p_run_id": run_id,
            "p_error": error,
            "p_code": code,
            "p_retriable": retriable,
        }
        return _maybe(Query, await self._t.call("query_fail", args))

    async def resume(self, query_id: uuid.UUID) -> Query | None:
        """Paused or retriably failed → pending; None if the query is in no such state."""
        return _maybe(Query, await self._t.call("query_resume", {"p_id": query_id}))

    async def cancel(self, query_id: uuid.UUID) -> Query | None:
        """Cancel unless already finished; None if it was."""
        return _maybe(Query, await self._t.call("query_cancel", {"p_id": query_id}))

    async def results(self, query_id: uuid.UUID, *, after: int | None, limit: int) -> ResultsPage:
        """Up to `limit` rows after row id `after`."""
        args = {"p_id": query_id, "p_after": after, "p_limit": limit}
        return ResultsPage.model_validate(await self._t.call("query_results_page", args))
