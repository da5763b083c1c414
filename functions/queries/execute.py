"""`execute-query`: fetch a query's pages, one durable step a page, a free sleep between pages.

Failures are raised from inside the step so the platform's retries really happen; what a
failure means for the query (pause, fail, retry) is decided by
`inngest_app.queries.fetch.classify`. After `query_slice_steps` steps the run hands the query
over to a fresh one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import inngest
from pydantic import ValidationError

from functions.queries.events import QUERY_REQUESTED, QueryRequested
from functions.queries.pages import PageRun
from inngest_app.events import describe_validation_error, parse_event
from inngest_app.queries.config import GoogleSearchSource, QueryConfig
from inngest_app.queries.credentials import CredentialRefused, authorize
from inngest_app.queries.fetch import SourceClient
from inngest_app.queries.limits import page_delay_s, run_caps
from inngest_app.queries.slices import MAX_AUTO_RESUMES, SliceBudget
from inngest_app.queries.sources import build_source
from inngest_app.repos.queries import Claim, QueriesRepo
from inngest_app.settings import Settings


async def execute_handler(
    ctx: inngest.Context,
    *,
    repo: QueriesRepo,
    settings: Settings,
    client: SourceClient,
    send: Callable[[inngest.Event], Awaitable[object]],
) -> dict[str, Any]:
    """Claim the query, then fetch and store its pages until it is done, paused, cancelled,
    failed or handed over."""
    data = parse_event(QueryRequested, ctx.event.data, event=QUERY_REQUESTED)

    async def claim() -> dict[str, Any]:
        if data.handover is not None:
            handed = await repo.claim_handed(data.query_id, ctx.run_id, token=data.handover)
            return handed.model_dump(mode="json")
        return (await repo.claim(data.query_id, ctx.run_id)).model_dump(mode="json")

    claimed = Claim.model_validate(await ctx.step.run("claim", claim))
    query = claimed.query
    if not claimed.claimed:
        return {"status": query.status, "skipped": "query is not pending"}
    try:
        config = QueryConfig.model_validate(query.config)
    except ValidationError as exc:  # stored before a config change: cannot run as it is
        raise inngest.NonRetriableError(
            f"stored query config is invalid: {describe_validation_error(exc)}"
        ) from None
    credential = None
    if config.credential:
        try:  # again here: the settings may have changed since the API accepted it
            credential = authorize(
                settings, config.credential, config.source, user_id=None, is_admin=True
            )
        except CredentialRefused as exc:
            refusal, refusal_code = exc.message, exc.code

            async def refuse() -> None:
                await repo.fail(
                    data.query_id, ctx.run_id, error=refusal, code=refusal_code, retriable=False
                )

            await ctx.step.run("refuse-credential", refuse)
            raise inngest.NonRetriableError(refusal) from None
    secret = credential.secret if credential else None
    max_pages, max_rows = run_caps(settings, max_pages=query.max_pages, max_rows=query.max_rows)
    run = PageRun(
        repo=repo,
        client=client,
        send=send,
        query_id=data.query_id,
        run_id=ctx.run_id,
        attempt=ctx.attempt,
        user_id=query.user_id,
        source=build_source(config.source, credential=secret),
        # Google's key travels as a parameter (the preset adds it); others get a header
        authorization=None if isinstance(config.source, GoogleSearchSource) else secret,
        bound_hosts=credential.hosts if credential else None,
        max_pages=max_pages,
        max_rows=max_rows,
    )
    delay_s = page_delay_s(config, settings)
    page = query.pages_completed + 1
    cursor = query.next_cursor if query.pages_completed else run.source.first_cursor()
    rows = query.rows_inserted
    waits = 0  # long rate limits waited out on the current page (auto-resume)
    budget = SliceBudget(settings.query_slice_steps)
    while True:
        if not waits and not budget.room_for_a_page():
            handed = await ctx.step.run(f"hand-over-after-page-{page - 1}", run.hand_over, page - 1)
            if not handed["handed_over"]:  # cancelled meanwhile
                return {"status": handed["status"], "page": page - 1}
            return {"status": "handed_over", "pages": page - 1, "rows": rows}
        step_id = f"fetch-page-{page}" + (f"-retry-{waits}" if waits else "")
        budget.took()
        try:
            outcome = await ctx.step.run(step_id, run.fetch_and_store, page, cursor, rows)
        except inngest.StepError as exc:
            message = f"page {page} failed after retries: {exc.message}"
            await ctx.step.run("mark-failed", run.mark_failed, message)
            raise inngest.NonRetriableError(message) from None
        if outcome["status"] == "paused":
            waits += 1
            if not config.auto_resume or waits > MAX_AUTO_RESUMES:
                return {"status": "paused", "page": page, "resume_after": outcome["resume_after"]}
            budget.took(2)  # the sleep and the unpause
            await ctx.step.sleep_until(
                f"wait-rate-limit-{page}-{waits}",
                dt.datetime.fromisoformat(outcome["resume_after"]),
            )

            async def unpause() -> bool:
                return await repo.unpause(data.query_id, ctx.run_id) is not None

            if not await ctx.step.run(f"resume-page-{page}-{waits}", unpause):
                # the user resumed it meanwhile: a new run owns the query now
                return {"status": "paused", "skipped": "query taken over", "page": page}
            continue
        if outcome["status"] != "stored":
            return {"status": outcome["status"], "page": page}
        rows = outcome["rows"]
        ctx.logger.info("query %s: page %d stored, %d rows", data.query_id, page, rows)
        if outcome["done"]:
            return {"status": "completed", "pages": page, "rows": rows}
        cursor, waits = outcome["next_cursor"], 0
        if delay_s > 0:
            budget.took()
            await ctx.step.sleep(f"delay-after-page-{page}", dt.timedelta(seconds=delay_s))
        page += 1
