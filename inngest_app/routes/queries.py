"""The query API: start, watch (JSON or server-sent events), page through results, resume, cancel.

Callers authenticate as in the monitoring API (Supabase JWT or the admin key); a user sees only
their own queries (anyone else's is a 404, so ids leak nothing).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import inngest
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from functions.queries import QUERY_CANCELLED, QUERY_REQUESTED
from inngest_app.auth import Caller
from inngest_app.outbound import OutboundRefused, check_headers, check_url
from inngest_app.queries.config import HttpJsonSource, QueryConfig
from inngest_app.queries.credentials import CredentialRefused, authorize
from inngest_app.queries.limits import cap_violation
from inngest_app.repos.queries import QueriesRepo, Query
from inngest_app.routes.api import (
    ApiRoute,
    Method,
    Operation,
    api_route,
    body_of,
    path_of,
    query_of,
)
from inngest_app.routes.query_models import (
    QueryPath,
    QueryView,
    ResultsPage,
    ResultsQuery,
    RunQuery,
)
from inngest_app.routes.query_views import CountedStream, present, progress
from inngest_app.serve import error_response
from inngest_app.services import Services

logger = logging.getLogger(__name__)

Handler = Callable[[Request, Caller, QueriesRepo], Awaitable[Response]]


def routes(services: Services) -> list[BaseRoute]:
    """The query API routes."""

    async def own_query(request: Request, caller: Caller, repo: QueriesRepo) -> Query | Response:
        query = await repo.get(path_of(request, QueryPath).query_id)
        if query is None or not (caller.is_admin or caller.user_id == query.user_id):
            return error_response(404, "not_found", "no such query")
        return query

    async def send(name: str, data: dict[str, Any], event_id: str) -> None:
        await services.inngest.send(inngest.Event(name=name, data=data, id=event_id))

    async def start(repo: QueriesRepo, query: Query) -> Response:
        event_id = f"query-{query.id}-{int(time.time() * 1000)}"
        try:
            await send(
                QUERY_REQUESTED, {"query_id": str(query.id), "userId": query.user_id}, event_id
            )
        except Exception as exc:  # the event API is down: leave the query resumable
            logger.error("could not send %s for query %s: %s", QUERY_REQUESTED, query.id, exc)
            await repo.fail(
                query.id,
                None,
                error="could not reach Inngest to start the query",
                code="dispatch_failed",
                retriable=True,
            )
            return error_response(503, "dispatch_failed", "could not start the query; resume it")
        return JSONResponse(present(query), status_code=202)

    def refusal(config: QueryConfig, caller: Caller, *, caps: bool = True) -> Response | None:
        """Why this caller may not run `config` (caps, credential binding, a refused URL)."""
        settings = services.settings
        over = cap_violation(config, settings) if caps else None
        if over is not None:
            return error_response(400, "invalid_config", over, field=over.split(":", 1)[0])
        if config.credential:
            try:
                authorize(
                    settings,
                    config.credential,
                    config.source,
                    user_id=caller.user_id,
                    is_admin=caller.is_admin,
                )
            except CredentialRefused as exc:
                return error_response(exc.status, exc.code, exc.message, field="credential")
        if isinstance(config.source, HttpJsonSource):
            try:  # literal addresses and headers now; names are checked once resolved
                check_url(
                    httpx.URL(str(config.source.url)),
                    allow_private=settings.query_allow_private_networks,
                )
                check_headers(config.source.headers)
            except OutboundRefused as exc:
                return error_response(400, exc.code, f"source: {exc.message}", field="source")
        return None

    def too_many() -> Response:
        limit = services.settings.query_max_running_per_user
        return error_response(
            429, "too_many_queries", f"at most {limit} queries may run at once per user"
        )

    async def run(request: Request, caller: Caller, repo: QueriesRepo) -> Response:
        config = body_of(request, RunQuery)
        user_id = caller.user_id
        if config.user_id is not None:
            if not caller.is_admin and config.user_id != caller.user_id:
                return error_response(
                    403, "forbidden", "you may only start your own queries", field="userId"
                )
            user_id = config.user_id
        if user_id is None:
            return error_response(
                400, "invalid_body", "userId: required for admin callers", field="userId"
            )
        refused = refusal(config, caller)
        if refused is not None:
            return refused
        created = await repo.create_limited(
            user_id=user_id,
            config=config.model_dump(mode="json", exclude={"user_id"}),
            max_pages=config.max_pages,
            max_rows=config.max_rows,
            max_active=services.settings.query_max_running_per_user,
        )
        if created is None:
            return too_many()
        return await start(repo, created)

    async def status(request: Request, caller: Caller, repo: QueriesRepo) -> Response:
        query = await own_query(request, caller, repo)
        return query if isinstance(query, Response) else JSONResponse(present(query))

    async def results(request: Request, caller: Caller, repo: QueriesRepo) -> Response:
        query = await own_query(request, caller, repo)
        if isinstance(query, Response):
            return query
        params = query_of(request, ResultsQuery)
        page = await repo.results(query.id, after=params.after, limit=params.limit)
        return JSONResponse(page.model_dump(mode="json"))

    async def resume(request: Request, caller: Caller, repo: QueriesRepo) -> Response:
        query = await own_query(request, caller, repo)
        if isinstance(query, Response):
            return query
        try:  # the binding is checked again (it may have changed); caps apply in the run
            refused = refusal(QueryConfig.model_validate(query.config), caller, caps=False)
        except ValidationError:
            refused = None  # a config stored before a change: its run says what is wrong
        if refused is not None:
            return refused
        resumed = await repo.resume_limited(
            query.id, max_active=services.settings.query_max_running_per_user
        )
        if resumed.limited:
            return too_many()
        if resumed.query is None:
            return error_response(409, "not_resumable", f"a {query.status} query cannot resume")
        return await start(repo, resumed.query)

    async def cancel(request: Request, caller: Caller, repo: QueriesRepo) -> Response:
        query = await own_query(request, caller, repo)
        if isinstance(query, Response):
            return query
        cancelled = await repo.cancel(query.id)
        if cancelled is None:
            return error_response(409, "not_cancellable", f"the query is already {query.status}")
        try:
            await send(QUERY_CANCELLED, {"query_id": str(query.id)}, f"query-{query.id}-cancel")
        except Exception as exc:  # the status is already cancelled: no page will be stored
            logger.error("could not send %s for query %s: %s", QUERY_CANCELLED, query.id, exc)
        return JSONResponse(present(cancelled))

    open_streams: dict[str, int] = {}  # progress streams open per caller, in this process

    async def stream(request: Request, caller: Caller, repo: QueriesRepo) -> Response:
        query = await own_query(request, caller, repo)
        if isinstance(query, Response):
            return query
        who = caller.user_id or "<admin>"
        cap = services.settings.query_streams_per_user
        if open_streams.get(who, 0) >= cap:
            return error_response(
                429, "too_many_streams", f"at most {cap} progress streams at a time per user"
            )
        open_streams[who] = open_streams.get(who, 0) + 1

        def release() -> None:
            open_streams[who] -= 1
            if not open_streams[who]:
                del open_streams[who]

        # A stream outlives no token: it ends when the caller's token expires.
        token_left = None if caller.expires_at is None else caller.expires_at - time.time()
        return CountedStream(
            release,
            progress(repo, query, token_left_s=token_left),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    def declare(method: Method, path: str, handler: Handler, op: Operation) -> ApiRoute:
        async def with_repo(request: Request, caller: Caller) -> Response:
            return await handler(request, caller, QueriesRepo(services.transport))

        return api_route(services, method, f"/api/queries{path}", with_repo, op)

    tag = "queries"
    busy = {429: "too many queries running", 503: "Inngest unreachable: resume it later"}
    return [
        declare(
            "POST",
            "/run",
            run,
            Operation(
                "Start a paginated query",
                tag,
                ok=202,
                response=QueryView,
                body=RunQuery,
                body_code="invalid_config",
                links={
                    name: (
                        method,
                        f"/api/queries/{{query_id}}{tail}",
                        {"query_id": "$response.body#/id"},
                    )
                    for name, method, tail in (
                        ("status", "GET", ""),
                        ("results", "GET", "/results"),
                        ("cancel", "POST", "/cancel"),
                        ("resume", "POST", "/resume"),
                    )
                },
                errors={403: "another user's query", **busy},
            ),
        ),
        declare(
            "GET",
            "/{query_id}",
            status,
            Operation("Read a query's status", tag, response=QueryView, params=QueryPath),
        ),
        declare(
            "GET",
            "/{query_id}/results",
            results,
            Operation(
                "Page through a query's rows",
                tag,
                response=ResultsPage,
                params=QueryPath,
                query=ResultsQuery,
            ),
        ),
        declare(
            "POST",
            "/{query_id}/resume",
            resume,
            Operation(
                "Resume a paused or retriably failed query",
                tag,
                ok=202,
                response=QueryView,
                params=QueryPath,
                errors={409: "not resumable", **busy},
            ),
        ),
        declare(
            "POST",
            "/{query_id}/cancel",
            cancel,
            Operation(
                "Cancel a query",
                tag,
                response=QueryView,
                params=QueryPath,
                errors={409: "already over"},
            ),
        ),
        declare(
            "GET",
            "/{query_id}/stream",
            stream,
            Operation(
                "Progress as server-sent events",
                tag,
                media_type="text/event-stream",
                params=QueryPath,
                errors={429: "too many streams"},
            ),
        ),
    ]
