"""`GET /api/inngest/monitoring` (usage, quota and cost), its runs (`.../monitoring/runs`,
`.../monitoring/runs/{runId}`) and `GET /metrics` (Prometheus).

`/metrics` is open unless `METRICS_TOKEN` is set; then it needs `Authorization: Bearer <token>`
(Prometheus: `authorization: {credentials: ...}` in the scrape config).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from inngest_app.auth import Caller
from inngest_app.inputs import Line
from inngest_app.monitoring.runs import (
    RunPath,
    RunsParameterError,
    RunsQuery,
    get_run,
    list_runs,
    resolve_runs_query,
    scope_runs,
    single_valued,
)
from inngest_app.monitoring.stats import (
    PARAMETERS,
    StatsParameterError,
    parse_stats_query,
    run_stats,
    scope_for,
)
from inngest_app.repos.executions import ExecutionsRepo
from inngest_app.repos.monitoring_runs import RunsRepo
from inngest_app.routes.api import Operation, api_route, path_of, public_route, query_of
from inngest_app.serve import error_response
from inngest_app.services import Services

logger = logging.getLogger(__name__)
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
Param = Annotated[Line, StringConstraints(max_length=255)]


def routes(services: Services) -> list[BaseRoute]:
    """The stats route, and the metrics route when monitoring is on."""

    async def stats(request: Request, caller: Caller) -> Response:
        now = dt.datetime.now(dt.UTC)
        try:
            query = scope_for(caller, parse_stats_query(request.query_params, now=now))
        except StatsParameterError as exc:
            field = str(exc).split(":", 1)[0]
            return error_response(
                400, "invalid_parameter", str(exc), field=field if field in PARAMETERS else None
            )
        body = await run_stats(
            ExecutionsRepo(services.transport),
            services.settings,
            query,
            admin=caller.is_admin,
            now=now,
            runs=RunsRepo(services.transport),
        )
        registered = {fn.get_id() for fn in getattr(request.app.state, "functions", [])}
        body["functions"] = sorted(registered | {f["functionId"] for f in body["byFunction"]})
        return JSONResponse(body)

    async def runs(request: Request, caller: Caller) -> Response:
        """A page of recorded runs, newest first (keyset-paged; a user's own only)."""
        try:
            # the declared model has parsed the query; repeats it cannot see are refused here
            single_valued(request.query_params.multi_items())
            query = resolve_runs_query(query_of(request, RunsQuery), now=dt.datetime.now(dt.UTC))
        except RunsParameterError as exc:
            return error_response(400, "invalid_parameter", str(exc), field=exc.field)
        body = await list_runs(
            RunsRepo(services.transport), services.settings, scope_runs(caller, query)
        )
        return JSONResponse(body)

    async def run(request: Request, caller: Caller) -> Response:
        """One recorded run; 404 when unknown or (for a user) someone else's."""
        path = path_of(request, RunPath)
        body = await get_run(
            RunsRepo(services.transport),
            services.settings,
            path.run_id,
            user_id=None if caller.is_admin else caller.user_id,
        )
        if body is None:
            return error_response(404, "not_found", "no such run", field="runId")
        return JSONResponse(body)

    async def metrics(request: Request) -> Response:
        token = services.settings.metrics_token
        if token is not None:
            offered = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(offered.encode(), token.get_secret_value().encode()):
                return error_response(
                    401, "unauthorized", "send Authorization: Bearer <METRICS_TOKEN>"
                )
        recorder = services.recorder
        if recorder is None:
            return error_response(404, "not_found", "monitoring is disabled")
        return Response(recorder.metrics.render(), media_type=PROMETHEUS_TEXT)

    tag = "monitoring"
    return [
        api_route(
            services,
            "GET",
            "/api/inngest/monitoring",
            stats,
            Operation("Runs, steps, durations, cost and quota", tag, query=StatsParams),
        ),
        api_route(
            services,
            "GET",
            "/api/inngest/monitoring/runs",
            runs,
            Operation("Recorded runs, newest first (keyset-paged)", tag, query=RunsQuery),
        ),
        api_route(
            services,
            "GET",
            "/api/inngest/monitoring/runs/{runId}",
            run,
            Operation(
                "One recorded run",
                tag,
                params=RunPath,
                params_status=400,
                query=NoQuery,
                errors={404: "no such run (or another user's)"},
            ),
        ),
        public_route(
            "GET",
            "/metrics",
            metrics,
            Operation(
                "Prometheus metrics",
                tag,
                auth=False,
                media_type=PROMETHEUS_TEXT,
                errors={401: "METRICS_TOKEN required", 404: "monitoring is disabled"},
            ),
        ),
    ]


class StatsParams(BaseModel):
    """The query of `GET /api/inngest/monitoring` (dates: ISO 8601 dates or times, UTC)."""

    model_config = ConfigDict(extra="forbid")

    startDate: Param | None = None  # noqa: N815 (the API's camelCase)
    endDate: Param | None = None  # noqa: N815
    functionId: Param | None = None  # noqa: N815
    userId: Param | None = None  # noqa: N815


class NoQuery(BaseModel):
    """A route that takes no query parameters: any is refused, naming it."""

    model_config = ConfigDict(extra="forbid")
