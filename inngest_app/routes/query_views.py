"""The query API's public views: a query as JSON, and its progress as server-sent events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from inngest_app.repos.queries import TERMINAL, QueriesRepo, Query

STREAM_POLL_S = 0.5
STREAM_MAX_S = 3600.0


def present(query: Query) -> dict[str, Any]:
    """The public view of a query (no run internals)."""
    return {
        "id": str(query.id),
        "userId": query.user_id,
        "status": query.status,
        "pagesCompleted": query.pages_completed,
        "rowsInserted": query.rows_inserted,
        "maxPages": query.max_pages,
        "maxRows": query.max_rows,
        "lastError": query.last_error,
        "errorCode": query.error_code,
        "resumable": query.status == "paused" or (query.status == "failed" and query.retriable),
        "resumeAfter": query.resume_after.isoformat() if query.resume_after else None,
        "createdAt": query.created_at.isoformat(),
        "updatedAt": query.updated_at.isoformat(),
        "completedAt": query.completed_at.isoformat() if query.completed_at else None,
    }


class CountedStream(StreamingResponse):
    """A streaming response that calls `release` once it is over, however it ends."""

    def __init__(self, release: Callable[[], None], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


async def progress(
    repo: QueriesRepo, query: Query, *, token_left_s: float | None = None
) -> AsyncIterator[bytes]:
    """`progress` events whenever the query changes; the last one carries a terminal status.
    An `expired` event ends the stream when the caller's token does (`token_left_s`)."""
    last: dict[str, Any] | None = None
    expires = token_left_s is not None and token_left_s <= STREAM_MAX_S
    deadline = time.monotonic() + (
        STREAM_MAX_S if token_left_s is None else min(token_left_s, STREAM_MAX_S)
    )
    current: Query | None = query
    while current is not None and time.monotonic() < deadline:
        view = present(current)
        if view != last:
            yield f"event: progress\ndata: {json.dumps(view)}\n\n".encode()
            last = view
        if current.status in TERMINAL or current.status == "paused":
            return
        await asyncio.sleep(min(STREAM_POLL_S, max(0.0, deadline - time.monotonic())))
        current = await repo.get(query.id)
    if expires and time.monotonic() >= deadline:
        yield b'event: expired\ndata: {"error": "token expired", "code": "token_expired"}\n\n'
