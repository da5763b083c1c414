"""`execute-query`: fetch a query's pages, one durable step a page, a free sleep between pages.

Guards against a double run: the platform's concurrency limit of 1 keyed by query id, and a
compare-and-set on the query's status (`claim`) in the database. Each page step fetches and then
stores rows + checkpoint in one SQL call, so a crash between fetch and commit repeats the fetch
and counts nothing twice. Failures are raised from inside the step so the platform's retries
really happen; what a failure means for the query (pause, fail, retry) is decided by
`inngest_app.queries.fetch.classify`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import inngest
from pydantic import AliasChoices, Field, ValidationError

from inngest_app.events import (
    EventPayload,
    TerminalEvent,
    describe_validation_error,
    parse_event,
)
from inngest_app.queries.config import GoogleSearchSource, QueryConfig
from inngest_app.queries.credentials import CredentialRefused, authorize
from inngest_app.queries.fetch import (
    DEFAULT_PAUSE_S,
    SHORT_RETRY_AFTER_S,
    RateLimited,
    SourceClient,
)
from inngest_app.queries.limits import page_delay_s, run_caps
from inngest_app.queries.slices import MAX_AUTO_RESUMES, SliceBudget, handover_event_id
from inngest_app.queries.sources import SourceError, build_source
from inngest_app.repos.queries import Claim, QueriesRepo
from inngest_app.services import Services

QUERY_REQUESTED = "query/execute.requested"
QUERY_CANCELLED = "query/execute.cancelled"
# The query id of the triggering event, whichever key its sender used (the seed apps send queryId)
QUERY_ID_OF_EVENT = "(has(event.data.query_id) ? event.data.query_id : event.data.queryId)"
MAX_SHORT_RATE_LIMIT_RETRIES = 2  # then a 429 pauses the query even if it asked for little


class QueryRequested(EventPayload):
    """Data of `query/execute.requested` (`queryId`, as the seed apps send it, works too)."""

    query_id: uuid.UUID = Field(validation_alias=AliasChoices("query_id", "queryId"))
    user_id: str | None = Field(None, alias="userId")
    # set on a continuation event: the token the previous run handed the query over with
    handover: str | None = Field(None, max_length=200)


class QueryCancelled(EventPayload):
    """Data of `query/execute.cancelled`."""

    query_id: uuid.UUID


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def build(services: Services) -> list[inngest.Function[Any]]:
    """The query executor, bound to `services`."""

    async def mark_run_failed(ctx: inngest.Context) -> None:
        """A run that failed for good outside a page step (claim, config) leaves its query
        `failed` and resumable, never stuck `pending` or `running`."""
        failure = parse_event(TerminalEvent, ctx.event.data, event=ctx.event.name)
        try:
            original = failure.event.get("data", {})
            parsed = uuid.UUID(str(original.get("query_id") or original.get("queryId")))
        except ValueError:
            return  # the run never named a valid query: nothing to mark
        error = failure.error
        message = f"run failed: {(error and error.message) or 'unknown error'}"

        async def mark() -> None:
            await QueriesRepo(services.transport).fail(
                parsed,
                failure.run_id,
                error=message,
                code="run_failed",
                retriable=True,
            )

        await ctx.step.run("mark-query-failed", mark)

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
        data = parse_event(QueryRequested, ctx.event.data, event=QUERY_REQUESTED)
        repo = QueriesRepo(services.transport)

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
        settings = services.settings
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
                        data.query_id,
                        ctx.run_id,
                        error=refusal,
                        code=refusal_code,
                        retriable=False,
                    )

                await ctx.step.run("refuse-credential", refuse)
                raise inngest.NonRetriableError(refusal) from None
        secret = credential.secret if credential else None
        source = build_source(config.source, credential=secret)
        # Google's key travels as a parameter (the preset adds it); others get a header
        authorization = None if isinstance(config.source, GoogleSearchSource) else secret
        bound_hosts = credential.hosts if credential else None
        client = SourceClient(
            services.outbound,
            max_bytes=settings.query_max_response_bytes,
            deadline_s=settings.query_request_deadline_s,
        )
        delay_s = page_delay_s(config, settings)
        max_pages, max_rows = run_caps(settings, max_pages=query.max_pages, max_rows=query.max_rows)

        async def fetch_and_store(page: int, cursor: Any, rows_before: int) -> dict[str, Any]:
            try:
                fetched = await client.fetch(
                    source,
                    cursor,
                    authorization=authorization,
                    now=_now(),
                    bound_hosts=bound_hosts,
                )
            except RateLimited as limited:
                wait_s = limited.retry_after_s
                if (
                    wait_s is not None
                    and wait_s <= SHORT_RETRY_AFTER_S
                    and ctx.attempt < MAX_SHORT_RATE_LIMIT_RETRIES
                ):
                    raise inngest.RetryAfterError(
                        f"rate limited on page {page}", dt.timedelta(seconds=wait_s)
                    ) from None
                resume_after = _now() + dt.timedelta(seconds=wait_s or DEFAULT_PAUSE_S)
                await repo.pause(
                    data.query_id,
                    ctx.run_id,
                    error=f"rate limited on page {page}",
                    code="rate_limited",
                    resume_after=resume_after,
                )
                return {"status": "paused", "resume_after": resume_after.isoformat()}
            except SourceError as exc:
                # a request over its total deadline may be resumed by hand; the rest is final
                await repo.fail(
                    data.query_id,
                    ctx.run_id,
                    error=str(exc),
                    code=exc.code,
                    retriable=exc.code == "deadline",
                )
                raise inngest.NonRetriableError(f"page {page}: {exc}") from None
            # maxRows: the page that reaches it is the last, and rows past it are not kept
            remaining = max_rows - rows_before
            last = (
                fetched.next_cursor is None or page >= max_pages or len(fetched.rows) >= remaining
            )
            stored = await repo.store_page(
                data.query_id,
                ctx.run_id,
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

        async def hand_over(pages_done: int) -> dict[str, Any]:
            handed = await repo.hand_over(data.query_id, ctx.run_id, pages=pages_done)
            if handed.handed_over:  # a retried step sends the same id: one continuation run
                continuation = {
                    "query_id": str(data.query_id),
                    "userId": query.user_id,
                    "handover": handed.token,
                }
                await services.inngest.send(
                    inngest.Event(
                        name=QUERY_REQUESTED,
                        id=handover_event_id(data.query_id, pages_done),
                        data=continuation,
                    )
                )
            return {"handed_over": handed.handed_over, "status": handed.query.status}

        page = query.pages_completed + 1
        cursor = query.next_cursor if query.pages_completed else source.first_cursor()
        rows = query.rows_inserted
        waits = 0  # long rate limits waited out on the current page (auto-resume)
        budget = SliceBudget(settings.query_slice_steps)
        while True:
            if not waits and not budget.room_for_a_page():
                handed = await ctx.step.run(f"hand-over-after-page-{page - 1}", hand_over, page - 1)
                if not handed["handed_over"]:  # cancelled meanwhile
                    return {"status": handed["status"], "page": page - 1}
                return {"status": "handed_over", "pages": page - 1, "rows": rows}
            step_id = f"fetch-page-{page}" + (f"-retry-{waits}" if waits else "")
            budget.took()
            try:
                outcome = await ctx.step.run(step_id, fetch_and_store, page, cursor, rows)
            except inngest.StepError as exc:
                message = f"page {page} failed after retries: {exc.message}"

                async def mark_failed(message: str) -> None:
                    await repo.fail(
                        data.query_id,
                        ctx.run_id,
                        error=message,
                        code="source_unavailable",
                        retriable=True,
                    )

                await ctx.step.run("mark-failed", mark_failed, message)
                raise inngest.NonRetriableError(message) from None
            if outcome["status"] == "paused":
                waits += 1
                if not config.auto_resume or waits > MAX_AUTO_RESUMES:
                    return {
                        "status": "paused",
                        "page": page,
                        "resume_after": outcome["resume_after"],
                    }
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

    return [execute_query]
