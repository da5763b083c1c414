"""Queries: `execute-query` fetches a query's pages, one durable step a page.

Guards against a double run: the platform's concurrency limit of 1 keyed by query id, and a
compare-and-set on the query's status (`claim`) in the database. One module per part:
`events` (what starts and cancels a run), `execute` (the run), `pages` (its step bodies),
`failure` (a run that failed for good); each body a module-level handler taking its
dependencies, bound here.
"""

from __future__ import annotations

from typing import Any

import inngest

from functions.queries.events import QUERY_CANCELLED, QUERY_ID_OF_EVENT, QUERY_REQUESTED
from functions.queries.execute import execute_handler
from functions.queries.failure import run_failed_handler
from inngest_app.queries.fetch import SourceClient
from inngest_app.repos.queries import QueriesRepo
from inngest_app.services import Services

__all__ = ["QUERY_CANCELLED", "QUERY_REQUESTED", "build"]


def build(services: Services) -> list[inngest.Function[Any]]:
    """The query executor, bound to `services`."""
    settings = services.settings

    async def mark_run_failed(ctx: inngest.Context) -> None:
        await run_failed_handler(ctx, repo=QueriesRepo(services.transport))

    @services.inngest.create_function(
        fn_id="execute-query",
        name="Execute query",
        trigger=inngest.TriggerEvent(event=QUERY_REQUESTED),
        retries=3,
        on_failure=mark_run_failed,
        concurrency=[inngest.Concurrency(limit=1, key=QUERY_ID_OF_EVENT)],
        cancel=[
            inngest.Cancel(
                event=QUERY_CANCELLED, if_exp=f"async.data.query_id == {QUERY_ID_OF_EVENT}"
            )
        ],
    )
    async def execute_query(ctx: inngest.Context) -> dict[str, Any]:
        client = SourceClient(
            services.outbound,
            max_bytes=settings.query_max_response_bytes,
            deadline_s=settings.query_request_deadline_s,
        )
        return await execute_handler(
            ctx,
            repo=QueriesRepo(services.transport),
            settings=settings,
            client=client,
            send=services.inngest.send,
        )

    return [execute_query]
